"""Batch operators: many redeem/accrue requests in one task, fast and exactly once.

How a run goes:

1. Every row is validated in one streaming pass, before any HTTP call; all bad rows are
   reported together (row number, column, problem). ``invalid_rows="fail"`` stops here.
2. The source is read again and the valid rows are sent by a thread pool over ONE hook (one
   keep-alive session; a 429/503 Retry-After pauses every thread, an overload answer without
   one trims the hook's in-flight limit). At most ``concurrency`` requests are in flight; the
   pool has twice as many workers, so a row waiting out its backoff never idles a place.
   Workers pull rows from the stream, so memory stays flat.
3. Every row gets a deterministic ``transaction_eid`` (its own column, a uuid5 of its row key,
   or a uuid5 of its position in this task instance). When that eid may already be in
   Altcraft (a retried task, a row key or eid from the input) the member's transactions are
   read once per member and matching rows are reported as already present, not sent.
4. A per-row results file and a small JSON-safe summary (the XCom) are written.

Files may live on any storage Airflow's object-storage layer reaches (``s3://``, ``gs://``,
``file://`` ...; see :mod:`airflow_provider_altcraft.storage` and docs/storage.md): the rows
file is streamed from it, the results file is written locally and uploaded when the task
ends (a failed try's too). The progress record is appended to while rows are sent, which
object stores cannot do: it is always a local (or shared-filesystem) file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_altcraft import storage
from airflow_provider_altcraft.batch.lineage import batch_lineage
from airflow_provider_altcraft.batch.progress import DEFAULT_WINDOW, BatchProgress, ProgressLocked
from airflow_provider_altcraft.batch.results import (
    RESULT_COLUMNS,
    BatchSummary,
    Progress,
    ResultsWriter,
    RowResult,
    report_metrics,
)
from airflow_provider_altcraft.batch.rows import (
    BATCH_OPERATIONS,
    CONSTANT_FIELDS,
    BatchOperation,
    RowProblem,
    RowSource,
    RowSpec,
    chunk_rows,
    position_namespace,
    valid_rows,
    validate_rows,
)
from airflow_provider_altcraft.batch.sender import EID_INDEX_MEMBERS, EidIndex, send_rows
from airflow_provider_altcraft.compat import AirflowException, AirflowFailException, Context
from airflow_provider_altcraft.exceptions import (
    AltcraftAuthError,
    AltcraftConfigError,
    AltcraftValidationError,
)
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.operators.base import (
    SINGLE_ARGUMENT_CHECKS,
    AltcraftBaseOperator,
    check_reachable,
    is_dynamic,
)
from airflow_provider_altcraft.validation import check_output_path, parse_bool

if TYPE_CHECKING:
    from airflow_provider_altcraft.lineage import DatasetId
    from airflow_provider_altcraft.storage import StoragePath

# The batch package's names stay importable from here (their home before batch/).
__all__ = [
    "EID_INDEX_MEMBERS",
    "RESULT_COLUMNS",
    "AltcraftBatchAccruePointsOperator",
    "AltcraftBatchPointsOperator",
    "AltcraftBatchRedeemPointsOperator",
    "BatchSummary",
    "EidIndex",
    "Progress",
    "ResultsWriter",
    "RowResult",
    "chunk_rows",
    "send_rows",
]

#: Invalid rows listed in the task's error message (all of them are in the results file).
PROBLEMS_IN_MESSAGE = 20


class AltcraftBatchPointsOperator(AltcraftBaseOperator):
    """Redeem and/or accrue points for many rows in one task, each exactly once.

    Give exactly one source of rows: ``rows``, ``rows_file`` or ``sql``. Files may be local
    paths or object-storage URIs (see docs/storage.md).

    :param operation: ``"redeem"``, ``"accrue"`` or ``"by_sign"`` (a negative amount redeems
        its absolute value, a positive one accrues: signed historical adjustments). The
        Redeem and Accrue subclasses set it.
    :param rows: a list of dicts (templated, or an XComArg), keys named as the single
        operator's arguments (``email``, ``phone``, ``profile_id``, ``field_name``,
        ``field_value``, ``matching``, ``amount``, ``transaction_eid``, ``created_at``,
        ``external_data``, ``promotion_id`` ...).
    :param rows_file: a CSV (header row) or JSON-lines file (templated): a local path, a
        ``file://`` URI, or an object-storage URI that Airflow's ``ObjectStoragePath`` opens
        (``s3://aws_default@bucket/rows.csv``: the connection in the user part); also an
        ``ObjectStoragePath``. Streamed, read twice (validation, then sending), never held
        in memory whole.
    :param rows_format: ``"csv"`` or ``"jsonl"``; default from the file name's suffixes
        (``.jsonl``, ``.ndjson`` or ``.json`` read as JSON lines; a URI's path only).
    :param sql: a query whose columns are row fields (templated; a ``.sql`` file too), run on
        ``sql_conn_id``; fetched in pages (a server-side cursor on PostgreSQL).
    :param sql_conn_id: the id of any common.sql connection.
    :param sql_parameters: parameters of the query (templated).
    :param row_start: first row number to send (1-based, templated; see :func:`chunk_rows`).
    :param row_stop: row number to stop before (templated).
    :param column_mapping: input column -> row field, e.g. ``{"points": "amount"}``.
    :param row_key_column: a column that identifies a row across runs: its eid is a uuid5 of
        (dag_id, task_id, key), so a re-run by any DAG run finds it. Without it, eids derive
        from the row's position and the task instance (dag_id, task_id, run_id, map_index).
    :param loyalty_program_id: the loyalty program, for every row (a row's own value wins;
        so for every per-row constant below, all templated).
    :param points_currency_iid: the currency's internal id.
    :param points_currency_eid: the currency's external id (default: the connection's
        ``default_points_currency_eid``).
    :param promotion_id: the promotion of the transactions.
    :param is_temp: make temporary transactions, held until commit or rollback.
    :param temp_timeout_sec: seconds until Altcraft rolls a temporary transaction back.
    :param created_at: when the transactions happened: RFC3339 or an aware datetime.
    :param external_data: a JSON object (or its text) stored with each transaction.
    :param matching: how rows name members: ``email``, ``phone``, ``profile_id`` or
        ``custom``.
    :param activation_date: when accrued points become active.
    :param expiration_date: when accrued points expire.
    :param concurrency: requests in flight at once (threads over one keep-alive session),
        1 to 256.
    :param max_requests_per_second: client-side cap shared by all threads (default: the
        connection's ``max_requests_per_second``).
    :param check_existing: look eids up before sending. Default: on a retried task every row;
        otherwise rows whose eid came from the input (a row key or an eid column).
    :param invalid_rows: ``"fail"`` (default; nothing is sent if any row is bad) or ``"skip"``.
    :param failed_rows: ``"fail"`` (default: the task fails after every row was tried if any
        failed), ``"ignore"``, or an int: the most failed rows tolerated.
    :param results_path: per-row results, CSV or ``.jsonl`` (templated): a local path or an
        object-storage URI. A URI's file is written to a private local file and uploaded
        when the task ends, a failed try's too. Default:
        ``<results_base>/batch/<dag_id>/<run_id>/<task_id>[_<map_index>].csv``, where
        ``results_base`` is the ``[altcraft] results_base`` setting
        (``AIRFLOW__ALTCRAFT__RESULTS_BASE``; point it at storage every worker sees), else
        ``<temp dir>/altcraft``. A path given here must not hold another run's file.
    :param progress_interval_sec: seconds between progress log lines.
    :param progress_path: the durable progress record, appended to while rows are sent, so
        it must be a local path (or on a filesystem every worker mounts), never an object
        store. Default: the results path plus ``.progress`` when the results are local;
        under this worker's temp directory when they are remote (then only a retry on the
        same worker resumes from it; one on another worker looks every row up, which keeps
        exactly-once). A retry that sees the record skips rows recorded as done without
        asking Altcraft and looks up only rows that may have been in flight at a crash.
        ``""`` turns it off (a retry then looks every row up).
    :param progress_window: rows that may be in flight without a durable result: the most
        lookups a retry makes after a crash (plus rows the crashed try reported failed).
    :param altcraft_conn_id: the Airflow connection (type ``altcraft``), templated.
    :return: the summary (XCom): ``rows``, ``sent``, ``redeemed``, ``accrued``,
        ``already_present``, ``unknown``, ``unknown_amount``, ``failed``,
        ``skipped_invalid``, ``total_amount``, ``total_redeemed``, ``total_accrued``
        (amounts as strings), ``duration_sec`` and ``results_path`` (text; a URI's password
        hidden).

    With the OpenLineage provider installed, the task reports its input (the rows file, or
    the tables the query reads), its outputs (the Altcraft loyalty ledger, the results file)
    and a run facet ``altcraft_batch`` of counts. Each try sends the ``altcraft.batch.*``
    metrics once (docs/metrics.md).
    """

    operation: ClassVar[BatchOperation | None] = None
    template_fields: Sequence[str] = (
        "altcraft_conn_id", "rows", "rows_file", "sql", "sql_parameters", "row_start",
        "row_stop", "results_path", "progress_path", *CONSTANT_FIELDS,
    )  # fmt: skip
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "rows": "json"}

    def __init__(
        self,
        *,
        operation: BatchOperation | None = None,
        rows: Sequence[Mapping[str, Any]] | str | None = None,
        rows_file: StoragePath | None = None,
        rows_format: str | None = None,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        sql_parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        row_start: int | str | None = None,
        row_stop: int | str | None = None,
        column_mapping: Mapping[str, str] | None = None,
        row_key_column: str | None = None,
        loyalty_program_id: int | str | None = None,
        points_currency_iid: int | str | None = None,
        points_currency_eid: str | None = None,
        promotion_id: str | None = None,
        is_temp: bool | str | None = None,
        temp_timeout_sec: int | str | None = None,
        created_at: str | None = None,
        external_data: dict[str, Any] | str | None = None,
        matching: str | None = None,
        activation_date: str | None = None,
        expiration_date: str | None = None,
        concurrency: int = 8,
        max_requests_per_second: float | None = None,
        check_existing: bool | None = None,
        invalid_rows: str = "fail",
        failed_rows: str | int = "fail",
        results_path: StoragePath | None = None,
        progress_interval_sec: float = 10.0,
        progress_path: str | None = None,
        progress_window: int = DEFAULT_WINDOW,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        chosen = operation if operation is not None else type(self).operation
        if chosen not in BATCH_OPERATIONS:
            raise AltcraftValidationError(
                "operation",
                f"{chosen!r} is not an operation",
                "use 'redeem', 'accrue' or 'by_sign'",
            )
        self.batch_operation: BatchOperation = chosen  # type: ignore[assignment]
        self.rows = rows
        self.rows_file = rows_file
        self.rows_format = rows_format
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.sql_parameters = sql_parameters
        self.row_start = row_start
        self.row_stop = row_stop
        self.column_mapping = dict(column_mapping or {})
        self.row_key_column = row_key_column
        self.loyalty_program_id = loyalty_program_id
        self.points_currency_iid = points_currency_iid
        self.points_currency_eid = points_currency_eid
        self.promotion_id = promotion_id
        self.is_temp = is_temp
        self.temp_timeout_sec = temp_timeout_sec
        self.created_at = created_at
        self.external_data = external_data
        self.matching = matching
        self.activation_date = activation_date
        self.expiration_date = expiration_date
        self.concurrency = concurrency
        self.max_requests_per_second = max_requests_per_second
        self.check_existing = check_existing
        self.invalid_rows = invalid_rows
        self.failed_rows = failed_rows
        self.results_path = results_path
        self.progress_interval_sec = progress_interval_sec
        self.progress_path = progress_path
        self.progress_window = progress_window
        self._check_policies()
        self.check_arguments_at_parse_time()

    def _check_policies(self) -> None:
        if self.check_existing is not None:
            parse_bool(self.check_existing, "check_existing")
        # Static paths are checked now, without any network call (a URI: its form only);
        # templated ones in execute().
        if self.results_path is not None and not is_dynamic(self.results_path):
            storage.check_output(self.results_path, "results_path")
        if self.progress_path and not is_dynamic(self.progress_path):
            self._local_progress_path(self.progress_path)
        if self.invalid_rows not in ("fail", "skip"):
            raise AltcraftValidationError(
                "invalid_rows", f"{self.invalid_rows!r} is not a policy", "use 'fail' or 'skip'"
            )
        failed = self.failed_rows
        if failed not in ("fail", "ignore") and (
            isinstance(failed, bool) or not isinstance(failed, int) or failed < 0
        ):
            raise AltcraftValidationError(
                "failed_rows", f"{failed!r} is not a policy", "use 'fail', 'ignore' or an int >= 0"
            )
        if isinstance(self.concurrency, bool) or not 1 <= self.concurrency <= 256:
            raise AltcraftValidationError(
                "concurrency", f"{self.concurrency!r} is out of range", "use 1 to 256"
            )
        window = self.progress_window
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise AltcraftValidationError(
                "progress_window", f"{window!r} is out of range", "use an int >= 1"
            )
        rate = self.max_requests_per_second
        if rate is not None and (isinstance(rate, bool) or not rate > 0):
            raise AltcraftValidationError(
                "max_requests_per_second", f"{rate!r} is not a rate", "use a number > 0 or None"
            )

    def build(self, values: Mapping[str, Any]) -> tuple[RowSource, dict[str, Any]]:
        """The row source and the constants, checked (rows are checked in execute)."""
        source = RowSource.build(
            rows=values["rows"],
            rows_file=values["rows_file"],
            rows_format=self.rows_format,
            sql=values["sql"],
            sql_conn_id=self.sql_conn_id,
            sql_parameters=values["sql_parameters"],
            row_start=values["row_start"],
            row_stop=values["row_stop"],
        )
        constants = {name: values[name] for name in CONSTANT_FIELDS if values[name] is not None}
        for name, value in constants.items():
            check = SINGLE_ARGUMENT_CHECKS.get(name)
            if check is not None:
                check(value, name)
        return source, constants

    @cached_property
    def hook(self) -> AltcraftHook:
        """One hook for all threads: its keep-alive pool sized to them, this task's rate cap."""
        return AltcraftHook(
            self.altcraft_conn_id,
            pool_maxsize=self.concurrency,
            max_requests_per_second=self.max_requests_per_second,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        source, constants = self.build_for_execute()
        if "points_currency_iid" not in constants and "points_currency_eid" not in constants:
            # Rows without a currency of their own take the connection's default: their
            # exactly-once lookups need one (checked per row before anything is sent).
            try:
                default = self.hook.settings.default_points_currency_eid
            except AltcraftConfigError as exc:
                raise AirflowFailException(str(exc)) from None
            if default is not None:
                constants["points_currency_eid"] = default
        ti = context["ti"]
        map_index = -1 if ti.map_index is None else ti.map_index
        spec = RowSpec(
            operation=self.batch_operation,
            constants=constants,
            column_mapping=self.column_mapping,
            row_key_column=self.row_key_column,
            key_scope=f"{ti.dag_id}\n{ti.task_id}",
            position_namespace=position_namespace(ti.dag_id, ti.task_id, ti.run_id, map_index),
        )
        check_existing = self.check_existing
        if check_existing is None and ti.try_number > 1:
            check_existing = True  # an earlier try may have sent any row
        target = (
            storage.as_text(self.results_path)
            if self.results_path
            else self._default_results_path(ti)
        )
        self._check_results_path(target, ti.try_number)
        progress_path = self._progress_path(target, ti)
        # Messages and the XCom name the results by this text (a URI's password hidden).
        summary = BatchSummary(results_path=storage.display(target))
        self._lineage_results: tuple[str, BatchSummary] | None = (target, summary)
        started = time.monotonic()
        try:
            # A remote results file is written locally and uploaded when the block ends, a
            # failed try's too: its rows say what happened.
            with storage.staged_output(target, "results_path", upload_on_error=True) as local:
                writer = ResultsWriter(str(local))
                try:
                    bad_rows = self._validate(source, spec, summary, writer)
                    self._send(
                        source, spec, bad_rows, summary, writer, check_existing,
                        try_number=ti.try_number, progress_path=progress_path,
                    )  # fmt: skip
                finally:
                    writer.close()
                    summary.duration_sec = time.monotonic() - started
        except AltcraftValidationError as exc:
            if exc.parameter != "results_path":
                raise
            # The upload failed: the rows' fate is in the ledger, a retry finds it there.
            raise AirflowException(
                f"The results could not be stored: {exc}. A retry sends nothing already sent."
            ) from None
        finally:
            report_metrics(summary, self.batch_operation)  # once per try, failed ones too
        result = summary.to_xcom()
        self.log.info("Batch done: %s", result)
        self._apply_failed_policy(summary)
        return result

    def _validate(
        self, source: RowSource, spec: RowSpec, summary: BatchSummary, writer: ResultsWriter
    ) -> set[int]:
        """Validate every row; returns the numbers of the bad ones (fails on policy "fail")."""
        problems: list[RowProblem] = []
        bad_rows: set[int] = set()

        def on_problem(found: RowProblem) -> None:
            if len(problems) < PROBLEMS_IN_MESSAGE:
                problems.append(found)
            bad_rows.add(found.row_number)
            writer.write(
                RowResult(found.row_number, None, None, None, None, "invalid", error=str(found))
            )

        self.log.info("Validating rows from %s", source.describe())
        try:
            summary.rows, summary.valid = validate_rows(source, spec, on_problem)
        except (OSError, ImportError, AltcraftValidationError) as exc:
            # ImportError: the rows file's URI needs a filesystem this worker does not have.
            raise AirflowFailException(f"Cannot read the rows: {exc}") from None
        summary.skipped_invalid = len(bad_rows)
        if bad_rows:
            listed = "\n".join(f"  {found}" for found in problems)
            more = len(bad_rows) - len({found.row_number for found in problems})
            message = (
                f"{len(bad_rows)} of {summary.rows} rows are invalid"
                + (
                    f" (first {len(problems)} problems listed; all in {summary.results_path})"
                    if more
                    else ""
                )
                + f":\n{listed}"
            )
            if self.invalid_rows == "fail":
                raise AirflowFailException(message + "\nNothing was sent (invalid_rows='fail').")
            self.log.warning("%s\nThese rows are skipped (invalid_rows='skip').", message)
        return bad_rows

    def _send(
        self,
        source: RowSource,
        spec: RowSpec,
        bad_rows: set[int],
        summary: BatchSummary,
        writer: ResultsWriter,
        check_existing: bool | None,
        try_number: int = 1,
        progress_path: str | None = None,
    ) -> None:
        if summary.valid == 0:
            return
        progress = self._open_progress(source, spec, progress_path, try_number)
        if progress is not None and progress.resumed and self.check_existing is None:
            check_existing = None  # the record says which rows may have been sent
        hook = self.hook
        try:
            hook.settings  # noqa: B018  # a bad connection fails here, before any thread starts
        except AltcraftConfigError as exc:
            raise AirflowFailException(str(exc)) from None
        self.log.info(
            "Sending %d rows (%s) with %d threads%s",
            summary.valid, self.batch_operation, self.concurrency,
            f", at most {hook.settings.max_requests_per_second}/s"
            if hook.settings.max_requests_per_second else "",
        )  # fmt: skip

        def on_result(result: RowResult) -> None:
            summary.add(result)
            writer.write(result)

        try:
            send_rows(
                hook,
                valid_rows(source, spec, skip=bad_rows),
                concurrency=self.concurrency,
                check_existing=check_existing,
                on_result=on_result,
                on_tick=Progress(self.log, summary.valid, summary),
                tick_seconds=self.progress_interval_sec,
                progress=progress,
            )
        except AltcraftAuthError as exc:
            raise AirflowFailException(str(exc)) from None
        finally:
            hook.close()
            if progress is not None:
                progress.close()
                self.log.info("Progress record %s: %s", progress.path, progress.stats())

    def _progress_path(self, results_target: str, ti: Any) -> str | None:
        """Where the progress record goes (None: turned off with ``progress_path=""``).

        The default sits beside a local results file. Beside a remote one it cannot (object
        stores do not append), so it goes under this worker's temp directory, named after
        the task instance: a retry on the same worker resumes from it; a retry on another
        worker finds none and looks every row up, which still sends each row exactly once.
        """
        if self.progress_path == "":
            return None
        try:
            if self.progress_path is not None:
                return self._local_progress_path(self.progress_path)
            local = storage.local_path(results_target)
            if local is not None:
                path = f"{local}.progress"
            else:
                dag_id, run_id, name = self._instance_parts(ti)
                path = os.path.join(
                    storage.local_base(), "batch-progress", dag_id, run_id, f"{name}.progress"
                )
            check_output_path(path, "progress_path")
        except AltcraftValidationError as exc:
            raise AirflowFailException(f"Invalid argument: {exc}") from None
        return path

    @staticmethod
    def _local_progress_path(path: object) -> str:
        """A given progress path, checked: local (``file://`` included), writable."""
        if storage.is_remote(path):
            raise AltcraftValidationError(
                "progress_path",
                f"{storage.display(path)!r} is in an object store, which cannot append to a "
                "file while rows are sent",
                "pass a local path or one on a filesystem every worker mounts, or leave it "
                "unset (the default stays local)",
            )
        local = str(storage.local_path(path))
        check_output_path(local, "progress_path")
        return local

    def _open_progress(
        self, source: RowSource, spec: RowSpec, path: str | None, try_number: int
    ) -> BatchProgress | None:
        """The durable progress record (None when turned off with ``progress_path=""``)."""
        if path is None:
            return None
        # A path the author gave (or derived from one) may be another run's record; the
        # default is this task instance's own.
        given = self.progress_path or (
            self.results_path and not storage.is_remote(self.results_path)
        )
        if given and try_number <= 1 and os.path.exists(path) and os.path.getsize(path) > 0:
            raise AirflowFailException(
                f"Invalid argument: progress_path: {path!r} already exists, written by another "
                "run; template the path with the run (e.g. '.../{{ run_id }}.progress') or "
                "remove the file"
            )
        fingerprint = "\n".join(
            (str(spec.position_namespace), spec.key_scope, self.batch_operation,
             source.describe(), repr(sorted(self.column_mapping.items())),
             str(self.row_key_column))
        )  # fmt: skip
        try:
            progress = BatchProgress(
                path, fingerprint=fingerprint, window=self.progress_window, resume=try_number > 1
            )
        except ProgressLocked as exc:
            raise AirflowException(str(exc)) from None
        if try_number > 1:
            if progress.resumed:
                self.log.info(
                    "Resuming from %s: %d rows done, mark %d (rows at or past it were never "
                    "sent); only rows below it without a result are looked up",
                    path, len(progress.done), progress.earlier_mark,
                )  # fmt: skip
            else:
                self.log.info("No progress record of an earlier try at %s: every row is "
                              "looked up", path)  # fmt: skip
        return progress

    def _apply_failed_policy(self, summary: BatchSummary) -> None:
        if summary.unknown:
            # No policy tolerates these: they may hold money. The retry looks each one up and
            # sends only what is absent.
            raise AirflowException(
                f"{summary.unknown} of {summary.valid} rows have an unknown outcome (amount "
                f"{summary.unknown_amount}): sent, but the answer was lost and the lookup could "
                f"not tell; details per row in {summary.results_path}. A retry looks them up "
                "and sends only what is missing."
            )
        if not summary.failed or self.failed_rows == "ignore":
            return
        allowed = 0 if self.failed_rows == "fail" else int(self.failed_rows)
        if summary.failed > allowed:
            raise AirflowException(
                f"{summary.failed} of {summary.valid} rows failed (allowed: {allowed}); "
                f"errors per row in {summary.results_path}. A retry sends only what is missing."
            )
        self.log.warning("%d rows failed (allowed: %d)", summary.failed, allowed)

    def _check_results_path(self, path: str, try_number: int) -> None:
        """Before anything is sent: a path that can be written, and no file of another run
        overwritten: on a first try an existing file at a path the author gave is someone
        else's (a retry rewrites its own earlier try's; the default path is this task
        instance's own). A URI's filesystem is opened here, so a scheme or connection this
        worker lacks fails the task before any request."""
        try:
            storage.check_output(path, "results_path")
        except AltcraftValidationError as exc:
            raise AirflowFailException(f"Invalid argument: {exc}") from None
        exists = check_reachable(path, "results_path")
        if self.results_path and try_number <= 1 and exists:
            raise AirflowFailException(
                f"Invalid argument: results_path: {storage.display(path)!r} already exists, "
                "written by another run; template the path with the run (e.g. "
                "'.../{{ run_id }}.csv') or remove the file"
            )

    @staticmethod
    def _instance_parts(ti: Any) -> list[str]:
        """``[dag_id, run_id, task_id[_map_index]]``, safe as path parts."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in ti.run_id)
        suffix = "" if ti.map_index in (None, -1) else f"_{ti.map_index}"
        return [ti.dag_id, safe, f"{ti.task_id}{suffix}"]

    @classmethod
    def _default_results_path(cls, ti: Any) -> str:
        """``<results_base>/batch/<dag_id>/<run_id>/<task_id>[_<map_index>].csv``, where
        ``results_base`` is the ``[altcraft] results_base`` setting (local or a URI every
        worker reaches), else ``<temp dir>/altcraft``."""
        dag_id, run_id, name = cls._instance_parts(ti)
        return storage.join(storage.default_results_base(), "batch", dag_id, run_id, f"{name}.csv")

    # -- OpenLineage (called by the OpenLineage provider when it is installed) ------------------

    def _lineage_inputs(self) -> list[DatasetId]:
        """The rows file, or the tables the query reads (inline rows are no dataset)."""
        from airflow_provider_altcraft import lineage

        if self.rows_file is not None and not is_dynamic(self.rows_file):
            return [lineage.file_dataset(storage.as_text(self.rows_file))]
        if isinstance(self.sql, str) and self.sql_conn_id and not is_dynamic(self.sql):
            return lineage.sql_input_datasets(self.sql, self.sql_conn_id)
        return []

    def get_openlineage_facets_on_start(self) -> Any:
        """Inputs, the Altcraft ledger, and the results file when its path is given."""
        given = self.results_path
        return batch_lineage(
            inputs=self._lineage_inputs(),
            base_url=self._lineage_base_url(),
            results_path=storage.as_text(given) if given and not is_dynamic(given) else None,
            summary=None,
            operation=self.batch_operation,
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs; outputs: the Altcraft ledger and the results file; a run facet of counts
        (``altcraft_batch``: rows, sent, already_present, unknown, failed, skipped_invalid)."""
        ran: tuple[str, BatchSummary] | None = getattr(self, "_lineage_results", None)
        return batch_lineage(
            inputs=self._lineage_inputs(),
            base_url=self._lineage_base_url(),
            results_path=None if ran is None else ran[0],
            summary=None if ran is None else ran[1],
            operation=self.batch_operation,
        )


class AltcraftBatchRedeemPointsOperator(AltcraftBatchPointsOperator):
    """Redeem points for many rows, each exactly once.

    Takes every parameter of :class:`AltcraftBatchPointsOperator` except ``operation``
    (always ``"redeem"``): a row's ``amount`` is the positive number of points to redeem.
    """

    operation = "redeem"


class AltcraftBatchAccruePointsOperator(AltcraftBatchPointsOperator):
    """Accrue points for many rows, each exactly once.

    Takes every parameter of :class:`AltcraftBatchPointsOperator` except ``operation``
    (always ``"accrue"``): a row's ``amount`` is the positive number of points to accrue.
    """

    operation = "accrue"
