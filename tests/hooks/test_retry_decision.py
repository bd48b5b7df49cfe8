"""The retry decision, table-driven: (what happened, resend safe, retries left) -> action.

Pure logic (no HTTP): the same function the call loop uses (hooks/transport.py ``decide``).
"""

from __future__ import annotations

import pytest

from airflow_provider_altcraft.hooks.transport import Decision, decide

SENT, NOT_SENT = True, False
SAFE, MONEY = True, False

# (status or None for a transport error, sent, resend_safe, retries_left, Retry-After given,
#  http_503_not_applied) -> expected decision
TABLE: list[tuple[int | None, bool, bool, int, bool, bool, Decision]] = [
    # transport errors
    (None, NOT_SENT, MONEY, 3, False, False, Decision("retry")),  # refused: nothing sent
    (None, NOT_SENT, MONEY, 0, False, False, Decision("give_up")),
    (None, SENT, MONEY, 3, False, False, Decision("outcome_unknown")),  # dropped mid-way
    (None, SENT, SAFE, 3, False, False, Decision("retry", maybe_applied=True)),
    (None, SENT, SAFE, 0, False, False, Decision("give_up")),
    (None, NOT_SENT, SAFE, 1, False, False, Decision("retry")),
    # redirects: never followed, whatever the request
    (301, SENT, SAFE, 3, False, False, Decision("redirect")),
    (307, SENT, MONEY, 3, False, False, Decision("redirect")),
    (308, SENT, MONEY, 0, False, False, Decision("redirect")),
    # 429: not processed, so even money is retried; Retry-After pauses everyone
    (429, SENT, MONEY, 3, True, False, Decision("retry", pause_all=True)),
    (429, SENT, MONEY, 3, False, False, Decision("retry", shrink=True)),
    (429, SENT, SAFE, 0, True, False, Decision("answer")),  # no retry left: the typed error
    (429, SENT, MONEY, 0, False, False, Decision("answer")),
    # 503: unknown by default for money; re-sent only when the connection says "not applied"
    (503, SENT, MONEY, 3, False, False, Decision("outcome_unknown")),
    (503, SENT, MONEY, 3, True, False, Decision("outcome_unknown")),
    (503, SENT, MONEY, 3, False, True, Decision("retry", shrink=True)),
    (503, SENT, MONEY, 3, True, True, Decision("retry", pause_all=True)),
    (503, SENT, SAFE, 3, False, False, Decision("retry", shrink=True, maybe_applied=True)),
    (503, SENT, SAFE, 2, True, False, Decision("retry", pause_all=True, maybe_applied=True)),
    (503, SENT, SAFE, 0, False, False, Decision("answer")),
    # other 5xx: unknown for money, retried for safe requests (no overload signal)
    (500, SENT, MONEY, 3, False, False, Decision("outcome_unknown")),
    (502, SENT, MONEY, 3, False, True, Decision("outcome_unknown")),
    (504, SENT, SAFE, 3, False, False, Decision("retry", maybe_applied=True)),
    (500, SENT, SAFE, 0, False, False, Decision("answer")),
    # answers read as envelopes (success, or the typed error they stand for)
    (200, SENT, MONEY, 3, False, False, Decision("answer")),
    (200, SENT, SAFE, 0, False, False, Decision("answer")),
    (400, SENT, MONEY, 3, False, False, Decision("answer")),
    (401, SENT, SAFE, 3, False, False, Decision("answer")),
    (404, SENT, MONEY, 3, True, False, Decision("answer")),
]


@pytest.mark.parametrize(
    ("status", "sent", "resend_safe", "retries_left", "retry_after", "not_applied", "expected"),
    TABLE,
    ids=[
        f"{status or 'transport'}-{'sent' if sent else 'unsent'}-{'safe' if safe else 'money'}"
        f"-left{left}{'-RA' if ra else ''}{'-503na' if na else ''}"
        for status, sent, safe, left, ra, na, _ in TABLE
    ],
)
def test_decide(
    status: int | None,
    sent: bool,
    resend_safe: bool,
    retries_left: int,
    retry_after: bool,
    not_applied: bool,
    expected: Decision,
) -> None:
    decision = decide(
        status=status,
        sent=sent,
        resend_safe=resend_safe,
        retries_left=retries_left,
        has_retry_after=retry_after,
        http_503_not_applied=not_applied,
    )

    assert decision == expected


def test_money_is_never_retried_after_it_may_have_been_applied() -> None:
    """The property behind the table: whatever happened, a request that is not safe to resend
    is retried only when it surely was not processed (not sent, or a 429 / an opted-in 503)."""
    for status in (None, *range(200, 600)):
        for sent in (True, False):
            for retry_after in (True, False):
                for not_applied in (True, False):
                    decision = decide(
                        status=status, sent=sent, resend_safe=False, retries_left=5,
                        has_retry_after=retry_after, http_503_not_applied=not_applied,
                    )  # fmt: skip
                    if decision.action != "retry":
                        continue
                    surely_unprocessed = (
                        (status is None and not sent)
                        or status == 429
                        or (status == 503 and not_applied)
                    )
                    assert surely_unprocessed, (status, sent, retry_after, not_applied)
                    assert not decision.maybe_applied
