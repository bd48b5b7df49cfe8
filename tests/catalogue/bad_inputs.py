"""The catalogue of bad input, as data: every way a DAG author, a connection, a rows file, a
query or a raw HTTP client can hand over something wrong, and the name the refusal must carry.

``test_catalogue.py`` runs each case and checks that it is refused with ONE clear sentence
naming ``parameter`` (no traceback text, no token), and that nothing reached the ledger.

Kinds:

``hook``
    ``AltcraftHook().<target>(**arguments)`` on the session sandbox: an
    ``AltcraftValidationError`` naming ``parameter``, and no request at all.
``operator``
    The operator class ``target`` built with ``arguments`` (static, so DAG parse time): an
    ``AltcraftValidationError`` naming ``parameter``. The 44 cases of
    ``tests/operators/bad_inputs.py`` are included.
``connection``
    A connection with these ``arguments`` (``extra`` and the other fields), read by the hook:
    an ``AltcraftConfigError`` naming ``parameter``, and no request.
``batch_row``
    A batch operator's ``execute`` on one bad row among good ones (``arguments``: the ``row``,
    and ``column_mapping`` / ``constants`` when the case needs them): the task fails without
    a retry (``AirflowFailException``) naming the row and the user's column ``parameter``,
    and nothing is sent.
``batch_file``
    The same with a rows file of these bytes (``arguments``: ``name``, ``content``).
``sql``
    The same with rows from a SQLite query (``arguments``: ``sql``, ``sql_parameters``,
    ``sql_conn_id``).
``sandbox_http``
    A raw POST to the sandbox's ``target`` endpoint: a valid body changed by ``arguments``
    (:data:`DROP` removes a field). The answer is an error envelope whose text names
    ``parameter``, and the ledger is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from airflow_provider_altcraft.models import Matching
from tests.operators import bad_inputs as operator_cases

#: Marks a field to remove from the valid body (sandbox_http) or arguments.
DROP = object()

ANN = Matching.by_email("ann@example.com")
PROGRAM = 1
FORGE = "\nINFO [altcraft] forged log line"
#: Unicode digits that Python's int() and Decimal() accept: Arabic-Indic 3, fullwidth 5,
#: Devanagari 3, mathematical bold 5.
UNICODE_DIGITS = {"arabic": "\u0663", "fullwidth": "\uff15", "devanagari": "\u0969",
                  "bold": "\U0001d7d3"}  # fmt: skip
#: Control and invisible characters that forge log lines or hide differences.
CONTROLS = {"nul": "\x00", "esc": "\x1b[2J", "cr": "\r", "lf": "\n", "tab": "\t",
            "del": "\x7f", "bidi": "\u202e", "zwsp": "\u200b", "lsep": "\u2028"}  # fmt: skip
TEN_MIB = 10 * 1024 * 1024
#: Replaced by the test's own temporary directory (hook file targets).
TMP_DIR = "<tmp>"


@dataclass(frozen=True)
class Case:
    kind: str
    case_id: str
    parameter: str
    target: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.case_id}"


# -- hook arguments ---------------------------------------------------------------------------

#: A valid call of each hook method (a case changes one argument).
HOOK_VALID: dict[str, dict[str, Any]] = {
    "redeem_points": {"loyalty_program_id": PROGRAM, "amount": "1.00", "matching": ANN,
                      "points_currency_eid": "stars", "transaction_eid": "cat-1"},
    "accrue_points": {"loyalty_program_id": PROGRAM, "amount": "1.00", "matching": ANN,
                      "points_currency_eid": "stars", "transaction_eid": "cat-2"},
    "get_balance": {"loyalty_program_id": PROGRAM, "matching": ANN,
                    "points_currency_eid": "stars"},
    "get_account_transactions": {"loyalty_program_id": PROGRAM, "matching": ANN,
                                 "points_currency_eid": "stars"},
    "find_transaction_by_eid": {"loyalty_program_id": PROGRAM, "matching": ANN,
                                "transaction_eid": "cat-1", "points_currency_eid": "stars"},
    "get_expiring_points": {"loyalty_program_id": PROGRAM, "matching": ANN,
                            "date_from": "2024-01-01", "date_to": "2024-12-31",
                            "points_currency_eid": "stars"},
    "get_profile_tiers": {"loyalty_program_id": PROGRAM, "tiers_group_id": 7, "matching": ANN},
    "get_trigger_promotions": {"loyalty_program_id": PROGRAM},
    "register_member": {"loyalty_program_id": PROGRAM, "matching": ANN},
    "remove_member": {"loyalty_program_id": PROGRAM, "matching": ANN},
    "commit_transaction": {"transaction_eid": "cat-1"},
    "rollback_transaction": {"transaction_eid": "cat-1"},
    "cancel_transaction": {"transaction_eid": "cat-1"},
    "start_transactions_export": {"loyalty_program_id": PROGRAM, "date_from": "2024-01-01",
                                  "date_to": "2024-01-31", "points_currency_eid": "stars"},
    "get_task_status": {"task_id": "task-1"},
    "download_file": {"url": "/_sandbox/health", "destination": f"{TMP_DIR}/export.csv"},
}  # fmt: skip


def hook(case_id: str, method: str, parameter: str, **arguments: Any) -> Case:
    return Case("hook", case_id, parameter, method, arguments)


HOOK_CASES: list[Case] = [
    *(hook(f"redeem_amount_{name}", "redeem_points", "amount", amount=digit)
      for name, digit in UNICODE_DIGITS.items()),
    *(hook(f"accrue_amount_{name}", "accrue_points", "amount", amount=f"1{digit}.50")
      for name, digit in UNICODE_DIGITS.items()),
    hook("amount_trailing_newline", "redeem_points", "amount", amount="5\n"),
    hook("amount_leading_space", "redeem_points", "amount", amount=" 5"),
    hook("amount_trailing_space", "accrue_points", "amount", amount="5 "),
    hook("amount_crlf", "accrue_points", "amount", amount="5\r\n"),
    hook("amount_nbsp", "redeem_points", "amount", amount="5\u00a0"),
    hook("amount_plus", "redeem_points", "amount", amount="+5"),
    hook("amount_underscore", "redeem_points", "amount", amount="1_000"),
    hook("amount_nan", "redeem_points", "amount", amount=Decimal("NaN")),
    hook("amount_infinity", "redeem_points", "amount", amount=Decimal("Infinity")),
    hook("amount_float", "accrue_points", "amount", amount=0.1),
    hook("amount_none", "redeem_points", "amount", amount=None),
    hook("amount_dict", "redeem_points", "amount", amount={"value": 5}),
    *(hook(f"redeem_eid_{name}", "redeem_points", "transaction_eid", transaction_eid=f"e{c}1")
      for name, c in CONTROLS.items()),
    hook("eid_forged_log_line", "accrue_points", "transaction_eid", transaction_eid="e" + FORGE),
    hook("eid_256", "redeem_points", "transaction_eid", transaction_eid="e" * 256),
    hook("eid_padded", "redeem_points", "transaction_eid", transaction_eid=" cat-1"),
    hook("eid_int", "redeem_points", "transaction_eid", transaction_eid=17),
    hook("promotion_control", "redeem_points", "promotion_id", promotion_id="P\n10"),
    hook("promotion_long", "accrue_points", "promotion_id", promotion_id="P" * 300),
    hook("currency_eid_control", "redeem_points", "points_currency_eid",
         points_currency_eid="stars\x00"),
    hook("currency_iid_unicode", "redeem_points", "points_currency_iid",
         points_currency_eid=None, points_currency_iid=UNICODE_DIGITS["arabic"]),
    hook("program_bool", "redeem_points", "loyalty_program_id", loyalty_program_id=True),
    hook("program_unicode", "accrue_points", "loyalty_program_id",
         loyalty_program_id=UNICODE_DIGITS["fullwidth"]),
    hook("program_padded", "redeem_points", "loyalty_program_id", loyalty_program_id=" 1"),
    hook("program_huge", "redeem_points", "loyalty_program_id", loyalty_program_id=2**64),
    hook("program_float", "get_balance", "loyalty_program_id", loyalty_program_id=1.0),
    hook("balance_program_bool", "get_balance", "loyalty_program_id", loyalty_program_id=True),
    hook("is_temp_yes", "redeem_points", "is_temp", is_temp="yes"),
    hook("is_temp_one", "redeem_points", "is_temp", is_temp=1),
    hook("is_temp_padded", "accrue_points", "is_temp", is_temp="true "),
    hook("temp_timeout_unicode", "redeem_points", "temp_timeout_sec", is_temp=True,
         temp_timeout_sec=UNICODE_DIGITS["bold"]),
    hook("external_data_over_10mib", "accrue_points", "external_data",
         external_data={"blob": "x" * TEN_MIB}),
    hook("external_data_not_json", "accrue_points", "external_data",
         external_data={"when": datetime(2024, 1, 1)}),
    hook("external_data_nan", "redeem_points", "external_data",
         external_data={"x": float("nan")}),
    hook("external_data_int_keys", "redeem_points", "external_data", external_data={1: "a"}),
    hook("created_at_newline", "redeem_points", "created_at",
         created_at="2024-09-01T12:00:00Z\n"),
    hook("created_at_unicode_digits", "redeem_points", "created_at",
         created_at="\u0662\u0660\u0662\u0664-09-01T12:00:00Z"),
    hook("expiration_padded", "accrue_points", "expiration_date",
         expiration_date=" 2030-01-01T00:00:00Z"),
    hook("commit_eid_control", "commit_transaction", "transaction_eid",
         transaction_eid="cat-1\r\nX"),
    hook("rollback_id_control", "rollback_transaction", "transaction_id",
         transaction_eid=None, transaction_id="t\x1b[0m1"),
    hook("cancel_id_long", "cancel_transaction", "transaction_id", transaction_id="9" * 256),
    hook("cancel_nothing", "cancel_transaction", "transaction_id", transaction_eid=None),
    hook("commit_eid_blank", "commit_transaction", "transaction_eid", transaction_eid="   "),
    hook("find_eid_control", "find_transaction_by_eid", "transaction_eid",
         transaction_eid="cat-1\n"),
    hook("tiers_group_bool", "get_profile_tiers", "tiers_group_id", tiers_group_id=True),
    hook("tiers_group_zero", "get_profile_tiers", "tiers_group_id", tiers_group_id=0),
    hook("promotions_is_active_yes", "get_trigger_promotions", "is_active", is_active="yes"),
    hook("promotions_limit_zero", "get_trigger_promotions", "limit", limit=0),
    hook("promotions_limit_101", "get_trigger_promotions", "limit", limit=101),
    hook("promotions_limit_text", "get_trigger_promotions", "limit", limit="5"),
    hook("promotions_limit_bool", "get_trigger_promotions", "limit", limit=True),
    hook("transactions_limit_text", "get_account_transactions", "limit", limit="5"),
    hook("transactions_limit_bool", "get_account_transactions", "limit", limit=True),
    hook("transactions_limit_zero", "get_account_transactions", "limit", limit=0),
    hook("transactions_from_id_control", "get_account_transactions", "from_id",
         from_id="1\n2"),
    hook("balance_matching_dict", "get_balance", "matching",
         matching={"matching": "email", "email": "ann@example.com"}),
    hook("balance_matching_text", "get_balance", "matching", matching="ann@example.com"),
    hook("register_matching_none", "register_member", "matching", matching=None),
    hook("tiers_matching_dict", "get_profile_tiers", "matching",
         matching={"matching": "profile_id", "profile_id": "p-1"}),
    hook("registration_date_word", "register_member", "registration_date",
         registration_date="yesterday"),
    hook("expiring_date_to_before_from", "get_expiring_points", "date_to",
         date_from="2024-12-31", date_to="2024-01-01"),
    hook("expiring_date_from_unicode", "get_expiring_points", "date_from",
         date_from="\u0662\u0660\u0662\u0664-01-01"),
    hook("export_program_bool", "start_transactions_export", "loyalty_program_id",
         loyalty_program_id=True),
    hook("export_date_from_word", "start_transactions_export", "date_from", date_from="today"),
    hook("task_status_empty", "get_task_status", "task_id", task_id=""),
    hook("download_to_a_directory", "download_file", "destination", destination=TMP_DIR),
    hook("download_name_with_newline", "download_file", "destination",
         destination=f"{TMP_DIR}/export\n.csv"),
    hook("task_status_control", "get_task_status", "task_id", task_id="t\n1"),
]  # fmt: skip


# -- operator arguments (parse time) --------------------------------------------------------

_POINTS_VALID = dict(operator_cases.VALID)
OPERATOR_VALID: dict[str, dict[str, Any]] = {
    "AltcraftRedeemPointsOperator": _POINTS_VALID,
    "AltcraftAccruePointsOperator": _POINTS_VALID,
    "AltcraftGetBalanceOperator": {"loyalty_program_id": 1, "profile_email": "ann@example.com",
                                   "points_currency_eid": "stars"},
    "AltcraftRegisterMemberOperator": {"loyalty_program_id": 1, "profile_id": "p-1"},
    "AltcraftRemoveMemberOperator": {"loyalty_program_id": 1, "profile_id": "p-1"},
    "AltcraftCommitTransactionOperator": {"transaction_eid": "cat-1"},
    "AltcraftRollbackTransactionOperator": {"transaction_eid": "cat-1"},
    "AltcraftCancelTransactionOperator": {"transaction_eid": "cat-1"},
    "AltcraftExportTransactionsOperator": {"loyalty_program_id": 1,
                                           "output_path": "/tmp/altcraft-catalogue/export.csv",
                                           "points_currency_eid": "stars",
                                           "date_from": "2024-01-01", "date_to": "2024-01-31"},
    "AltcraftBatchRedeemPointsOperator": {"loyalty_program_id": 1,
                                          "rows": [{"email": "ann@example.com", "amount": "1"}],
                                          "points_currency_eid": "stars"},
}  # fmt: skip
_OPERATOR_MODULES = {
    "AltcraftExportTransactionsOperator": "airflow_provider_altcraft.operators.export",
    "AltcraftBatchRedeemPointsOperator": "airflow_provider_altcraft.operators.batch",
}
OPERATOR_MODULE_DEFAULT = "airflow_provider_altcraft.operators.loyalty"


def operator_module(name: str) -> str:
    return _OPERATOR_MODULES.get(name, OPERATOR_MODULE_DEFAULT)


def op(case_id: str, target: str, parameter: str, **arguments: Any) -> Case:
    short = target.removeprefix("Altcraft").removesuffix("Operator")
    return Case("operator", f"{short}_{case_id}", parameter, target, arguments)


_REDEEM = "AltcraftRedeemPointsOperator"
_ACCRUE = "AltcraftAccruePointsOperator"
_BATCH = "AltcraftBatchRedeemPointsOperator"
_NO_EMAIL = {"profile_email": None}

OPERATOR_CASES: list[Case] = [
    # The table of tests/operators/bad_inputs.py, built statically.
    *(
        Case("operator", f"table_{bad.case_id}", bad.parameter,
             _REDEEM if bad.operator == "redeem" else _ACCRUE, dict(bad.arguments))
        for bad in operator_cases.CASES
    ),
    *(op(f"amount_{name}", _REDEEM, "amount", amount=f"{digit}0") for name, digit in
      UNICODE_DIGITS.items()),
    op("amount_newline", _ACCRUE, "amount", amount="25.00\n"),
    op("amount_space", _REDEEM, "amount", amount=" 25.00"),
    *(op(f"email_{name}", _REDEEM, "profile_email", profile_email=f"ann{c}@example.com")
      for name, c in CONTROLS.items()),
    op("email_trailing_newline", _REDEEM, "profile_email", profile_email="ann@example.com\n"),
    op("email_255", _REDEEM, "profile_email", profile_email="a" * 243 + "@example.com"),
    op("phone_fullwidth", _REDEEM, "phone", **_NO_EMAIL, phone="+1555\uff10000001"),
    op("phone_newline", _ACCRUE, "phone", **_NO_EMAIL, phone="+15550000001\n"),
    op("profile_id_forged", _REDEEM, "profile_id", **_NO_EMAIL, profile_id="p-1" + FORGE),
    op("profile_id_256", _REDEEM, "profile_id", **_NO_EMAIL, profile_id="p" * 256),
    op("field_name_esc", _REDEEM, "field_name", **_NO_EMAIL, field_name="user\x1b_id",
       field_value="1001"),
    op("field_value_nul", _REDEEM, "field_value", **_NO_EMAIL, field_name="user_id",
       field_value="1001\x00"),
    op("field_value_huge_int", _ACCRUE, "field_value", **_NO_EMAIL, field_name="user_id",
       field_value=2**70),
    op("eid_newline", _REDEEM, "transaction_eid", transaction_eid="order-1\nINFO ok"),
    op("eid_bidi", _ACCRUE, "transaction_eid", transaction_eid="order-\u202e1"),
    op("promotion_tab", _ACCRUE, "promotion_id", promotion_id="PROMO\t10"),
    op("external_data_over_10mib", _ACCRUE, "external_data",
       external_data={"blob": "x" * TEN_MIB}),
    op("is_temp_one", _REDEEM, "is_temp", is_temp="1"),
    op("program_unicode", "AltcraftGetBalanceOperator", "loyalty_program_id",
       loyalty_program_id=UNICODE_DIGITS["devanagari"]),
    op("email_esc", "AltcraftGetBalanceOperator", "profile_email",
       profile_email="ann@example.com\x1b[8m"),
    op("profile_id_lf", "AltcraftRegisterMemberOperator", "profile_id", profile_id="p-1\n"),
    op("program_bool", "AltcraftRemoveMemberOperator", "loyalty_program_id",
       loyalty_program_id=True),
    op("eid_cr", "AltcraftCommitTransactionOperator", "transaction_eid",
       transaction_eid="cat-1\r"),
    op("id_nul", "AltcraftRollbackTransactionOperator", "transaction_id",
       transaction_eid=None, transaction_id="1\x00"),
    op("id_long", "AltcraftCancelTransactionOperator", "transaction_id",
       transaction_id="1" * 256),
    op("output_path_newline", "AltcraftExportTransactionsOperator", "output_path",
       output_path="/tmp/export\n.csv"),
    op("program_unicode", "AltcraftExportTransactionsOperator", "loyalty_program_id",
       loyalty_program_id=UNICODE_DIGITS["arabic"]),
    op("is_temp_yes", _BATCH, "is_temp", is_temp="yes"),
    op("program_padded", _BATCH, "loyalty_program_id", loyalty_program_id="1 "),
    op("external_data_list", _BATCH, "external_data", external_data=[1]),
    op("rows_not_a_list", _BATCH, "rows", rows={"email": "ann@example.com"}),
    op("rows_format_xml", _BATCH, "rows_format", rows=None, rows_file="rows.xml",
       rows_format="xml"),
    op("check_existing_yes", _BATCH, "check_existing", check_existing="yes"),
    op("check_existing_one", _BATCH, "check_existing", check_existing=1),
    op("results_path_directory", _BATCH, "results_path", results_path="/tmp"),
    op("output_path_directory", "AltcraftExportTransactionsOperator", "output_path",
       output_path="/tmp"),
]  # fmt: skip


# -- connection extras and fields -------------------------------------------------------------


def conn(case_id: str, parameter: str, **extra: Any) -> Case:
    return Case("connection", case_id, parameter, arguments={"extra": extra})


CONNECTION_CASES: list[Case] = [
    conn("timeout_1e20", "timeout", timeout=1e20),
    conn("timeout_text_1e20", "timeout", timeout="1e20"),
    conn("timeout_zero", "timeout", timeout=0),
    conn("timeout_nan", "timeout", timeout="nan"),
    conn("timeout_fullwidth", "timeout", timeout="\uff15"),
    conn("timeout_word", "timeout", timeout="soon"),
    conn("connect_timeout_huge", "connect_timeout", connect_timeout=10**6),
    conn("connect_timeout_negative", "connect_timeout", connect_timeout=-1),
    conn("max_retries_1e9", "max_retries", max_retries=10**9),
    conn("max_retries_text_huge", "max_retries", max_retries="1000000000"),
    conn("max_retries_arabic", "max_retries", max_retries="\u0663"),
    conn("max_retries_fraction", "max_retries", max_retries="1.5"),
    conn("max_retries_negative", "max_retries", max_retries=-1),
    conn("pool_maxsize_1e6", "pool_maxsize", pool_maxsize=10**6),
    conn("pool_maxsize_zero", "pool_maxsize", pool_maxsize=0),
    conn("backoff_base_huge", "backoff_base", backoff_base=10**5),
    conn("backoff_max_huge", "backoff_max", backoff_max=1e9),
    conn("backoff_max_below_base", "backoff_max", backoff_base=10, backoff_max=1),
    conn("retry_after_max_year", "retry_after_max", retry_after_max=86400 * 365),
    conn("rate_huge", "max_requests_per_second", max_requests_per_second=1e12),
    conn("rate_zero", "max_requests_per_second", max_requests_per_second=0),
    conn("verify_maybe", "verify", verify="maybe"),
    conn("placement_query", "auth_placement", auth_placement="query"),
    conn("http_503_sometimes", "http_503_not_applied", http_503_not_applied="sometimes"),
    conn("ca_bundle_missing", "ca_bundle", ca_bundle="/no/such/bundle.pem"),
    Case("connection", "password_inner_newline", "password",
         arguments={"password": "secret-part-one\nsecret-part-two"}),
    Case("connection", "password_empty", "password", arguments={"password": ""}),
    Case("connection", "host_ftp", "host", arguments={"host": "ftp://acme.altcraft.com"}),
    Case("connection", "host_bad_port", "host", arguments={"host": "http://acme:port"}),
]  # fmt: skip


# -- batch rows, files and SQL ---------------------------------------------------------------

GOOD_ROW = {"email": "ann@example.com", "amount": "1.00"}


def row(case_id: str, parameter: str, bad: dict[str, Any], **options: Any) -> Case:
    return Case("batch_row", case_id, parameter, arguments={"row": bad, **options})


_MAIL = {"column_mapping": {"mail": "email", "points": "amount", "ref": "transaction_eid"}}

BATCH_ROW_CASES: list[Case] = [
    *(row(f"amount_{name}", "amount", {**GOOD_ROW, "amount": digit})
      for name, digit in UNICODE_DIGITS.items()),
    row("amount_newline", "amount", {**GOOD_ROW, "amount": "1\n"}),
    row("amount_padded", "amount", {**GOOD_ROW, "amount": " 1"}),
    row("amount_float", "amount", {**GOOD_ROW, "amount": 1.5}),
    row("amount_word", "amount", {**GOOD_ROW, "amount": "one"}),
    row("amount_missing", "amount", {"email": "ann@example.com"}),
    row("amount_empty", "amount", {**GOOD_ROW, "amount": ""}),
    *(row(f"email_{name}", "email", {**GOOD_ROW, "email": f"ann@example.com{c}"})
      for name, c in CONTROLS.items()),
    row("email_too_long", "email", {**GOOD_ROW, "email": "a" * 250 + "@example.com"}),
    row("eid_forged", "transaction_eid", {**GOOD_ROW, "transaction_eid": "o-1" + FORGE}),
    row("eid_too_long", "transaction_eid", {**GOOD_ROW, "transaction_eid": "o" * 256}),
    row("profile_id_esc", "profile_id", {"profile_id": "p-1\x1b[0m", "amount": "1"}),
    row("phone_arabic", "phone", {"phone": "+1555\u0660000001", "amount": "1"}),
    row("field_value_cr", "field_value", {"field_name": "user_id", "field_value": "1001\r",
                                          "amount": "1"}),
    row("promotion_nul", "promotion_id", {**GOOD_ROW, "promotion_id": "P\x0010"}),
    row("is_temp_yes", "is_temp", {**GOOD_ROW, "is_temp": "yes"}),
    row("created_at_newline", "created_at", {**GOOD_ROW, "created_at": "2024-09-01T00:00:00Z\n"}),
    row("mapped_email_bad", "mail", {"mail": "nobody", "points": "1"}, **_MAIL),
    row("mapped_email_empty", "mail", {"mail": "", "points": "1"}, **_MAIL,
        constants={"matching": "email"}),
    row("mapped_email_missing", "mail", {"points": "1"}, **_MAIL,
        constants={"matching": "email"}),
    row("mapped_amount_arabic", "points", {"mail": "ann@example.com",
                                           "points": UNICODE_DIGITS["arabic"]}, **_MAIL),
    row("mapped_eid_control", "ref", {"mail": "ann@example.com", "points": "1",
                                      "ref": "r\n1"}, **_MAIL),
    row("not_an_object", "(row)", ["ann@example.com", "1"]),  # type: ignore[arg-type]
]  # fmt: skip


def rows_file(case_id: str, parameter: str, name: str, content: bytes) -> Case:
    return Case("batch_file", case_id, parameter, arguments={"name": name, "content": content})


_HEADER = b"email,amount\n"
_GOOD_LINE = b"ann@example.com,1.00\n"
BATCH_FILE_CASES: list[Case] = [
    rows_file("csv_latin1_row", "row 2, column (row)", "rows.csv",
              _HEADER + _GOOD_LINE + b"j\xf6rg@example.com,1.00\n"),
    rows_file("csv_utf16", "rows_file", "rows.csv", "email,amount\n".encode("utf-16")),
    rows_file("csv_field_too_large", "rows_file", "rows.csv",
              _HEADER + _GOOD_LINE + b"ann@example.com," + b"9" * 200_000 + b"\n"),
    rows_file("csv_extra_field", "row 1, column (row)", "rows.csv",
              _HEADER + b"ann@example.com,1.00,surprise\n"),
    rows_file("csv_nul_in_value", "row 1, column email", "rows.csv",
              _HEADER + b"ann\x00@example.com,1.00\n"),
    rows_file("csv_padded_amount", "row 1, column amount", "rows.csv",
              _HEADER + b"ann@example.com, 1.00\n"),
    rows_file("jsonl_truncated", "row 2, column (row)", "rows.jsonl",
              b'{"email": "ann@example.com", "amount": "1"}\n{"email": "ann@exa\n'),
    rows_file("jsonl_list", "row 1, column (row)", "rows.jsonl", b'["ann@example.com", "1"]\n'),
    rows_file("jsonl_latin1", "row 1, column (row)", "rows.jsonl",
              b'{"email": "j\xf6rg@example.com", "amount": "1"}\n'),
    rows_file("jsonl_deep", "row 1, column (row)", "rows.jsonl", b"[" * 100_000 + b"\n"),
    rows_file("jsonl_huge_number", "row 1, column (row)", "rows.jsonl",
              b'{"email": "ann@example.com", "amount": ' + b"9" * 5000 + b"}\n"),
    rows_file("missing_file", "rows_file", "", b""),
]  # fmt: skip


def sql(case_id: str, parameter: str, query: str, parameters: Any = None,
        conn_id: str = "catalogue_db") -> Case:  # fmt: skip
    arguments = {"sql": query, "sql_parameters": parameters, "sql_conn_id": conn_id}
    return Case("sql", case_id, parameter, arguments=arguments)


SQL_CASES: list[Case] = [
    sql("missing_table", "sql", "SELECT email, amount FROM no_such_table"),
    sql("missing_column", "sql", "SELECT mail, amount FROM adjustments"),
    sql("syntax", "sql", "SELEC email FROM adjustments"),
    sql("two_statements", "sql", "SELECT * FROM adjustments; DELETE FROM adjustments"),
    sql("too_few_parameters", "sql_parameters", "SELECT * FROM adjustments WHERE day = ?"),
    sql("too_many_parameters", "sql_parameters", "SELECT * FROM adjustments WHERE day = ?",
        ["2024-09-01", "extra"]),
    sql("named_parameter_missing", "sql_parameters",
        "SELECT * FROM adjustments WHERE day = :day", {"other": "x"}),
    sql("undefined_connection", "sql_conn_id", "SELECT * FROM adjustments",
        conn_id="no_such_connection"),
    sql("bad_row_from_sql", "row 1, column amount",
        "SELECT email, ' 1' AS amount FROM adjustments"),
]  # fmt: skip


# -- raw HTTP to the sandbox ------------------------------------------------------------------

SANDBOX_VALID: dict[str, dict[str, Any]] = {
    "loyalty/redeeme_points": {"loyalty_program_id": 1, "amount": "1.00", "matching": "email",
                               "email": "ann@example.com", "points_currency_eid": "stars",
                               "transaction_eid": "raw-1"},
    "loyalty/accrue_points": {"loyalty_program_id": 1, "amount": "1.00", "matching": "email",
                              "email": "ann@example.com", "points_currency_eid": "stars",
                              "transaction_eid": "raw-2"},
    "loyalty/account/balance": {"loyalty_program_id": 1, "matching": "email",
                                "email": "ann@example.com", "points_currency_eid": "stars"},
    "loyalty/account/transactions": {"loyalty_program_id": 1, "matching": "email",
                                     "email": "ann@example.com",
                                     "points_currency_eid": "stars"},
    "loyalty/commit_transaction": {"transaction_eid": "raw-1"},
}  # fmt: skip


def raw(case_id: str, endpoint: str, parameter: str, **changes: Any) -> Case:
    return Case("sandbox_http", case_id, parameter, endpoint, changes)


_REDEEM_API = "loyalty/redeeme_points"
_ACCRUE_API = "loyalty/accrue_points"
SANDBOX_CASES: list[Case] = [
    *(raw(f"amount_{name}", _REDEEM_API, "amount", amount=digit)
      for name, digit in UNICODE_DIGITS.items()),
    raw("amount_trailing_newline", _REDEEM_API, "amount", amount="5\n"),
    raw("amount_crlf", _ACCRUE_API, "amount", amount="5\r\n"),
    raw("amount_leading_space", _ACCRUE_API, "amount", amount=" 5"),
    raw("amount_number", _REDEEM_API, "amount", amount=5),
    raw("amount_negative", _REDEEM_API, "amount", amount="-5"),
    raw("amount_zero", _ACCRUE_API, "amount", amount="0"),
    raw("amount_exponent", _REDEEM_API, "amount", amount="1e3"),
    raw("amount_missing", _REDEEM_API, "amount", amount=DROP),
    raw("amount_bool", _ACCRUE_API, "amount", amount=True),
    raw("program_missing", _REDEEM_API, "loyalty_program_id", loyalty_program_id=DROP),
    raw("program_text", _REDEEM_API, "loyalty_program_id", loyalty_program_id="1"),
    raw("program_bool", _ACCRUE_API, "loyalty_program_id", loyalty_program_id=True),
    raw("matching_missing", _REDEEM_API, "matching", matching=DROP),
    raw("matching_sms", _REDEEM_API, "matching", matching="sms"),
    raw("email_missing", _ACCRUE_API, "email", email=DROP),
    raw("email_number", _REDEEM_API, "email", email=5),
    raw("is_temp_text", _REDEEM_API, "is_temp", is_temp="true"),
    raw("temp_timeout_zero", _REDEEM_API, "temp_timeout_sec", is_temp=True, temp_timeout_sec=0),
    raw("external_data_list", _ACCRUE_API, "external_data", external_data=[1, 2]),
    raw("created_at_word", _REDEEM_API, "created_at", created_at="yesterday"),
    raw("activation_after_expiry", _ACCRUE_API, "activation_date",
        activation_date="2030-01-01T00:00:00Z", expiration_date="2029-01-01T00:00:00Z"),
    raw("eid_number", _REDEEM_API, "transaction_eid", transaction_eid=17),
    raw("currency_iid_text", _ACCRUE_API, "points_currency_iid", points_currency_eid=DROP,
        points_currency_iid="1"),
    raw("custom_without_field_value", _REDEEM_API, "field_value", matching="custom",
        email=DROP, field_name="user_id"),
    raw("custom_field_value_list", _REDEEM_API, "field_value", matching="custom", email=DROP,
        field_name="user_id", field_value=[1]),
    raw("balance_program_missing", "loyalty/account/balance", "loyalty_program_id",
        loyalty_program_id=DROP),
    raw("transactions_limit_text", "loyalty/account/transactions", "limit", limit="5"),
    raw("transactions_limit_zero", "loyalty/account/transactions", "limit", limit=0),
    raw("commit_nothing", "loyalty/commit_transaction", "transaction_id", transaction_eid=DROP),
    raw("commit_eid_number", "loyalty/commit_transaction", "transaction_eid",
        transaction_eid=5),
]  # fmt: skip


CASES: list[Case] = [
    *HOOK_CASES,
    *OPERATOR_CASES,
    *CONNECTION_CASES,
    *BATCH_ROW_CASES,
    *BATCH_FILE_CASES,
    *SQL_CASES,
    *SANDBOX_CASES,
]
