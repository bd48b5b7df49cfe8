"""The DAG files the tests run, as real modules (ruff and ``mypy --strict`` check them).

A test does not import them: ``tests.dagrun.load_test_dag`` copies one into the test dags
folder (Airflow 3's ``dag.test()`` re-parses that folder) and loads the DAG from the copy. A
DAG that a test varies takes the variation from ``params`` / ``dag_run.conf``, from a family
of DAGs in one module, or from a JSON the test writes beside the copy before parsing.
"""
