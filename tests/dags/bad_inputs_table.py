"""Airflow DAGs with one task per bad argument of the table (tests/operators/bad_inputs.py),
in both rendering modes: as strings, and as native objects (tests/operators/test_bad_inputs.py).

(The words "airflow" and "dag" in this file are what Airflow's safe-mode parsing looks for: the
DAGs themselves are built in bad_inputs.py.)
"""

from __future__ import annotations

from tests.operators.bad_inputs import templated_dag

jinja = templated_dag("bad_inputs_jinja", native=False)
native = templated_dag("bad_inputs_native", native=True)
