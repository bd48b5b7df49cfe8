"""``altcraft-probe`` (also ``python -m airflow_provider_altcraft.probe``).

Prints the calls it will make and stops unless ``--yes`` is given; then asks each question,
restores the member's balance, prints the facts as a table and writes them (``--profile-out``).
Airflow is imported only after ``--yes``: the plan needs none of it.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_altcraft.probe import facts as F

if TYPE_CHECKING:
    from airflow_provider_altcraft.models import Matching
    from airflow_provider_altcraft.probe.runner import ProbeResult

__all__ = ["build_parser", "main", "plan", "profile_document", "render_table"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_CONFIRMED = 2
MATCHING_MODES = ("email", "phone", "profile_id", "custom")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="altcraft-probe",
        description=(
            "Measure what a real Altcraft account does where the public guide is silent, on a "
            "dedicated test member, leaving its balance exactly as it was. Without --yes it "
            "only prints the calls it would make."
        ),
    )
    parser.add_argument("--conn-id", default="altcraft_default", help="Airflow connection id")
    parser.add_argument("--loyalty-program-id", type=int, required=True)
    parser.add_argument(
        "--member",
        required=True,
        help="the dedicated test member: email:ADDR, phone:+NUMBER, profile_id:ID or "
        "custom:FIELD=VALUE",
    )
    currency = parser.add_mutually_exclusive_group(required=True)
    currency.add_argument("--currency-eid", help="points currency (external id), e.g. stars")
    currency.add_argument("--currency-iid", type=int, help="points currency (internal id)")
    parser.add_argument(
        "--amount", default="1", help="points per temporary transaction (default 1: smallest)"
    )
    parser.add_argument(
        "--temp-timeout-sec",
        type=int,
        default=600,
        help="temp_timeout_sec of the probe's temporary transactions (default 600): what "
        "Altcraft rolls back by itself if the probe is interrupted",
    )
    parser.add_argument(
        "--export-timeout-sec", type=float, default=120.0, help="wait for the export task"
    )
    parser.add_argument("--read-only", action="store_true", help="only calls that move no points")
    parser.add_argument("--profile-out", metavar="FILE", help="write the profile (JSON) here")
    parser.add_argument("--yes", action="store_true", help="make the calls (default: plan only)")
    return parser


def parse_member(text: str) -> Matching:
    from airflow_provider_altcraft.models import Matching

    mode, sep, value = text.partition(":")
    if not sep or mode not in MATCHING_MODES:
        raise ValueError(
            "--member must be email:ADDR, phone:+NUMBER, profile_id:ID or custom:FIELD=VALUE"
        )
    if mode == "email":
        return Matching.by_email(value)
    if mode == "phone":
        return Matching.by_phone(value)
    if mode == "profile_id":
        return Matching.by_profile_id(value)
    field_name, eq, field_value = value.partition("=")
    if not eq:
        raise ValueError("--member custom:FIELD=VALUE needs '='")
    return Matching.by_custom_field(field_name, field_value)


def plan(args: argparse.Namespace) -> list[str]:
    """The calls the probe will make, in order (printed before anything is sent)."""
    amount = args.amount
    currency = args.currency_eid or f"iid {args.currency_iid}"
    member = "the member" if not args.member.startswith("email:") else "the member's e-mail"
    lines = [
        "tasks/status with a made-up task id (token check; expects 'not found')",
        "loyalty/account/balance of the member (the balance to restore)",
        "loyalty/account/balance of a made-up profile_id (unknown-member error)",
    ]
    if args.member.startswith("email:"):
        lines.append(f"loyalty/account/balance with {member} in other letter case (matching)")
    lines += [
        "loyalty/account/balance without a currency (default currency or refusal)",
        "tasks/status twice more: token only in the body, token only in Authorization: Bearer",
        "loyalty/account/expiring_points twice: RFC3339 bounds, then bare dates",
    ]
    if args.read_only:
        lines.append("loyalty/account/transactions of the member (fields, types; read only)")
    else:
        timeout = args.temp_timeout_sec
        lines += [
            f"loyalty/accrue_points: TEMPORARY accrual of {amount} {currency} "
            f"(temp_timeout_sec={timeout}), eid altcraft-probe-<run>-dup",
            f"loyalty/accrue_points: a second TEMPORARY accrual of {amount} with the SAME eid "
            "(duplicate eid: refused or accepted)",
            "loyalty/account/transactions (how a held transaction is listed)",
            "loyalty/rollback_transaction of both temporary accruals (nothing was ever added)",
            "loyalty/rollback_transaction of the first one again ('already rolled back' wording)",
            "loyalty/rollback_transaction of a made-up transaction id (unknown-transaction error)",
            f"loyalty/account/balance, then loyalty/redeeme_points: TEMPORARY redemption of the "
            f"active balance + {amount} (insufficient points; rolled back at once if accepted)",
            f"loyalty/accrue_points: TEMPORARY accrual of {amount}, then "
            f"loyalty/commit_transaction (+{amount} permanent: does the id change?)",
            "loyalty/commit_transaction of it again ('already committed' wording)",
            f"loyalty/redeeme_points: TEMPORARY redemption of {amount}, then "
            f"loyalty/commit_transaction (-{amount} permanent: the balance is back where it was)",
            "loyalty/account/transactions (fields, states, types of the probe's transactions)",
        ]
    lines += [
        "loyalty/transactions_export of the last minutes, tasks/status until it ends, and a "
        "download of its first file (only the CSV header is read)",
    ]
    if not args.read_only:
        lines += [
            "only if an answer to an accrual/redemption/commit is lost: "
            "loyalty/account/transactions to look its eid up",
            "cleanup: roll back anything still temporary (by id, or by eid after a lost "
            "answer); if only one half was committed, cancel it (loyalty/cancel_transaction)",
            "loyalty/account/balance of the member: must equal the first reading, nothing held",
        ]
    return lines


def profile_document(result: ProbeResult, *, read_only: bool, amount: str) -> dict[str, Any]:
    from airflow_provider_altcraft import __version__

    return {
        "format": F.PROFILE_FORMAT,
        "created_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "probe": {
            "version": __version__,
            "mode": "read-only" if read_only else "full",
            "amount": amount,
        },
        "facts": result.facts,
    }


def render_table(facts: dict[str, F.Fact], width: int = 160) -> str:
    headers = ("question", "our default assumption", "this server", "consequence for the provider")
    widths = [30, 34, 44, max(30, width - 30 - 34 - 44 - 9)]
    rows: list[tuple[str, str, str, str]] = []
    for question in F.QUESTIONS:
        fact = facts.get(question.name) or F.unknown("not probed")
        consequence = (
            question.consequence(fact) if fact.get("known") else "the provider keeps its default"
        )
        rows.append((question.question, question.assumption, F.render_value(fact), consequence))
    lines: list[str] = []

    def emit(cells: Sequence[str]) -> None:
        wrapped = [textwrap.wrap(c, w) or [""] for c, w in zip(cells, widths, strict=True)]
        for i in range(max(map(len, wrapped))):
            parts = [
                (col[i] if i < len(col) else "").ljust(w)
                for col, w in zip(wrapped, widths, strict=True)
            ]
            lines.append(" | ".join(parts).rstrip())

    emit(headers)
    lines.append("-+-".join("-" * w for w in widths))
    for row in rows:
        emit(row)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, *, say: Callable[[str], None] | None = None) -> int:
    out: Callable[[str], None] = say or (lambda text: print(text, flush=True))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        amount = Decimal(args.amount)
        if amount <= 0:
            raise InvalidOperation
    except InvalidOperation:
        parser.error("--amount must be a positive decimal")
    if args.temp_timeout_sec < 1:
        parser.error("--temp-timeout-sec must be >= 1")
    mode = "read-only" if args.read_only else "full (temporary transactions, all undone)"
    out(f"altcraft-probe: connection {args.conn_id!r}, program {args.loyalty_program_id}, {mode}")
    out("It will make these calls, in this order:")
    for number, line in enumerate(plan(args), 1):
        out(f"  {number:2}. {line}")
    if not args.yes:
        out("Nothing was sent. Run again with --yes to make these calls (use a test member).")
        return EXIT_NOT_CONFIRMED
    try:
        matching = parse_member(args.member)
    except ValueError as exc:  # AltcraftValidationError is a ValueError
        out(f"altcraft-probe: {exc}")
        return EXIT_NOT_CONFIRMED
    from airflow_provider_altcraft.hooks.altcraft import AltcraftHook
    from airflow_provider_altcraft.probe.runner import ProbeRun, Target

    target = Target(
        loyalty_program_id=args.loyalty_program_id,
        matching=matching,
        points_currency_iid=args.currency_iid,
        points_currency_eid=args.currency_eid,
        amount=amount,
        temp_timeout_sec=args.temp_timeout_sec,
        export_timeout_sec=args.export_timeout_sec,
    )
    hook = AltcraftHook(args.conn_id)
    try:
        out(f"Target: {hook.settings.base_url}")
        result = ProbeRun(hook, target, read_only=args.read_only, say=out).run()
    except Exception as exc:  # the connection cannot be read, and the like
        out(f"altcraft-probe: {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    finally:
        hook.close()
    out("")
    out(render_table(result.facts))
    out("")
    if result.aborted is not None:
        out(f"STOPPED: {result.aborted}")
    if not args.read_only:
        if result.balance_restored:
            out(f"Balance restored: {result.balance_note}.")
        elif result.balance_restored is False:
            out(f"BALANCE NOT RESTORED: {result.balance_note}.")
        elif result.balance_note:
            out(f"BALANCE NOT CHECKED: {result.balance_note}.")
        if result.nothing_held:
            out("Nothing is left held by the probe.")
        elif result.nothing_held is False:
            out("SOMETHING IS STILL HELD or open (a temporary transaction of the probe).")
    if result.manual:
        out("Undo by hand (Altcraft UI or API), then check the member's balance:")
        for line in result.manual:
            out(f"  - {line}")
    if result.transactions:
        out("Every transaction this run made (for checking):")
        for line in result.transactions:
            out(f"  - {line}")
    if args.profile_out:
        document = profile_document(result, read_only=args.read_only, amount=str(amount))
        path = Path(args.profile_out)
        path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
        out(f"Profile written to {path}")
    return EXIT_OK if result.ok else EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
