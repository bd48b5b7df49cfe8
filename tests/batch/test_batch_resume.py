"""Resume in bounded work: a batch killed with SIGKILL mid-way is retried from its durable
progress record, looking up at most ``window`` rows (not every row, not every member)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_altcraft.batch.progress import BatchProgress
from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.batch import resume_support as rs
from tests.conftest import TOKEN

ROWS = 3000
WINDOW = 100


@pytest.fixture
def resume_sandbox(sandbox: SandboxHandle) -> Iterator[SandboxHandle]:
    """One member per row: a lookup of every row would read every member."""
    sandbox.load_seed(rs.seed(ROWS))
    rs.use_connection(sandbox.url, TOKEN)
    yield sandbox


def marks(path: Path) -> list[int]:
    # Complete lines only: a killed writer may have left half a line at the end.
    complete = path.read_text().split("\n")[:-1]
    return [json.loads(line)["h"] for line in complete if '"h"' in line]


def test_killed_batch_resumes_with_at_most_window_lookups(
    resume_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    sandbox = resume_sandbox
    path = tmp_path / "batch.progress"
    sandbox.set_faults([{"kind": "delay", "rate": 1.0, "delay_ms": 10}])
    first = rs.start_first_try(sandbox.url, TOKEN, count=ROWS, members=ROWS,
                               progress_path=str(path), window=WINDOW,
                               concurrency=8)  # fmt: skip
    rs.kill_when_recorded(first, str(path), ROWS // 2)
    time.sleep(0.5)  # requests the sandbox had already received when the client died land
    at_kill = rs.ledger_eid_counts(sandbox)
    assert ROWS // 2 <= len(at_kill) < ROWS, "killed mid-way"
    mark = max(marks(path))
    # The invariant: nothing at or past the durable mark reached Altcraft.
    sent_rows = {n for n in range(1, ROWS + 1) if rs.eid_of(n) in at_kill}
    assert max(sent_rows) < mark

    sandbox.clear_faults()
    sandbox.clear_requests()
    outcome = rs.send(count=ROWS, members=ROWS, progress_path=str(path), window=WINDOW,
                      concurrency=8, resume=True, check_existing=True)  # fmt: skip

    requests = rs.count_requests(sandbox)
    # Bounded by the window, not by the 3000 rows or members (today: every member is read).
    assert 0 < requests.get(rs.TRANSACTIONS_PATH, 0) <= WINDOW
    assert outcome["progress"]["looked_up"] <= WINDOW
    assert outcome["progress"]["skipped_done"] >= ROWS // 2 - WINDOW
    # Every row exactly once, and only the rows missing at the kill were sent now.
    eids = rs.ledger_eid_counts(sandbox)
    assert eids == {rs.eid_of(n): 1 for n in range(1, ROWS + 1)}
    assert requests.get(rs.REDEEM_PATH, 0) == ROWS - len(at_kill)
    assert outcome["statuses"] == {
        "already_present": len(at_kill),
        "sent": ROWS - len(at_kill),
    }


def test_no_row_is_sent_before_a_durable_mark_covers_it(
    resume_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Read the record from disk at every send: the mark already covers the row, and the rows
    handed out without a durable result never exceed the window."""
    path = tmp_path / "batch.progress"
    row_of = {rs.eid_of(n): n for n in range(1, 601)}
    checked: list[int] = []

    class CheckingHook(AltcraftHook):
        def send_points_request_once(self, request: Any, **kwargs: Any) -> Any:
            row = row_of[request.transaction_eid]
            # Complete lines only: another thread may be appending the last one right now.
            lines = [json.loads(line) for line in path.read_text().split("\n")[1:-1]]
            mark = max(line["h"] for line in lines if "h" in line)
            done = {line["r"] for line in lines if "r" in line}
            assert row < mark
            assert len([n for n in range(1, mark) if n not in done]) <= 20
            checked.append(row)
            return super().send_points_request_once(request, **kwargs)

    outcome = rs.send(count=600, members=ROWS, progress_path=str(path), window=20,
                      concurrency=4, resume=False, check_existing=None,
                      hook=CheckingHook(rs.CONN_ID, pool_maxsize=4))  # fmt: skip
    assert sorted(checked) == list(range(1, 601))
    assert outcome["statuses"] == {"sent": 600}
    assert len(marks(path)) >= 600 // 20  # the mark moved in steps of at most the window


def test_a_finished_batch_retried_asks_altcraft_nothing(
    resume_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    path = tmp_path / "batch.progress"
    rs.send(count=300, members=ROWS, progress_path=str(path), window=50, concurrency=4,
            resume=False, check_existing=None)  # fmt: skip
    resume_sandbox.clear_requests()
    outcome = rs.send(count=300, members=ROWS, progress_path=str(path), window=50,
                      concurrency=4, resume=True, check_existing=True)  # fmt: skip
    assert resume_sandbox.requests() == []
    assert outcome["statuses"] == {"already_present": 300}
    assert len(rs.ledger_eid_counts(resume_sandbox)) == 300


def test_a_record_of_another_batch_is_not_trusted(tmp_path: Path) -> None:
    path = str(tmp_path / "batch.progress")
    record = BatchProgress(path, fingerprint="one", window=10, resume=False)
    record.before_issue(1, lambda: False)
    record.record(1, "eid-1", "sent", "t-1", "digest-1")
    record.close()
    again = BatchProgress(path, fingerprint="one", window=10, resume=True)
    assert again.resumed and again.recorded(1, "eid-1", "digest-1") is not None
    assert again.recorded(1, "another-eid") is None  # the input changed: not skipped
    # Same position-derived eid, another request (a source read back in another order).
    assert again.recorded(1, "eid-1", "digest-2") is None
    assert again.must_look_up(1)  # so it is looked up, as any row below the mark
    again.close()
    other = BatchProgress(path, fingerprint="two", window=10, resume=True)
    assert not other.resumed and other.done == {}
    other.close()


def test_a_torn_last_line_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "batch.progress"
    record = BatchProgress(str(path), fingerprint="f", window=10, resume=False)
    record.before_issue(1, lambda: False)
    record.record(1, "e1", "sent", "t1")
    record.close()
    with open(path, "ab") as out:
        out.write(b'{"r": 2, "e": "e2", "s": "se')  # the crash cut this write
    again = BatchProgress(str(path), fingerprint="f", window=10, resume=True)
    assert set(again.done) == {1}
    assert again.must_look_up(2) is False or again.earlier_mark > 2
    again.close()
    assert path.read_bytes().endswith(b"\n")


def test_only_one_try_writes_the_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow_provider_altcraft.batch import progress as batch_progress

    monkeypatch.setattr(batch_progress, "LOCK_WAIT_SECONDS", 0.3)
    path = str(tmp_path / "batch.progress")
    holder = BatchProgress(path, fingerprint="f", window=10, resume=False)
    with pytest.raises(batch_progress.ProgressLocked, match="held by another try"):
        BatchProgress(path, fingerprint="f", window=10, resume=True)
    holder.close()
    BatchProgress(path, fingerprint="f", window=10, resume=True).close()


def test_operator_retry_resumes_from_the_record_beside_the_results(
    batch_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Through Airflow: try 1 ends with rows of unknown outcome (answers lost, lookups refused);
    try 2 finds the record beside the results file, skips every row it holds as done without
    a request, and handles only the rows try 1 could not settle."""
    from tests.batch.conftest import assert_each_once, make_rows
    from tests.batch.test_batch_runs import batch_dag, results
    from tests.dagrun import run_dag

    rows = make_rows(120)
    batch_sandbox.set_faults(
        [
            {"kind": "drop_after", "rate": 0.2, "methods": ["loyalty/redeeme_points"]},
            {"kind": "http_503", "rate": 1.0, "methods": ["loyalty/account/transactions"],
             "max_count": 40},
        ],
        seed=3,
    )  # fmt: skip
    results_path = tmp_path / "results.csv"
    dag = batch_dag(
        "batch_resume_record", f"rows={rows!r}, results_path={str(results_path)!r},", retries=2
    )

    run = run_dag(dag)

    assert run.state == "success" and run.try_numbers[("batch", -1)] == 2
    assert_each_once(batch_sandbox, 120)
    redeems = [r for r in batch_sandbox.requests() if r["path"].endswith("redeeme_points")]
    assert len(redeems) == 120  # nothing sent twice
    lines = [json.loads(line) for line in Path(f"{results_path}.progress").read_text().splitlines()]
    outcomes = [line for line in lines[1:] if "r" in line]
    first_try = outcomes[:120]
    unsettled = {line["r"] for line in first_try if line["s"] not in ("sent", "already_present")}
    assert unsettled, "the faults left no row unsettled"
    assert {line["r"] for line in outcomes[120:]} == unsettled  # try 2 touched only these
    assert all(line["s"] == "already_present" for line in outcomes[120:])
    assert [row["status"] for row in results(str(results_path))] == ["already_present"] * 120


def test_a_first_try_never_overwrites_another_runs_record(
    batch_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    from tests.batch.conftest import make_rows
    from tests.batch.test_batch_runs import batch_dag
    from tests.dagrun import run_dag

    record = tmp_path / "shared.progress"
    record.write_text('{"altcraft_batch_progress": 1, "fingerprint": "another run"}\n')
    dag = batch_dag("batch_record_taken", f"rows={make_rows(3)!r}, progress_path={str(record)!r},")

    assert run_dag(dag).state == "failed"
    assert batch_sandbox.requests() == []
    assert record.read_text().endswith('"another run"}\n')
