"""``flowctl-conformance``: helpers around the conformance suite.

``services`` starts the real PostgreSQL and Redis the suite uses (embedded wheels when no Docker
engine answers) and prints the URLs to export, so other tools or a second shell can share them;
``certify`` is a front door to ``pytest --component``: it runs the packaged suite with the given
options (anything after ``--`` goes to pytest unchanged) and exits with its verdict.
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
    """Run the packaged suite on a component: ``pytest --component ...``; exit with its verdict."""
    import pytest

    # a certification never loads conftest.py files: none may change what the suite decides
    argv = ["-p", "no:cacheprovider", "--noconftest", "--component", args.component]
    for flag, value in (
        ("--component-config", args.config),
        ("--conformance-policy", args.policy),
        ("--conformance-level", args.level),
        ("--conformance-report-dir", args.report_dir),
    ):
        if value is not None:
            argv += [flag, value]
    return int(pytest.main(argv + list(args.pytest_args)))


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
    p = sub.add_parser(
        "certify",
        help="run the conformance suite on a component (pytest --component ...)",
        description="Run the packaged conformance suite on COMPONENT and exit 0 only when every "
        "mandatory check of the tier passed. conftest.py files are not loaded (--noconftest). "
        "Options after -- go to pytest (e.g. -- -n 2 -x).",
    )
    p.add_argument("component", help="the processor component (.wasm)")
    p.add_argument("--config", help="processor config JSON, or pipeline YAML[#processor-id]")
    p.add_argument("--policy", help="grants and limits: pipeline YAML[#id], processor block, JSON")
    p.add_argument("--level", choices=["basic", "standard", "marketplace"], help="tier (standard)")
    p.add_argument("--report-dir", help="where the result file goes (default ./reports)")

    p.set_defaults(func=cmd_certify)
    from conformance.host_certify import add_parser as add_host_certify

    add_host_certify(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:  # everything after -- goes to pytest unchanged
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    args.pytest_args = extra
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
