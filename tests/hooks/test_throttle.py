"""Client-side pacing: ``max_requests_per_second`` and the shared Retry-After pause.

These measure behaviour (the hook waits at least what it must), never speed: each assertion
is a lower bound that holds on any machine, however slow.
"""

from __future__ import annotations

import threading
import time

from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
from airflow_provider_altcraft.sandbox import SandboxHandle
from tests.hooks.conftest import ANN, BALANCE, PROGRAM, MakeHook, api_calls

RATE = 10.0


def read(hook: AltcraftHook) -> None:
    hook.get_balance(loyalty_program_id=PROGRAM, matching=ANN)


def test_max_requests_per_second_spaces_calls(make_hook: MakeHook, sandbox: SandboxHandle) -> None:
    hook = make_hook(max_requests_per_second=RATE)
    calls = 5

    started = time.monotonic()
    for _ in range(calls):
        read(hook)
    elapsed = time.monotonic() - started

    assert elapsed >= (calls - 1) / RATE * 0.95  # 5 calls = 4 intervals of 0.1 s
    assert len(api_calls(sandbox, BALANCE)) == calls


def test_rate_is_shared_by_the_threads_of_one_hook(
    make_hook: MakeHook, sandbox: SandboxHandle
) -> None:
    hook = make_hook(max_requests_per_second=RATE)
    read(hook)  # creates the session and takes the first slot

    def three_reads() -> None:
        for _ in range(3):
            read(hook)

    threads = [threading.Thread(target=three_reads) for _ in range(2)]

    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # 6 more calls, each in a slot of its own: the first waits for the slot after the warm-up.
    assert elapsed >= 6 / RATE * 0.95
    assert len(api_calls(sandbox, BALANCE)) == 7


def test_retry_after_pauses_the_other_threads_too(
    hook: AltcraftHook, sandbox: SandboxHandle
) -> None:
    sandbox.set_faults(
        [{"kind": "http_429", "methods": [BALANCE], "max_count": 1, "retry_after": 1}]
    )
    first = threading.Thread(target=read, args=(hook,))
    first.start()
    deadline = time.monotonic() + 5
    while not api_calls(sandbox, BALANCE) and time.monotonic() < deadline:
        time.sleep(0.01)  # until the first thread has been told to slow down
    time.sleep(0.1)  # and has read the answer

    started = time.monotonic()
    hook.get_profile_tiers(loyalty_program_id=PROGRAM, tiers_group_id=7, matching=ANN)
    waited = time.monotonic() - started
    first.join()

    assert api_calls(sandbox, BALANCE)[0]["fault"] == "http_429"
    assert waited >= 0.5  # held back by the other thread's Retry-After, not sent at once
