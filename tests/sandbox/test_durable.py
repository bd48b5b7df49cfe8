"""Durable mode: every acknowledged API write survives ``kill -9``; the default mode's
documented behaviour (a debounced snapshot, up to ~0.5 s of writes lost) is unchanged."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_provider_altcraft.sandbox import SEED_EXAMPLE, SandboxApp, SandboxHandle, run_sandbox
from airflow_provider_altcraft.sandbox import persistence as persistence_module
from airflow_provider_altcraft.sandbox.persistence import JOURNAL_FORMAT, StateFile

TOKEN = "durable-token"
P1 = {"matching": "profile_id", "profile_id": "p-1"}


def call(session: requests.Session, sb: SandboxHandle, method: str, **body: Any) -> Any:
    answer = session.post(
        f"{sb.url}/api/v1.1/{method}", json={"token": TOKEN, **body}, timeout=10
    ).json()
    assert answer["error"] == 0, answer
    return answer


def redeem(session: requests.Session, sb: SandboxHandle, eid: str, **extra: Any) -> str:
    body = {"loyalty_program_id": 1, **P1, "amount": "0.01", "transaction_eid": eid, **extra}
    tx_id: str = call(session, sb, "loyalty/redeeme_points", **body)["data"]["transaction_id"]
    return tx_id


def kill_9(sb: SandboxHandle) -> None:
    assert sb.pid is not None
    os.kill(sb.pid, signal.SIGKILL)


def api_transactions(state: Path) -> list[dict[str, Any]]:
    if not state.exists():
        return []
    doc = json.loads(state.read_text(encoding="utf-8"))
    return [t for t in doc["ledger"]["transactions"] if t["source_type"] == "api"]


def test_every_acknowledged_write_survives_kill_9(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    acked: dict[str, str] = {}  # eid -> transaction_id, from the answers
    with run_sandbox(token=TOKEN, seed=SEED_EXAMPLE, state_file=state, durable=True) as sb:
        start = sb.balance(1, "p-1", "stars")["total_balance"]
        with requests.Session() as session:
            temp = redeem(session, sb, "temp-1", is_temp=True)
            committed = call(session, sb, "loyalty/commit_transaction", transaction_id=temp)
            assert committed["data"]["transaction_id"] == temp
            call(session, sb, "loyalty/register_member", loyalty_program_id=2, **P1)
            task = call(
                session, sb, "loyalty/transactions_export", loyalty_program_id=1,
                points_currency_eid="stars", date_from="2000-01-01T00:00:00Z",
                date_to="2100-01-01T00:00:00Z",
            )["data"]["task_id"]  # fmt: skip

            # Sequential writes, then concurrent ones (their syncs are grouped).
            for i in range(100):
                acked[f"seq-{i}"] = redeem(session, sb, f"seq-{i}")

        def worker(n: int) -> None:
            with requests.Session() as own:
                for i in range(40):
                    eid = f"par-{n}-{i}"
                    acked[eid] = redeem(own, sb, eid)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        with requests.Session() as session:
            acked["last"] = redeem(session, sb, "last")
        kill_9(sb)  # right after the last answer
    assert len(acked) == 261
    # The snapshot alone holds none of them: the journal is what kept them.
    assert api_transactions(state) == []
    assert state.with_name("state.json.journal").stat().st_size > 0

    with run_sandbox(token=TOKEN, state_file=state, durable=True) as sb:
        by_eid = {t["transaction_eid"]: t for t in sb.transactions(source_type="api")}
        assert {eid: by_eid[eid]["transaction_id"] for eid in acked} == acked  # zero loss
        assert by_eid["temp-1"]["status"] == "committed"
        spent = Decimal("0.01") * (len(acked) + 1)
        assert sb.balance(1, "p-1", "stars")["total_balance"] == start - spent
        ledger = sb.ledger()
        assert any(m["program_id"] == 2 and m["profile_id"] == "p-1" for m in ledger["members"])
        assert task in {t["task_id"] for t in ledger["export_tasks"]}
        # Restarted in durable mode: the replayed journal was folded into a new snapshot.
        assert len(api_transactions(state)) == len(acked) + 1


def test_control_changes_survive_kill_9(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with run_sandbox(token=TOKEN, seed=SEED_EXAMPLE, state_file=state, durable=True) as sb:
        with requests.Session() as session:
            redeem(session, sb, "before-reset")
        sb.reset()  # acknowledged: the reset must not be undone by replaying the journal
        sb.configure(duplicate_eid="refuse")
        with requests.Session() as session:
            after = redeem(session, sb, "after-reset")
        kill_9(sb)
    with run_sandbox(token=TOKEN, state_file=state, durable=True) as sb:
        rows = sb.transactions(source_type="api")
        assert [(t["transaction_eid"], t["transaction_id"]) for t in rows] == [
            ("after-reset", after)
        ]
        assert sb.config()["duplicate_eid"] == "refuse"


def test_a_write_cut_by_the_crash_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with run_sandbox(token=TOKEN, seed=SEED_EXAMPLE, state_file=state, durable=True) as sb:
        with requests.Session() as session:
            kept = redeem(session, sb, "kept")
        kill_9(sb)
    journal = state.with_name("state.json.journal")
    with journal.open("ab") as handle:
        handle.write(b'{"transactions":[{"transaction_id":"cut')  # never acknowledged
    with run_sandbox(token=TOKEN, state_file=state, durable=True) as sb:
        assert [t["transaction_id"] for t in sb.transactions(source_type="api")] == [kept]


def test_a_journal_already_in_the_snapshot_is_not_replayed(tmp_path: Path) -> None:
    """A crash between writing a snapshot and restarting the journal: the old journal's
    generation no longer matches the snapshot's, so a reset is not undone by it."""
    state = tmp_path / "state.json"
    journal = state.with_name("state.json.journal")
    with run_sandbox(token=TOKEN, seed=SEED_EXAMPLE, state_file=state, durable=True) as sb:
        with requests.Session() as session:
            redeem(session, sb, "old")
        kill_9(sb)
    old_journal = journal.read_bytes()
    assert json.loads(old_journal.split(b"\n")[0])["format"] == JOURNAL_FORMAT
    with run_sandbox(token=TOKEN, state_file=state, durable=True) as sb:
        sb.reset()
        kill_9(sb)
    journal.write_bytes(old_journal)  # as if the crash came before the journal restart
    with run_sandbox(token=TOKEN, state_file=state, durable=True) as sb:
        assert sb.transactions(source_type="api") == []


def test_modes_switch_over_the_same_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    journal = state.with_name("state.json.journal")
    with (
        run_sandbox(token=TOKEN, seed=SEED_EXAMPLE, state_file=state) as sb,
        requests.Session() as session,
    ):
        first = redeem(session, sb, "default-mode")
    assert not journal.exists()  # the default mode never writes a journal
    with run_sandbox(token=TOKEN, state_file=state, durable=True) as sb:
        with requests.Session() as session:
            second = redeem(session, sb, "durable-mode")
        kill_9(sb)
    # A default-mode start still replays the journal, folds it in and removes it.
    with run_sandbox(token=TOKEN, state_file=state) as sb:
        rows = sb.transactions(source_type="api")
        assert [t["transaction_id"] for t in rows] == [first, second]
        assert not journal.exists()


def test_default_mode_is_unchanged(tmp_path: Path) -> None:
    """Documented: the snapshot is rewritten at most every ~0.5 s, so a kill -9 loses at most
    the last ~0.5 s of writes; older ones survive; no journal is written."""
    state = tmp_path / "state.json"
    with run_sandbox(token=TOKEN, seed=SEED_EXAMPLE, state_file=state) as sb:
        with requests.Session() as session:
            old = [redeem(session, sb, f"old-{i}") for i in range(20)]
            time.sleep(1.5)  # > the debounce: these are in the snapshot by now
            redeem(session, sb, "recent")
        kill_9(sb)
    assert not state.with_name("state.json.journal").exists()
    with run_sandbox(token=TOKEN, state_file=state) as sb:
        ids = {t["transaction_id"] for t in sb.transactions(source_type="api")}
        assert set(old) <= ids  # "recent" may or may not be there: that is the default mode


def test_the_journal_is_compacted_when_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(persistence_module, "JOURNAL_COMPACT_BYTES", 4096)
    state = tmp_path / "state.json"
    journal = state.with_name("state.json.journal")
    with run_sandbox(
        token=TOKEN, seed=SEED_EXAMPLE, state_file=state, durable=True, in_process=True
    ) as sb:
        with requests.Session() as session:
            ids = [redeem(session, sb, f"c-{i}") for i in range(60)]
        generation = json.loads(state.read_text(encoding="utf-8"))["generation"]
        assert generation > 2  # compacted several times (1 = the start)
        assert journal.stat().st_size < 4096 + 2048
        # What the snapshot holds plus the journal is everything (loaded from a copy: loading
        # folds the journal into the snapshot).
        copy = tmp_path / "copy"
        copy.mkdir()
        for path in (state, journal):
            shutil.copy(path, copy / path.name)
        app = SandboxApp(token=TOKEN)
        assert StateFile(copy / state.name).load(app)
        assert {t["transaction_id"] for t in app.ledger.transactions({"source_type": "api"})} == (
            set(ids)
        )


def test_durable_needs_a_state_file(capsys: pytest.CaptureFixture[str]) -> None:
    from airflow_provider_altcraft.sandbox.cli import main

    assert main(["--durable", "--port", "0"]) == 2
    assert "--durable needs --state-file" in capsys.readouterr().err
    with pytest.raises(Exception, match="state_file"), run_sandbox(durable=True):
        pass


def test_a_write_whose_answer_a_fault_drops_is_durable_too(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with run_sandbox(token=TOKEN, seed=SEED_EXAMPLE, state_file=state, durable=True) as sb:
        sb.set_faults([{"kind": "drop_after", "methods": ["loyalty/redeeme_points"]}])
        body = {
            "token": TOKEN,
            "loyalty_program_id": 1,
            **P1,
            "amount": "1",
            "transaction_eid": "x",
        }
        with pytest.raises(requests.ConnectionError):
            requests.post(f"{sb.url}/api/v1.1/loyalty/redeeme_points", json=body, timeout=10)
        kill_9(sb)
    with run_sandbox(token=TOKEN, state_file=state) as sb:
        assert [t["transaction_eid"] for t in sb.transactions(source_type="api")] == ["x"]


def test_a_failing_disk_fails_the_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: StateFile, data: bytes) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(StateFile, "append_journal", broken)
    state = tmp_path / "state.json"
    with (
        run_sandbox(
            token=TOKEN, seed=SEED_EXAMPLE, state_file=state, durable=True, in_process=True
        ) as sb,
        requests.Session() as session,
    ):
        body = {"token": TOKEN, "loyalty_program_id": 1, **P1, "amount": "1"}
        for _ in range(2):  # the first failure, then every later write
            answer = session.post(
                f"{sb.url}/api/v1.1/loyalty/redeeme_points", json=body, timeout=10
            )
            assert answer.status_code == 500
            assert answer.json()["error_text"] == "State file could not be written"
        reads = session.post(f"{sb.url}/api/v1.1/loyalty/account/balance", json=body, timeout=10)
        assert reads.status_code == 200  # reads still work
        assert sb.health()
