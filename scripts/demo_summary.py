"""Print what the demo DAG run did, read back from the sandbox's ledger (not from the log)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from airflow_provider_altcraft.sandbox import SandboxHandle


def main(url: str, log_path: str) -> int:
    sandbox = SandboxHandle.connect(url, token="")
    log = Path(log_path).read_text(errors="replace")
    run_state = re.findall(r"state=(success|failed)", log)
    redemptions = [t for t in sandbox.ledger()["transactions"] if t["transaction_type"] == "redeem"]
    if not redemptions:
        print("No redemption reached the ledger; see the Airflow log.")
        return 1
    for transaction in redemptions:
        print(
            f"transaction_id {transaction['transaction_id']}  "
            f"eid {transaction['transaction_eid']}  amount {transaction['amount']}  "
            f"status {transaction['status']}"
        )
        balance = sandbox.balance(
            transaction["program_id"], transaction["profile_id"], transaction["points_currency_eid"]
        )
        print(
            f"balance of {transaction['profile_id']}: before {transaction['balance_before']}, "
            f"after the run {balance['active_balance']} (active), "
            f"{balance['total_balance']} (total)"
        )
    print(f"DAG run: {run_state[-1] if run_state else 'unknown'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
