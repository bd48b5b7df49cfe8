"""``AltcraftReconcileTransactionsOperator``: Altcraft's ledger against the warehouse's record.

The Altcraft side is an export CSV (a file from the export operator, or an export this task
runs itself); the warehouse side is a table or a query on any Airflow SQL connection
(``common.sql``). Both go to a compare engine (:mod:`airflow_provider_altcraft.reconcile`:
DuckDB, SQLite, or push-down into a PostgreSQL warehouse) in bulk, never held in Python, so
memory stays bounded for tens of millions of rows. The differences go to a CSV report and,
optionally, to a warehouse table.

The export file and the report may be local paths or object-storage URIs
(:mod:`airflow_provider_altcraft.storage`): a remote export is streamed into a private local
copy for the engine, the report is written locally and streamed up whole. The report is the
task's outlet Asset (:mod:`airflow_provider_altcraft.export.assets`); inputs and outputs are
reported to OpenLineage (:mod:`airflow_provider_altcraft.export.lineage`).

Nothing here imports DuckDB or a database driver when a DAG file is parsed.
"""

from __future__ import annotations

import csv
import re
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow_provider_altcraft import storage
from airflow_provider_altcraft.compat import AirflowFailException, Asset, Context
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from airflow_provider_altcraft.export import assets
from airflow_provider_altcraft.export.service import (
    DEFAULT_POLL_INTERVAL,
    DEFAULT_TIMEOUT,
    ExportRequest,
    build_export_request,
    check_wait_arguments,
    export_to_file,
    parse_period,
    resolve_period,
)
from airflow_provider_altcraft.operators.base import (
    AltcraftBaseOperator,
    check_path_argument,
    check_reachable,
    is_dynamic,
)
from airflow_provider_altcraft.periods import Period
from airflow_provider_altcraft.reconcile import (
    DIFFERENCE_CLASSES,
    ENGINES,
    REPORT_COLUMNS,
    BaseReconciler,
    EngineUnavailable,
    open_reconciler,
    resolve_engine,
)
from airflow_provider_altcraft.sql_source import query_pages, sql_hook
from airflow_provider_altcraft.validation import parse_optional_str

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_altcraft.lineage import DatasetId
    from airflow_provider_altcraft.storage import StoragePath

__all__ = ["AltcraftReconcileTransactionsOperator", "WarehouseColumns", "reconcile_report_asset"]

OnDifference = Literal["fail", "warn"]
Engine = Literal["auto", "sqlite", "duckdb", "pushdown"]
#: A plain or schema-qualified SQL name; anything else is refused (names are interpolated).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")
#: Report rows inserted into the report table per executemany().
INSERT_ROWS = 5000
#: Columns of the optional report table: the period, then the CSV report's columns.
REPORT_TABLE_PERIOD = ("period_from", "period_to")
#: The counts (and period) a report's asset event carries in its ``extra``, beside its path.
ASSET_EXTRA_COUNTS = (
    "date_from",
    "date_to",
    "differences",
    *DIFFERENCE_CLASSES,
    "altcraft_rows",
    "warehouse_rows",
    "matched",
    "engine",
)


def _sql_bound(moment: datetime) -> str:
    """A period bound as a SQL parameter: 'YYYY-MM-DD' at midnight, else ISO with a space
    ('YYYY-MM-DD HH:MM:SS+00:00'); both compare right with an ISO-text column (SQLite) and
    are cast to the column's type by PostgreSQL."""
    if moment.time() == time(0):
        return moment.date().isoformat()
    return moment.isoformat(sep=" ")


def _is_identifier(value: object) -> bool:
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None


@dataclass(frozen=True)
class WarehouseColumns:
    """Which warehouse column holds each field (None: the warehouse does not record it).

    ``transaction_type`` None means signed amounts (negative = redeem). ``status`` None skips
    the state comparison. ``created_at`` selects the period in ``table`` mode (required there);
    with ``sql`` it is optional: read when the result has the column (the report shows it for
    ``missing_in_altcraft`` rows). At least one of ``transaction_eid`` / ``transaction_id`` is
    needed to match.
    """

    transaction_eid: str | None = "transaction_eid"
    transaction_id: str | None = "transaction_id"
    amount: str = "amount"
    transaction_type: str | None = "transaction_type"
    status: str | None = "status"
    created_at: str | None = "created_at"

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, str | None] | None) -> WarehouseColumns:
        known = [f.name for f in fields(cls)]
        accepted = f"map some of {', '.join(known)} to column names (or None)"
        mapping = dict(mapping or {})
        unknown = sorted(set(mapping) - set(known))
        if unknown:
            raise AltcraftValidationError("columns", f"unknown field {unknown[0]!r}", accepted)
        for name, column in mapping.items():
            if column is not None and not _is_identifier(column):
                raise AltcraftValidationError(
                    "columns", f"{name!r} maps to {column!r}, not a plain column name", accepted
                )
        if mapping.get("amount", "amount") is None:
            raise AltcraftValidationError("columns", "'amount' is None", "the amount is compared")
        columns = cls(**mapping)  # type: ignore[arg-type]
        if columns.transaction_eid is None and columns.transaction_id is None:
            raise AltcraftValidationError(
                "columns",
                "maps neither transaction_eid nor transaction_id",
                "the transactions are matched on one of them",
            )
        return columns

    def selected(self) -> dict[str, str]:
        """Field → column of the fields read from the warehouse (created_at included)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass(frozen=True)
class ReconcileArguments:
    warehouse_conn_id: str
    table: str | None
    sql: str | None
    parameters: Any
    report_path: StoragePath
    report_table: str | None
    export_path: StoragePath | None
    export: ExportRequest | None
    period: Period | None


#: WarehouseColumns fields in the order the engine loads them (TransactionRow's).
_ROW_FIELDS = ("transaction_id", "transaction_eid", "amount", "transaction_type", "status",
               "created_at")  # fmt: skip


def _field_positions(
    header: Sequence[str], columns: WarehouseColumns, *, table_mode: bool
) -> list[int | None]:
    """Per field (TransactionRow order), its position in the warehouse result (None: the
    warehouse does not record it); fails the task, without retry, for a missing column."""
    names = [name.lower() for name in header]
    wanted = columns.selected()
    if not table_mode and columns.created_at and columns.created_at.lower() not in names:
        del wanted["created_at"]  # optional with `sql`: the query selects the period
    missing = [f"{f} (column {c!r})" for f, c in wanted.items() if c.lower() not in names]
    if missing:
        error = AltcraftValidationError(
            "table" if table_mode else "columns",
            f"the warehouse result has no {', '.join(missing)}; it has {', '.join(names)}",
            "name the columns with `columns`, or alias them in `sql`",
        )
        # A retry reads the same columns: fail now, like any bad argument.
        raise AirflowFailException(f"Invalid argument: {error}")
    position = {field: names.index(column.lower()) for field, column in wanted.items()}
    return [position.get(field) for field in _ROW_FIELDS]


def _field_columns(
    header: Sequence[str], columns: WarehouseColumns, *, table_mode: bool
) -> list[str | None]:
    """Per field, the result's column name as the database spells it (None: not recorded)."""
    positions = _field_positions(header, columns, table_mode=table_mode)
    return [None if position is None else header[position] for position in positions]


def _iter_warehouse(
    hook: DbApiHook, sql: str, parameters: Any, columns: WarehouseColumns, *, table_mode: bool
) -> Iterator[tuple[Any, ...]]:
    """The warehouse's rows through the driver, for a database without a bulk path."""
    with query_pages(hook, sql, parameters, cursor_name="altcraft_reconcile") as (header, pages):
        positions = _field_positions(header, columns, table_mode=table_mode)
        # The values in TransactionRow order; a field the warehouse lacks picks the None
        # appended to each row. The engine converts the values (Decimal, datetime, ...).
        width = len(header)
        pick = itemgetter(*(width if p is None else p for p in positions))
        for page in pages:
            for row in page:
                yield pick((*row, None))


def _describe(connection: Any, sql: str, parameters: Any) -> list[str]:
    """The column names of ``sql``'s result (run with LIMIT 0: no rows are read)."""
    cursor = connection.cursor()
    try:
        subquery = sql.strip().rstrip(";")
        if parameters is None:
            cursor.execute(f"SELECT * FROM ({subquery}) AS q LIMIT 0")
        else:
            cursor.execute(f"SELECT * FROM ({subquery}) AS q LIMIT 0", parameters)
        return [str(column[0]) for column in cursor.description or ()]
    finally:
        cursor.close()


def reconcile_report_asset(dag_id: str, task_id: str) -> Asset:
    """The asset a reconcile task emits when its ``report_path`` is templated and it is given
    no ``report_asset``: ``altcraft://reconcile-reports/<dag_id>/<task_id>``. A DAG subscribes
    to it at parse time: ``schedule=[reconcile_report_asset("reconcile_daily", "reconcile")]``.
    """
    return assets.task_asset(assets.RECONCILE_KIND, dag_id, task_id)


def _check_input_path(path: object) -> None:
    """An export file given as a URI must name an object (no network); a local one is read
    by the engine, which names a missing file."""
    if storage.is_remote(path):
        storage.check_output(path, "export_path")


class AltcraftReconcileTransactionsOperator(AltcraftBaseOperator):
    """Reconcile a period's Altcraft transactions with the warehouse's record of them.

    :param warehouse_conn_id: any Airflow SQL connection (SQLite, PostgreSQL, ...; templated).
    :param report_path: where to write the report CSV (templated): a local path or an
        object-storage URI (``s3://aws_default@bucket/reports/{{ ds }}.csv``, ``file://`` ...
        or an ``ObjectStoragePath``). Written locally and streamed up once complete (a report
        the task wrote before failing, e.g. on differences, is uploaded too).
    :param table: the warehouse table; the period ``[start, end)`` is selected on its
        ``created_at`` column (``>= start`` and ``< end``; whole-day bounds are passed as
        ``'YYYY-MM-DD'``, others as ``'YYYY-MM-DD HH:MM:SS+00:00'``, which a text column must
        store in the same form to compare right). Exactly one of ``table`` / ``sql``.
    :param sql: a query returning the period's transactions (templated; ``.sql`` files are
        read as templates). Exactly one of ``table`` / ``sql``.
    :param parameters: the query's parameters, passed to the driver with ``sql``.
    :param columns: field → warehouse column, see :class:`WarehouseColumns`.
    :param export_path: an export CSV (e.g. ``export.output["path"]``): a local path or an
        object-storage URI (streamed into a private local copy for the engine). Without it
        the task runs an export itself (then ``loyalty_program_id`` and the currency are
        required).
    :param loyalty_program_id: the program of the task's own export (without
        ``export_path``).
    :param points_currency_iid: the currency of the task's own export (its iid), or:
    :param points_currency_eid: the currency of the task's own export (its eid).
    :param date_from: with ``date_to``, the period (a date is a whole UTC day, a date-time
        ``date_to`` is excluded; see :class:`~airflow_provider_altcraft.periods.Period`);
        default: the run's data interval ``[start, end)``.
    :param date_to: the period's end (see ``date_from``).
    :param report_table: also store the report in this warehouse table (created if missing;
        the period's earlier rows are replaced, so a re-run does not duplicate them).
    :param on_difference: ``"fail"`` (default) fails the task, without retry, when there is
        any difference (after writing the report); ``"warn"`` logs a warning and succeeds.
    :param type_aliases: warehouse type value → Altcraft type (added to the defaults).
    :param state_aliases: state value → canonical state (added to the defaults).
    :param engine: where the comparison runs: ``"auto"`` (default: DuckDB when the ``duckdb``
        extra is installed, else SQLite), ``"duckdb"``, ``"sqlite"`` (no dependency), or
        ``"pushdown"`` (inside the PostgreSQL warehouse: the export is copied into a
        temporary table there and only the differences come back). All find the same
        differences; see docs/reconcile-performance.md.
    :param duckdb_memory_limit: DuckDB's memory limit; beyond it DuckDB spills to the task's
        temporary directory, so the task's memory does not grow with the number of
        transactions. Default: adaptive to the row count (128MB loading / 96MB matching up to
        two million rows, 128MB up to five million, 256MB per started ten million beyond;
        see docs/reconcile-performance.md). A given limit (e.g. ``"512MB"``) is used exactly.
    :param poll_interval: seconds between two ``tasks/status`` calls of the task's own export.
    :param timeout: seconds to wait for the task's own export.
    :param report_asset: the outlet Asset (a Dataset on Airflow 2) whose event says the
        report is ready, or its URI. Default: the report's own URI when ``report_path`` is
        static, else ``altcraft://reconcile-reports/<dag_id>/<task_id>``. Emitted when the
        task succeeds (so with ``on_difference="warn"`` also for a report with differences);
        its ``extra`` holds the report's path, the period and the counts (docs/assets.md).
    :param altcraft_conn_id: the Altcraft connection of the task's own export.

    The export's columns are read by name (see
    :mod:`airflow_provider_altcraft.export.csv_reader`).
    Altcraft publishes no transaction status: when the export has no status column, states
    are not compared (``state_compared`` is False in the counts, and the log says so). A
    temporary accrual and the full transaction its commit created (same eid, type and amount)
    count as one transaction (``committed_copies`` counts the rows folded).

    Returns the counts: ``missing_in_altcraft``, ``missing_in_warehouse``, ``amount_differs``,
    ``type_differs``, ``state_differs``, ``differences`` (their sum), ``altcraft_rows``
    (transactions, committed copies folded), ``warehouse_rows``, ``matched``,
    ``committed_copies``, ``state_compared``, ``engine`` (the one that ran), plus
    ``date_from``, ``date_to`` and ``report_path``.
    """

    template_fields: Sequence[str] = (
        "altcraft_conn_id",
        "warehouse_conn_id",
        "table",
        "sql",
        "parameters",
        "export_path",
        "loyalty_program_id",
        "points_currency_iid",
        "points_currency_eid",
        "date_from",
        "date_to",
        "report_path",
        "report_table",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}

    def __init__(
        self,
        *,
        warehouse_conn_id: str,
        report_path: StoragePath,
        table: str | None = None,
        sql: str | None = None,
        parameters: Any = None,
        columns: Mapping[str, str | None] | None = None,
        export_path: StoragePath | None = None,
        loyalty_program_id: int | str | None = None,
        points_currency_iid: int | str | None = None,
        points_currency_eid: str | None = None,
        date_from: date | str | None = None,
        date_to: date | str | None = None,
        report_table: str | None = None,
        on_difference: OnDifference = "fail",
        type_aliases: Mapping[str, str] | None = None,
        state_aliases: Mapping[str, str] | None = None,
        engine: Engine = "auto",
        duckdb_memory_limit: str | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float = DEFAULT_TIMEOUT,
        report_asset: Asset | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.warehouse_conn_id = warehouse_conn_id
        self.report_path = report_path
        self.table = table
        self.sql = sql
        self.parameters = parameters
        self.export_path = export_path
        self.loyalty_program_id = loyalty_program_id
        self.points_currency_iid = points_currency_iid
        self.points_currency_eid = points_currency_eid
        self.date_from = date_from
        self.date_to = date_to
        self.report_table = report_table
        self.columns = WarehouseColumns.from_mapping(columns)
        if on_difference not in ("fail", "warn"):
            raise AltcraftValidationError(
                "on_difference", f"{on_difference!r} is not a policy", "pass 'fail' or 'warn'"
            )
        self.on_difference = on_difference
        if engine not in ENGINES:
            raise AltcraftValidationError(
                "engine", f"{engine!r} is not an engine", f"pass one of {', '.join(ENGINES)}"
            )
        self.engine = engine
        if duckdb_memory_limit is not None and not re.fullmatch(
            r"\d+(\.\d+)?\s*[KMGT]i?B", str(duckdb_memory_limit)
        ):
            raise AltcraftValidationError(
                "duckdb_memory_limit",
                f"{duckdb_memory_limit!r} is not a memory size",
                "pass e.g. '160MB' or '2GB'",
            )
        self.duckdb_memory_limit = duckdb_memory_limit
        self.type_aliases = dict(type_aliases or {})
        self.state_aliases = dict(state_aliases or {})
        check_wait_arguments(poll_interval, timeout)
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.check_arguments_at_parse_time()
        self.report_asset = assets.outlet_asset(
            report_asset,
            "report_asset",
            path=report_path,
            path_is_static=not is_dynamic(report_path),
            kind=assets.RECONCILE_KIND,
            dag_id=self.dag_id if self.has_dag() else None,  # type: ignore[no-untyped-call]
            task_id=self.task_id,
        )
        if self.report_asset is not None and self.report_asset not in self.outlets:
            self.outlets = [*self.outlets, self.report_asset]

    def _argument_values(self) -> dict[str, Any]:
        values = super()._argument_values()
        if values.get("loyalty_program_id") is None:
            # Optional here (an export file may be given), unlike the shared check's view.
            values.pop("loyalty_program_id", None)
        return values

    def build(self, values: Mapping[str, Any]) -> ReconcileArguments:
        for name in ("warehouse_conn_id", "report_path"):
            if values[name] is None:
                raise AltcraftValidationError(name, "is missing", "pass a non-empty string")
        parse_optional_str(values["warehouse_conn_id"], "warehouse_conn_id", max_length=4096)
        check_path_argument(values["report_path"], "report_path")
        storage.check_output(values["report_path"], "report_path", partial_suffix=".part")
        table, sql = values["table"], values["sql"]
        if (table is None) == (sql is None):
            raise AltcraftValidationError(
                "table",
                "and sql are both given" if table is not None else "and sql are both missing",
                "pass either the warehouse table or a query (sql)",
            )
        for name in ("table", "report_table"):
            if values[name] is not None and not _is_identifier(values[name]):
                raise AltcraftValidationError(
                    name, f"{values[name]!r} is not a table name", "pass e.g. 'schema.table'"
                )
        if table is not None and self.columns.created_at is None:
            raise AltcraftValidationError(
                "columns",
                "maps no created_at column",
                "table mode selects the period on it; map it, or pass `sql` instead",
            )
        export_path = values["export_path"]
        export = None
        if export_path is None:
            if values.get("loyalty_program_id") is None:
                raise AltcraftValidationError(
                    "export_path",
                    "is missing and so is loyalty_program_id",
                    "pass an export file, or the program and currency to export",
                )
            export = build_export_request(values)
        else:
            check_path_argument(export_path, "export_path")
            _check_input_path(export_path)
        period = parse_period(values)
        return ReconcileArguments(
            warehouse_conn_id=values["warehouse_conn_id"],
            table=table,
            sql=sql,
            parameters=values["parameters"],
            report_path=values["report_path"],
            report_table=values["report_table"],
            export_path=export_path,
            export=export,
            period=period,
        )

    def check_static_rules(self, values: Mapping[str, Any]) -> None:
        report_path, export_path = values["report_path"], values["export_path"]
        if report_path is not None and not is_dynamic(report_path):
            check_path_argument(report_path, "report_path")
            storage.check_output(report_path, "report_path", partial_suffix=".part")
        if export_path is not None and not is_dynamic(export_path):
            check_path_argument(export_path, "export_path")
            _check_input_path(export_path)

    def execute(self, context: Context) -> dict[str, Any]:
        args: ReconcileArguments = self.build_for_execute()
        try:
            engine = resolve_engine(self.engine)
        except EngineUnavailable as exc:
            raise AirflowFailException(f"Invalid argument: engine: {exc}") from None
        period = resolve_period(context, args.period)
        hook = self._warehouse_hook(args.warehouse_conn_id)
        sql, parameters = self._warehouse_query(args, hook, period)
        check_reachable(args.report_path, "report_path")
        report_shown = storage.display(args.report_path)
        # The report is written locally (its .part rename) and streamed to a URI when the
        # block ends; a complete report is uploaded even if storing it in a table fails.
        with (
            storage.staged_output(args.report_path, "report_path", upload_on_error=True) as report,
            tempfile.TemporaryDirectory(prefix="altcraft-reconcile-") as work,
        ):
            report.parent.mkdir(parents=True, exist_ok=True)
            if args.export_path is None:
                assert args.export is not None
                export_source: StoragePath = export_to_file(
                    self.hook,
                    args.export,
                    period,
                    str(Path(work) / "export.csv"),
                    poll_interval=self.poll_interval,
                    timeout=self.timeout,
                    log=self.log,
                )["path"]
            else:
                export_source = args.export_path
            # The engines read a local file: a remote export is streamed into the work dir.
            with (
                storage.local_copy(export_source, "export_path", scratch_dir=work) as export,
                self._open_engine(engine, work, hook) as reconciler,
            ):
                reconciler.add_export(str(export), period)
                self._load_warehouse(
                    reconciler, hook, sql, parameters, work, table_mode=args.table is not None
                )
                counts: dict[str, Any] = reconciler.match()
                by_class = self._write_report(report, REPORT_COLUMNS, reconciler.differences())
                counts.update(engine=engine, state_compared=reconciler.state_compared)
            counts.update(by_class)
            counts["differences"] = sum(by_class.values())
            counts.update(period.to_json(), report_path=report_shown)
            if args.report_table:
                self._store_report(hook, args.report_table, report, period)
        self._lineage_summary: dict[str, Any] | None = counts
        assets.record_event(
            context,
            self.report_asset,
            {"path": report_shown, **{key: counts[key] for key in ASSET_EXTRA_COUNTS}},
        )
        return self._apply_policy(counts, context)

    # -- steps --------------------------------------------------------------------------------

    def _open_engine(self, engine: str, work: str, hook: DbApiHook) -> BaseReconciler:
        options: dict[str, Any] = {
            "type_aliases": self.type_aliases,
            "state_aliases": self.state_aliases,
            "signed_amounts": self.columns.transaction_type is None,
            "compare_state": self.columns.status is not None,
        }
        if engine == "duckdb" and self.duckdb_memory_limit:
            options["memory_limit"] = self.duckdb_memory_limit
        connection = hook.get_conn() if engine == "pushdown" else None
        try:
            reconciler = open_reconciler(engine, work, connection=connection, **options)
        except EngineUnavailable as exc:
            if connection is not None:
                connection.close()
            raise AirflowFailException(f"Invalid argument: engine: {exc}") from None
        self.log.info("Reconciling with the %s engine", engine)
        return reconciler

    def _load_warehouse(
        self,
        reconciler: BaseReconciler,
        hook: DbApiHook,
        sql: str,
        parameters: Any,
        work: str,
        *,
        table_mode: bool,
    ) -> None:
        """The warehouse's rows into the engine by the fastest path there is: inside
        PostgreSQL (push-down), PostgreSQL's COPY, SQLite attached to SQLite; else the
        driver's rows."""
        from airflow_provider_altcraft.reconcile.pushdown import (
            PostgresPushdownReconciler,
            copy_query_to_csv,
            is_postgres,
        )

        if isinstance(reconciler, PostgresPushdownReconciler):
            header = _describe(reconciler.connection, sql, parameters)
            fields_ = _field_columns(header, self.columns, table_mode=table_mode)
            reconciler.add_warehouse_query(sql, parameters, fields_)
            return
        connection = hook.get_conn()
        try:
            if is_postgres(connection):
                header = _describe(connection, sql, parameters)
                fields_ = _field_columns(header, self.columns, table_mode=table_mode)
                path = Path(work) / "warehouse.csv"
                copy_query_to_csv(connection, sql, parameters, fields_, path)
                reconciler.add_warehouse_csv(path)
                path.unlink()
                return
            if isinstance(connection, sqlite3.Connection):
                header = _describe(connection, sql, parameters)
                fields_ = _field_columns(header, self.columns, table_mode=table_mode)
                reconciler.add_warehouse_sqlite(connection, sql, parameters, fields_)
                return
        finally:
            connection.close()
        reconciler.add_warehouse(
            _iter_warehouse(hook, sql, parameters, self.columns, table_mode=table_mode)
        )

    @staticmethod
    def _warehouse_hook(conn_id: str) -> DbApiHook:
        try:
            return sql_hook(conn_id, "warehouse_conn_id")
        except AltcraftValidationError as exc:
            raise AirflowFailException(f"Invalid argument: {exc}") from None

    def _warehouse_query(
        self, args: ReconcileArguments, hook: DbApiHook, period: Period
    ) -> tuple[str, Any]:
        if args.sql is not None:
            return args.sql, args.parameters
        names = self.columns.selected()
        placeholder = hook.placeholder
        created_at = names["created_at"]
        sql = (
            f"SELECT {', '.join(dict.fromkeys(names.values()))} FROM {args.table} "
            f"WHERE {created_at} >= {placeholder} AND {created_at} < {placeholder}"
        )
        return sql, (_sql_bound(period.start), _sql_bound(period.end))

    def _write_report(
        self, path: Path, header: Sequence[str], rows: Iterator[tuple[str | None, ...]]
    ) -> dict[str, int]:
        by_class = dict.fromkeys(DIFFERENCE_CLASSES, 0)
        partial = path.with_name(path.name + ".part")
        with storage.open_private(partial, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                by_class[str(row[0])] += 1
                writer.writerow(["" if value is None else value for value in row])
        partial.replace(path)
        return by_class

    def _store_report(self, hook: DbApiHook, table: str, report: Path, period: Period) -> None:
        """Replace the period's rows of ``table`` by the report's, in one transaction: a
        failure midway leaves the earlier rows in place."""
        columns = (*REPORT_TABLE_PERIOD, *REPORT_COLUMNS)
        bounds = tuple(period.to_json().values())
        ph = hook.placeholder
        insert = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([ph] * len(columns))})"
        )
        hook.run(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(f'{c} TEXT' for c in columns)})")
        connection = hook.get_conn()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(
                    f"DELETE FROM {table} WHERE period_from = {ph} AND period_to = {ph}", bounds
                )
                with open(report, encoding="utf-8", newline="") as handle:
                    reader = csv.reader(handle)
                    next(reader)
                    rows = ((*bounds, *(value or None for value in row)) for row in reader)
                    while chunk := list(islice(rows, INSERT_ROWS)):
                        cursor.executemany(insert, chunk)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                cursor.close()
        finally:
            connection.close()
        self.log.info("Report stored in warehouse table %s", table)

    def _apply_policy(self, counts: dict[str, Any], context: Context) -> dict[str, Any]:
        summary = ", ".join(f"{name} {counts[name]}" for name in DIFFERENCE_CLASSES if counts[name])
        notes = []
        if counts["committed_copies"]:
            notes.append(
                f"{counts['committed_copies']} temporary transactions folded into the full "
                "transaction their commit created"
            )
        if not counts["state_compared"]:
            notes.append(
                "states not compared: "
                + (
                    "the warehouse records none (columns: status None)"
                    if self.columns.status is None
                    else "the export has no status column (Altcraft publishes none)"
                )
            )
        self.log.info(
            "Reconciled %s to %s with the %s engine: %d Altcraft transactions, %d warehouse "
            "rows, %d matched; differences: %s; report at %s%s",
            counts["date_from"], counts["date_to"], counts["engine"], counts["altcraft_rows"],
            counts["warehouse_rows"], counts["matched"], summary or "none", counts["report_path"],
            "".join(f"; {note}" for note in notes),
        )  # fmt: skip
        if not counts["differences"]:
            return counts
        message = (
            f"{counts['differences']} differences between Altcraft and the warehouse for "
            f"{counts['date_from']} to {counts['date_to']} ({summary}); see {counts['report_path']}"
        )
        if self.on_difference == "warn":
            self.log.warning(message)
            return counts
        # The counts stay readable downstream (e.g. by a notification task) after the failure.
        context["ti"].xcom_push(key="counts", value=counts)
        raise AirflowFailException(message)

    # -- OpenLineage (called by the OpenLineage provider when it is installed) ----------------

    def _lineage_inputs(self) -> tuple[DatasetId | None, list[DatasetId]]:
        """The Altcraft side (the export file, or the ledger of the task's own export) and the
        warehouse tables (the table, or those the query reads)."""
        from airflow_provider_altcraft import lineage

        altcraft: DatasetId | None = None
        if self.export_path is not None:
            if not is_dynamic(self.export_path):
                altcraft = lineage.file_dataset(storage.display(self.export_path))
        elif (base_url := self._lineage_base_url()) is not None:
            altcraft = lineage.altcraft_ledger(base_url)
        warehouse: list[DatasetId] = []
        conn_id = self.warehouse_conn_id
        if isinstance(conn_id, str) and not is_dynamic(conn_id):
            if isinstance(self.table, str) and not is_dynamic(self.table):
                warehouse = lineage.warehouse_tables(conn_id, [self.table])
            elif isinstance(self.sql, str) and not is_dynamic(self.sql):
                warehouse = lineage.sql_input_datasets(self.sql, conn_id)
        return altcraft, warehouse

    def get_openlineage_facets_on_start(self) -> Any:
        """The inputs and outputs of :meth:`get_openlineage_facets_on_complete`, no counts."""
        return self._lineage(summary=None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs: the export file (or the Altcraft ledger) and the warehouse table(s);
        outputs: the report file (and the report table); run facet ``altcraft_reconcile``
        (the counts of each difference class, rows on each side, the engine, the period)."""
        return self._lineage(summary=getattr(self, "_lineage_summary", None))

    def _lineage(self, *, summary: Mapping[str, Any] | None) -> Any:
        from airflow_provider_altcraft import lineage
        from airflow_provider_altcraft.export.lineage import reconcile_lineage

        altcraft, warehouse = self._lineage_inputs()
        report_tables: list[DatasetId] = []
        table, conn_id = self.report_table, self.warehouse_conn_id
        if all(isinstance(value, str) and not is_dynamic(value) for value in (table, conn_id)):
            report_tables = lineage.warehouse_tables(str(conn_id), [str(table)])
        report = self.report_path
        return reconcile_lineage(
            altcraft_input=altcraft,
            warehouse_inputs=warehouse,
            report_path=None if is_dynamic(report) else storage.display(report),
            report_tables=report_tables,
            summary=summary,
        )
