"""Many redeem/accrue requests in one task: reading and validating rows (``rows``), sending
them exactly once (``sender``), the durable progress record a retry resumes from
(``progress``), and what the run reports (``results``). The operators are in
:mod:`airflow_provider_altcraft.operators.batch`."""
