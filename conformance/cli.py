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
from collections.abc import Callable, Sequence
from pathlib import Path


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
    status = int(pytest.main(argv + list(args.pytest_args)))
    report_dir = Path(args.report_dir or "reports")
    result = report_dir / f"{Path(args.component).stem}.conformance.json"
    if args.signing_key is not None:
        from conformance.reporting.attestation import AttestationError, attest

        if not result.is_file():
            sys.stderr.write(f"flowctl-conformance certify: no result file {result}: not signed\n")
            return status or 1
        try:
            bundle = attest(result, Path(args.signing_key))
        except AttestationError as exc:
            sys.stderr.write(f"flowctl-conformance certify: {exc}\n")
            return status or 1
        sys.stdout.write(f"signed attestation: {bundle}\n")
    return status


def cmd_report(args: argparse.Namespace) -> int:
    """``flowctl-conformance report RESULT``: every format from a stored result."""
    from conformance.reporting.writers import Report, registry, write_all

    path = Path(args.result)
    try:
        report = Report.from_file(path, component=Path(args.component) if args.component
                                  else None, config=args.config)  # fmt: skip
        written = write_all(report, Path(args.out) if args.out else path.parent, args.format,
                            registry())  # fmt: skip
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"flowctl-conformance report: {exc}\n")
        return 1
    for name, paths in written.items():
        for p in paths:
            sys.stdout.write(f"{name:9} {p}\n")
    return 0


def _attestation(command: str, work: Callable[[], str], failed: str = "") -> int:
    """Run one certificate command: its line on stdout, or the reason (exit 1)."""
    from conformance.reporting.attestation import AttestationError

    try:
        line = work()
    except AttestationError as exc:
        if failed:
            sys.stdout.write(f"{failed}: {exc}\n")
        else:
            sys.stderr.write(f"flowctl-conformance {command}: {exc}\n")
        return 1
    sys.stdout.write(f"{line}\n")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """``flowctl-conformance keygen``: an Ed25519 key pair for signing certificates."""
    from conformance.reporting.attestation import keygen

    def work() -> str:
        private, public = keygen(Path(args.out), args.name)
        return f"private key: {private} (keep it secret)\npublic key:  {public}"

    return _attestation("keygen", work)


def cmd_attest(args: argparse.Namespace) -> int:
    """``flowctl-conformance attest RESULT``: sign an existing result file."""
    from conformance.reporting.attestation import attest

    out = Path(args.out) if args.out else None
    return _attestation("attest", lambda: "signed attestation: "
                        f"{attest(Path(args.result), Path(args.signing_key), out)}")  # fmt: skip


def cmd_verify(args: argparse.Namespace) -> int:
    """``flowctl-conformance verify ATTESTATION``: 0 only for a complete, signed certificate."""
    from conformance.reporting.attestation import verify

    component = Path(args.component) if args.component else None
    return _attestation(
        "verify",
        lambda: str(verify(Path(args.attestation), Path(args.public_key), component)),
        failed="NOT verified",
    )


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
    p.add_argument(
        "--report-dir",
        "--out",
        dest="report_dir",
        help="where the result and every report go (default ./reports)",
    )
    p.add_argument("--signing-key", metavar="KEY",
                   help="Ed25519 private key (keygen): sign the result as an in-toto "
                   "attestation, <component>.intoto.jsonl next to it")  # fmt: skip
    p.set_defaults(func=cmd_certify)
    p = sub.add_parser(
        "keygen", help="write an Ed25519 key pair for signing certificates",
        description="Writes NAME.key (PKCS#8 PEM, mode 0600) and NAME.pub into --out; never "
        "overwrites a key.",
    )  # fmt: skip
    p.add_argument("--out", default=".", help="directory for the key pair (default .)")
    p.add_argument("--name", default="flowctl-conformance", help="file name stem of the pair")
    p.set_defaults(func=cmd_keygen)
    p = sub.add_parser(
        "attest", help="sign a result file as in-toto statements in DSSE envelopes",
        description="Makes the test-result statement and the verification summary (tier and "
        "completeness) of RESULT (<component>.conformance.json) and signs both with --signing-key."
        " Output: an in-toto bundle, one envelope per line.",
    )  # fmt: skip
    p.add_argument("result", help="the suite's result file (<component>.conformance.json)")
    p.add_argument("--signing-key", required=True, metavar="KEY", help="Ed25519 private key")
    p.add_argument("--out", help="bundle path (default <component>.intoto.jsonl next to RESULT)")
    p.set_defaults(func=cmd_attest)
    p = sub.add_parser(
        "verify", help="verify a signed certificate offline (exit 0 only when it holds)",
        description="Checks every signature, that both statements are about one component (and "
        "that it is --component, when given), that the summary names the test result, and that "
        "every check mandatory at the certified tier -- by this suite's registry -- passed, was "
        "not applicable or was waived. Exit 0 verified, 1 not (with the reason).",
    )  # fmt: skip
    p.add_argument("attestation", help="the bundle (.intoto.jsonl)")
    p.add_argument("--public-key", required=True, metavar="KEY", help="the signer's public key")
    p.add_argument("--component", help="the .wasm the certificate must be about")
    p.set_defaults(func=cmd_verify)
    from conformance.compare import add_parser as add_compare
    from conformance.host_certify import add_parser as add_host_certify

    add_host_certify(sub)
    add_compare(sub)
    p = sub.add_parser(
        "report", help="write the report formats of a stored result file",
        description="Rewrites junit, html, markdown, badge and repro (or --format ...) from "
        "RESULT (<component>.conformance.json) into --out (default: next to RESULT).",
    )  # fmt: skip
    p.add_argument("result")
    p.add_argument("--format", action="append", help="a format (repeatable; default all)")
    p.add_argument("--out", help="directory (default: RESULT's)")
    p.add_argument("--component", help="the component path the reproductions should name")
    p.add_argument("--config", help="the --component-config the reproductions should name")
    p.set_defaults(func=cmd_report)
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
