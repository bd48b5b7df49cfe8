"""``altcraft-sandbox`` console script (also ``python -m airflow_provider_altcraft.sandbox``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from airflow_provider_altcraft.sandbox import SEED_EXAMPLE
from airflow_provider_altcraft.sandbox.app import SandboxApp
from airflow_provider_altcraft.sandbox.config import ConfigError, SandboxConfig
from airflow_provider_altcraft.sandbox.persistence import StateFile
from airflow_provider_altcraft.sandbox.seed import SeedError, load_seed_file
from airflow_provider_altcraft.sandbox.server import RemoteBindError, SandboxServer, check_bind_host

__all__ = ["DEFAULT_TOKEN", "PACKAGED_SEEDS", "build_parser", "main", "seed_path"]

DEFAULT_TOKEN = "sandbox-token"

#: Seeds shipped in the package, by the name ``--seed`` accepts from any directory.
PACKAGED_SEEDS: dict[str, Path] = {"example": SEED_EXAMPLE}


def seed_path(value: str) -> Path:
    """Where ``--seed VALUE`` reads from: a packaged seed's name (``example``) names the file
    shipped in the package, whatever the working directory; anything else is a path."""
    return PACKAGED_SEEDS.get(value, Path(value))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="altcraft-sandbox",
        description="Local stand-in for the Altcraft loyalty API v1.1 (for tests and demos).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host that is not a loopback address (the /_sandbox/ control endpoints "
        "have no authentication)",
    )
    parser.add_argument("--port", type=int, default=8642, help="port; 0 = pick a free one")
    parser.add_argument("--token", help="API token (default: the seed's token, else sandbox-token)")
    parser.add_argument(
        "--seed",
        metavar="FILE|NAME",
        help="seed JSON file (initial state and reset target), or the name of a seed shipped "
        f"in the package ({', '.join(sorted(PACKAGED_SEEDS))}); write ./example for a file "
        "called example",
    )
    parser.add_argument("--state-file", help="persist state here; loaded at start if it exists")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="with --state-file: every acknowledged API write survives a crash (fsync'd journal)",
    )
    parser.add_argument("--duplicate-eid", choices=("accept", "refuse"))
    parser.add_argument("--app-error-http-status", choices=("200", "mapped"))
    parser.add_argument("--export-delay-sec", type=float)
    parser.add_argument("--export-mode", choices=("ok", "fail", "stuck"))
    parser.add_argument("--default-temp-timeout-sec", type=int)
    parser.add_argument(
        "--config", metavar="JSON", help="options as a JSON object (same keys as /_sandbox/config)"
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="replay a probe profile (altcraft-probe --profile-out): its measured facts become "
        "options; --config and the flags win over it",
    )
    parser.add_argument("--access-log", action="store_true", help="log method, path, status, ms")
    parser.add_argument("--quiet", action="store_true", help="print only the 'listening' line")
    return parser


def _config(args: argparse.Namespace) -> SandboxConfig:
    options: dict[str, object] = {}
    if args.profile:
        from airflow_provider_altcraft.sandbox.profile import read_profile, sandbox_options

        options.update(sandbox_options(read_profile(args.profile)))
    options.update(json.loads(args.config) if args.config else {})
    for name in (
        "duplicate_eid",
        "app_error_http_status",
        "export_delay_sec",
        "export_mode",
        "default_temp_timeout_sec",
    ):
        value = getattr(args, name)
        if value is not None:
            options[name] = value
    return SandboxConfig().updated(options)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.durable and not args.state_file:
        print("altcraft-sandbox: --durable needs --state-file", file=sys.stderr)
        return 2
    try:
        check_bind_host(args.host, args.allow_remote)  # refused before anything is bound
    except RemoteBindError as exc:
        print(f"altcraft-sandbox: {exc}", file=sys.stderr)
        return 2
    try:
        seed = load_seed_file(seed_path(args.seed)) if args.seed else None
        config = _config(args)
    except (SeedError, ConfigError, ValueError) as exc:
        print(f"altcraft-sandbox: {exc}", file=sys.stderr)
        return 2
    if args.profile and not args.quiet:
        from airflow_provider_altcraft.sandbox.profile import read_profile, unreplayable

        for gap in unreplayable(read_profile(args.profile)):
            print(f"altcraft-sandbox: not replayed: {gap}", file=sys.stderr)
    token = args.token or (seed or {}).get("token") or DEFAULT_TOKEN
    app = SandboxApp(token=str(token), seed=seed, config=config)
    state_file = StateFile(args.state_file, durable=args.durable) if args.state_file else None
    if state_file is not None:
        try:
            loaded = state_file.load(app)
        except (OSError, ValueError, KeyError) as exc:
            print(f"altcraft-sandbox: cannot load state file: {exc}", file=sys.stderr)
            return 2
        if loaded and not args.quiet:
            print(f"altcraft-sandbox: state loaded from {args.state_file}", file=sys.stderr)
    server = SandboxServer(
        app,
        host=args.host,
        port=args.port,
        state_file=state_file,
        access_log=args.access_log,
        allow_remote=args.allow_remote,
    )

    def ready(srv: SandboxServer) -> None:
        # Parents (run_sandbox, benchmarks) read this exact line to learn the port.
        print(f"altcraft-sandbox listening on {srv.url}", flush=True)

    try:
        asyncio.run(server.serve(ready))
    except OSError as exc:
        print(f"altcraft-sandbox: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # SIGINT before the handler was installed
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
