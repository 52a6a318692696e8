"""Command line: serve the sandbox with uvicorn."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from sandbox.http import create_sandbox_app


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Serve an imitation of seven's numbers API under /api.",
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True, help="the only key accepted")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--signing-secret", default=None, help="require signed requests")
    parser.add_argument("--active", type=int, default=0, help="pre-populated active numbers")
    parser.add_argument("--available", type=int, default=25, help="available per country")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--latency-ms", type=int, default=0, help="added to every /api call")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep the account (offer, active numbers, ledger) here between runs; "
        "without it, it is generated anew in memory",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    app = create_sandbox_app(
        args.api_key,
        signing_secret=args.signing_secret,
        seed=args.seed,
        active_count=args.active,
        available_per_country=args.available,
        latency_ms=args.latency_ms,
        state_dir=args.state_dir,
    )
    # A short graceful shutdown: "hang" faults would otherwise hold the exit for minutes.
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=1,
    )
