"""``flowctl-conformance``: helpers around the conformance suite.

``services`` starts the real PostgreSQL and Redis the suite uses (embedded wheels when no Docker
engine answers) and prints the URLs to export, so other tools or a second shell can share them;
``certify`` is the future front door of ``pytest --component`` and says plainly that the suite is
not in this release.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence


def cmd_services(args: argparse.Namespace) -> int:
    """Start PostgreSQL and Redis, print their URLs, wait for Ctrl-C, stop them."""
    from conformance.services import (
        POSTGRES_URL_ENV,
        REDIS_URL_ENV,
        ServiceUnavailableError,
        start_postgres,
        start_redis,
    )

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        with start_postgres(args.mode) as pg, start_redis(args.mode) as rd:
            sys.stdout.write(
                f"export {POSTGRES_URL_ENV}='{pg.endpoint.url}'\n"
                f"export {REDIS_URL_ENV}='{rd.endpoint.url}'\n"
            )
            sys.stdout.flush()
            sys.stderr.write(
                f"postgres ({pg.origin}) and redis ({rd.origin}) are up; Ctrl-C stops them\n"
            )
            if args.once:
                return 0
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
    except ServiceUnavailableError as exc:
        sys.stderr.write(f"flowctl-conformance: {exc}\n")
        return 2
    return 0


def cmd_certify(args: argparse.Namespace) -> int:
    """Not in this release: say so (never certify by running nothing)."""
    sys.stderr.write(
        f"flowctl-conformance: cannot certify {args.component}: the packaged conformance suite "
        "is not implemented in this release. Use `flowctl-host inspect` and `flowctl-host run` "
        "to check a component meanwhile.\n"
    )
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``flowctl-conformance``."""
    parser = argparse.ArgumentParser(
        prog="flowctl-conformance",
        description="Conformance harness for flowctl WebAssembly processor components.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("services", help="start real PostgreSQL + Redis and print their URLs")
    p.add_argument(
        "--mode",
        choices=["auto", "docker", "embedded"],
        default=os.environ.get("FLOWCTL_CONFORMANCE_SERVICES", "auto"),
        help="auto: Docker when an engine answers, else embedded wheels (default)",
    )
    p.add_argument("--once", action="store_true", help="print the URLs, then stop (for checks)")
    p.set_defaults(func=cmd_services)
    p = sub.add_parser("certify", help="certify a component (not in this release)")
    p.add_argument("component")
    p.set_defaults(func=cmd_certify)
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
