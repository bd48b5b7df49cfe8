"""Row reading, validation reports and chunking (no HTTP: these run before any request)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from airflow_provider_altcraft.batch.rows import (
    RowProblem,
    RowSource,
    RowSpec,
    chunk_rows,
    validate_rows,
)
from airflow_provider_altcraft.exceptions import AltcraftValidationError
from tests.batch.conftest import make_rows, write_csv


def spec(**overrides: object) -> RowSpec:
    values: dict[str, object] = {
        "operation": "redeem",
        "constants": {"loyalty_program_id": 1, "points_currency_eid": "stars"},
        "column_mapping": {},
        "row_key_column": None,
        "key_scope": "dag\ntask",
        "position_namespace": uuid.UUID(int=1),
    }
    values.update(overrides)
    return RowSpec(**values)  # type: ignore[arg-type]


def problems_of(source: RowSource, row_spec: RowSpec) -> list[str]:
    found: list[RowProblem] = []
    validate_rows(source, row_spec, found.append)
    return [str(problem) for problem in found]


def test_every_bad_row_is_reported_with_number_and_column() -> None:
    rows = make_rows(6)
    rows[0]["amount"] = "abc"
    rows[2]["email"] = "nobody"
    rows[3]["amount"] = 2.5
    rows[4].pop("email")
    rows[4]["amount"] = "0"

    found = problems_of(RowSource.build(rows=rows), spec())

    assert [problem.split(":")[0] for problem in found] == [
        "row 1, column amount",
        "row 3, column email",
        "row 4, column amount",
        "row 5, column matching",
        "row 5, column amount",
    ]
    assert "float 2.5 is refused" in found[2]
    assert not any("nobody" in p or "member" in p for p in found)  # no personal data


def test_repeated_row_keys_are_invalid() -> None:
    rows = make_rows(4)
    rows[3]["order_id"] = rows[1]["order_id"]

    found = problems_of(RowSource.build(rows=rows), spec(row_key_column="order_id"))

    assert found == ["row 4, column order_id: repeats the transaction of row 2"]


def test_column_mapping_and_by_sign(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "rows.csv",
        [{"who": "member1@example.com", "points": "-2.50"}, {"who": "member2@example.com",
         "points": "3"}],
    )  # fmt: skip
    row_spec = spec(operation="by_sign", column_mapping={"who": "email", "points": "amount"})

    prepared = [row_spec.prepare(n, row) for n, row in RowSource.build(rows_file=path).read()]

    assert [(p.request.operation, str(p.request.amount)) for p in prepared] == [  # type: ignore[union-attr]
        ("redeem", "2.50"),
        ("accrue", "3"),
    ]


def test_chunks_of_a_file_cover_every_row_once(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "rows.csv", make_rows(25))

    chunks = chunk_rows(rows_file=str(path), chunk_size=10)

    assert [(c["row_start"], c["row_stop"]) for c in chunks] == [(1, 11), (11, 21), (21, 31)]
    numbers = [
        number
        for chunk in chunks
        for number, _ in RowSource.build(
            rows_file=chunk["rows_file"], row_start=chunk["row_start"], row_stop=chunk["row_stop"]
        ).read()
    ]
    assert numbers == list(range(1, 26))


def test_chunks_of_a_list() -> None:
    chunks = chunk_rows(make_rows(5), chunk_size=2)
    assert [len(chunk["rows"]) for chunk in chunks] == [2, 2, 1]


def test_exactly_one_input_is_required() -> None:
    with pytest.raises(AltcraftValidationError, match="several inputs"):
        RowSource.build(rows=[], rows_file="x.csv")
    with pytest.raises(AltcraftValidationError, match="sql_conn_id: is missing"):
        RowSource.build(sql="SELECT 1")


def test_a_templated_batch_without_is_temp_parses_and_a_bad_is_temp_does_not() -> None:
    from airflow_provider_altcraft.exceptions import AltcraftValidationError
    from airflow_provider_altcraft.operators.batch import AltcraftBatchRedeemPointsOperator

    sql = "SELECT * FROM adjustments WHERE day = '{{ ds }}'"
    operator = AltcraftBatchRedeemPointsOperator(
        task_id="t", loyalty_program_id=1, sql=sql, sql_conn_id="warehouse"
    )
    assert operator.is_temp is None  # each row may set it
    with pytest.raises(AltcraftValidationError, match=r"^is_temp: 'maybe' is not a boolean"):
        AltcraftBatchRedeemPointsOperator(
            task_id="t", loyalty_program_id=1, sql=sql, sql_conn_id="warehouse", is_temp="maybe"
        )


def test_a_row_without_a_currency_is_invalid_before_anything_is_sent() -> None:
    """Exactly-once lookups search one currency (loyalty/account/transactions requires it)."""
    row_spec = spec(constants={"loyalty_program_id": 1})
    rows = [{"email": "ann@example.com", "amount": "1"}, {"email": "ann@example.com",
            "amount": "2", "points_currency_eid": "miles"}]  # fmt: skip

    [problem] = problems_of(RowSource(rows=rows), row_spec)
    assert problem.startswith("row 1, column points_currency_eid: is missing")
    assert "default_points_currency_eid" in problem


# -- hostile files: one clear sentence with the row number, never a raw decoding error --------


def read_problems(source: RowSource, row_spec: RowSpec | None = None) -> list[str]:
    return problems_of(source, row_spec or spec())


def test_a_row_that_is_not_utf8_is_a_row_problem(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(
        b"email,amount\n"
        b"member1@example.com,1.00\n"
        b"j\xf6rg@example.com,2.00\n"  # Latin-1
        b"member3@example.com,3.00\n"
    )

    found = read_problems(RowSource.build(rows_file=path))

    assert found == [
        "row 2, column (row): line 3 is not valid UTF-8 text (byte 0xf6 at position 2); "
        "save the file as UTF-8"
    ]


def test_a_header_that_is_not_utf8_stops_the_read(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes("\ufeffemail,amount\n".encode("utf-16") + b"x\n")

    with pytest.raises(AltcraftValidationError) as caught:
        read_problems(RowSource.build(rows_file=path))

    assert str(caught.value).startswith("rows_file: the header line is not valid UTF-8 text")
    assert "UnicodeDecodeError" not in str(caught.value)


def test_an_oversized_csv_field_names_the_row(tmp_path: Path) -> None:
    import csv

    path = tmp_path / "rows.csv"
    big = "x" * (csv.field_size_limit() + 10)
    path.write_text(f"email,amount,note\nmember1@example.com,1.00,a\nmember2@example.com,2,{big}\n")

    with pytest.raises(AltcraftValidationError) as caught:
        read_problems(RowSource.build(rows_file=path))

    message = str(caught.value)
    assert message.startswith("rows_file: row 2 (line 3) cannot be read as CSV: ")
    assert "field larger than field limit" in message and "_csv.Error" not in message


def test_a_row_with_more_fields_than_the_header_is_a_row_problem(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("email,amount\nmember1@example.com,1.00,extra\nmember2@example.com,2\n")

    found = read_problems(RowSource.build(rows_file=path))

    assert found == ["row 1, column (row): has 3 fields, the header has 2"]


def test_malformed_json_lines_are_row_problems(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(
        b'{"email": "member1@example.com", "amount": "1.00"}\n'
        b'{"email": "member2@example.com", "amount": \n'
        b"[1, 2]\n"
        b'{"email": "j\xf6rg@example.com", "amount": "1"}\n' + b"[" * 100_000 + b"\n"
    )

    found = read_problems(RowSource.build(rows_file=path))

    assert [problem.split(":")[0] for problem in found] == [f"row {n}, column (row)" for n in
                                                            (2, 3, 4, 5)]  # fmt: skip
    assert "line 2 is not valid JSON (Expecting value at column 44)" in found[0]
    assert "is a JSON list, not an object" in found[1]
    assert "not valid UTF-8 text" in found[2]
    assert "nested too deeply" in found[3]
    assert not any("JSONDecodeError" in p or "Traceback" in p for p in found)


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda d: d / "missing.csv", "does not exist"),
        (lambda d: d, "is a directory, not a file"),
    ],
)
def test_a_rows_file_that_cannot_be_opened_is_one_sentence(
    tmp_path: Path, make: object, problem: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]

    with pytest.raises(AltcraftValidationError) as caught:
        read_problems(RowSource.build(rows_file=path))

    assert str(caught.value).startswith("rows_file: ")
    assert problem in str(caught.value)


def test_problems_name_the_users_own_column_after_mapping() -> None:
    mapping = {"mail": "email", "points": "amount", "ref": "transaction_eid"}
    rows = [
        {"mail": "nobody", "points": "1.00"},
        {"mail": "member1@example.com", "points": "\u0663"},
        {"mail": "member1@example.com", "points": "1", "ref": "order-1\nINFO forged"},
    ]

    found = problems_of(RowSource.build(rows=rows), spec(column_mapping=mapping,
                        constants={"loyalty_program_id": 1, "points_currency_eid": "stars",
                                   "matching": "email"}))  # fmt: skip

    assert [problem.split(":")[0] for problem in found] == [
        "row 1, column mail",
        "row 2, column points",
        "row 3, column ref",
    ]
    assert not any("forged" in problem for problem in found)


def test_an_empty_and_a_missing_value_say_the_same() -> None:
    mapping = {"mail": "email", "points": "amount"}
    constants = {"loyalty_program_id": 1, "points_currency_eid": "stars", "matching": "email"}
    rows = [
        {"mail": "", "points": ""},
        {},
        {"mail": "  ", "points": "  "},
        {"mail": None, "points": None},
    ]

    found = problems_of(
        RowSource.build(rows=rows), spec(column_mapping=mapping, constants=constants)
    )

    by_row: dict[str, list[str]] = {}
    for problem in found:
        number, rest = problem.split(", ", 1)
        by_row.setdefault(number, []).append(rest)
    assert by_row["row 1"] == by_row["row 2"] == by_row["row 3"] == by_row["row 4"]
    assert by_row["row 1"][0].startswith("column mail: is missing")
    assert by_row["row 1"][1].startswith("column points: is missing")


def test_by_sign_refuses_padded_amounts() -> None:
    found = problems_of(
        RowSource.build(rows=[{"email": "member1@example.com", "amount": " -5"}]),
        spec(operation="by_sign"),
    )
    assert len(found) == 1 and found[0].startswith("row 1, column amount: ")
