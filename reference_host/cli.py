"""``flowctl-host``: inspect, validate, run and serve flowctl processor components.

Exit status: 0 success; 1 some events failed (each has an error record in the output);
2 bad usage, bad input file, bad component or bad policy; 3 the component refused its config.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from reference_host.engine import HostEngine, default_cache_dir
from reference_host.errors import (
    FlowctlHostError,
    GuestError,
    GuestTrap,
    ProcessorErrorResult,
    ValueConversionError,
)
from reference_host.inspect import ComponentReport, inspect_component
from reference_host.jsonform import event_from_json, event_schema, event_to_json, to_json
from reference_host.types import Event

EXIT_OK, EXIT_EVENTS_FAILED, EXIT_USAGE, EXIT_CONFIG = 0, 1, 2, 3


def _cache_dir(args: argparse.Namespace) -> Path | None:
    if args.no_cache:
        return None
    return Path(args.cache_dir) if args.cache_dir else default_cache_dir(os.environ)


# --------------------------------------------------------------------------- inspect


def _print_report(report: ComponentReport, path: str, sha: str, out: IO[str]) -> None:
    w = out.write
    w(f"component   {path}\nsha256      {sha}\n")
    w(f"conforms    {'yes' if report.conforms else 'NO'} (obsrvr:flowctl@1.0.0 processor)\n")
    w(f"worlds      {', '.join(report.worlds) or 'none'}\n")
    w("imports\n")
    for imp in report.imports or ():
        note = f"  DRIFT: {imp.drift}" if imp.drift else ""
        w(f"  {imp.kind:8} {imp.name}{note}\n")
    if not report.imports:
        w("  (none)\n")
    w("exports\n")
    for name in report.exports:
        w(f"  {name}\n")
    w("processor functions\n")
    for fname, status in report.functions.items():
        w(f"  {fname:16} {status}\n")
    for d in report.drift:
        w(f"drift: {d}\n")


def cmd_inspect(args: argparse.Namespace) -> int:
    """``flowctl-host inspect``."""
    host = HostEngine(cache_dir=_cache_dir(args))
    loaded = host.load(args.component)
    report = inspect_component(host.engine, loaded.component)
    if args.json:
        data = report.to_dict()
        data.update(component=str(loaded.path), sha256=loaded.sha256, size=loaded.size)
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_report(report, str(loaded.path), loaded.sha256, sys.stdout)
    return EXIT_OK if report.conforms else EXIT_USAGE


# --------------------------------------------------------------------------- run


def _policy(args: argparse.Namespace) -> Any:
    from reference_host.policy import Policy, load_policy

    if args.policy:  # ${VAR} in its values expanded from the environment, as by serve
        policy = load_policy(args.policy, args.processor_id, environ=os.environ)
    else:
        policy = Policy.default_for(["logging", "metrics", "config"])
    overrides: dict[str, Any] = {}
    if args.config:
        overrides["processor_config"] = Path(args.config).read_text(encoding="utf-8")
    for key in ("batch_size", "max_fuel", "max_memory_pages"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if args.timeout is not None:
        overrides["execution_timeout"] = args.timeout
    return policy.updated(overrides) if overrides else policy


def _read_events(path: str) -> Iterator[tuple[int, Event | None, dict[str, Any] | None]]:
    """(line number, event or None, error record or None) for each non-blank line.

    A line that is not UTF-8, not JSON (including JSON nested deeper than the parser allows, or
    an integer longer than Python converts) or not an event becomes an error record naming its
    line; the lines after it are read on.
    """
    fh = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    try:
        for n, raw in enumerate(fh, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield n, None, _error(
                    n, None, "invalid-utf8",
                    f"line {n}: not UTF-8 (byte {exc.start + 1} of the line: "
                    f"{raw[exc.start : exc.start + 1]!r}); events are UTF-8 JSON, one per line",
                )  # fmt: skip
                continue
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield n, None, _error(n, None, "invalid-json", f"line {n}: {exc}")
                continue
            except RecursionError:
                yield (
                    n,
                    None,
                    _error(n, None, "invalid-json", f"line {n}: JSON nested too deeply to parse"),
                )
                continue
            except ValueError as exc:  # e.g. an integer beyond Python's digit limit
                yield n, None, _error(n, None, "invalid-json", f"line {n}: {exc}")
                continue
            try:
                yield n, event_from_json(data), None
            except (ValueConversionError, ValueError, TypeError, RecursionError) as exc:
                eid = data.get("id") if isinstance(data, dict) else None
                why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
                yield (
                    n,
                    None,
                    _error(
                        n,
                        eid if isinstance(eid, str) else None,
                        "invalid-event",
                        f"line {n}: {why}",
                    ),
                )
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def _error(line: int, eid: str | None, kind: str, message: str, **extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"error": {"kind": kind, "message": message, **extra}, "line": line}
    if eid is not None:
        rec["input-id"] = eid
    return rec


def _guest_error_record(line: int, event: Event, exc: GuestError) -> dict[str, Any]:
    from reference_host.abi.schema import PROCESSOR_ERROR

    if isinstance(exc, ProcessorErrorResult):
        return _error(
            line,
            event.id,
            "processor-error",
            str(exc.error),
            **{"processor-error": to_json(PROCESSOR_ERROR, exc.error)},
        )
    kind = type(exc).__name__
    return _error(
        line, event.id, "trap" if isinstance(exc, GuestTrap) else "host", str(exc), trap=kind
    )


class _Progress:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.start = self.last = time.monotonic()

    def update(self, done: int, failed: int, *, final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self.last < 1.0):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        sys.stderr.write(f"\r{done} events processed, {failed} failed, {rate:,.0f} events/s")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


def cmd_run(args: argparse.Namespace) -> int:
    """``flowctl-host run``: JSONL events in, JSONL events and error records out."""
    from reference_host.host import open_processor

    policy = _policy(args)
    instance, granted = open_processor(policy, args.component, cache_dir=_cache_dir(args))
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    errs = out if not args.errors else open(args.errors, "w", encoding="utf-8")  # noqa: SIM115
    progress = _Progress(
        enabled=args.progress if args.progress is not None else sys.stderr.isatty()
    )
    done = failed = produced = 0

    def emit(rec: dict[str, Any], stream: IO[str]) -> None:
        stream.write(json.dumps(rec, ensure_ascii=False) + "\n")

    try:
        try:
            instance.validate_config(policy.processor_config)
            instance.initialize(policy.processor_config)
        except (ProcessorErrorResult, GuestTrap) as exc:
            sys.stderr.write(f"flowctl-host: the component refused its config: {exc}\n")
            return EXIT_CONFIG
        batch: list[tuple[int, Event]] = []

        def flush() -> None:
            nonlocal done, failed, produced
            if not batch:
                return
            try:
                outputs = instance.process_batch([e for _n, e in batch])
            except (GuestError, ValueConversionError):
                # attribute the failure: replay the batch event by event
                outputs = []
                for n, ev in batch:
                    try:
                        outputs.extend(instance.process_event(ev))
                    except GuestError as exc:
                        failed += 1
                        emit(_guest_error_record(n, ev, exc), errs)
            for ev in outputs:
                emit(event_to_json(ev), out)
            produced += len(outputs)
            done += len(batch)
            batch.clear()
            progress.update(done, failed)

        for n, event, error in _read_events(args.input):
            if error is not None:
                failed += 1
                done += 1
                emit(error, errs)
                continue
            assert event is not None
            batch.append((n, event))
            if len(batch) >= policy.batch_size:
                flush()
        flush()
        try:
            instance.shutdown()
        except GuestTrap as exc:
            sys.stderr.write(f"flowctl-host: shutdown trapped: {exc}\n")
    finally:
        instance.close()
        if out is not sys.stdout:
            out.close()
        if errs is not out:
            errs.close()
    progress.update(done, failed, final=True)
    if args.summary or progress.enabled:
        dropped = granted.logging.dropped_flood if granted.logging else 0
        sys.stderr.write(
            f"flowctl-host: {done} events in, {produced} out, {failed} failed, "
            f"{instance.recycles} recycles, {dropped} log records dropped\n"
        )
    return EXIT_EVENTS_FAILED if failed else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """``flowctl-host validate``: load, check and call validate-config."""
    from reference_host.host import open_processor

    policy = _policy(args)
    instance, _ = open_processor(policy, args.component, cache_dir=_cache_dir(args))
    try:
        instance.validate_config(policy.processor_config)
    except (ProcessorErrorResult, GuestTrap) as exc:
        sys.stderr.write(f"flowctl-host: config rejected: {exc}\n")
        return EXIT_CONFIG
    finally:
        instance.close()
    sys.stdout.write("config accepted\n")
    return EXIT_OK


def cmd_schema(_args: argparse.Namespace) -> int:
    """``flowctl-host schema``: print the JSON Schema of an event."""
    json.dump(event_schema(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return EXIT_OK


# --------------------------------------------------------------------------- parser


class _VersionAction(argparse.Action):
    """``--version``, computed only when asked (it loads the native value layer)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        from importlib.metadata import version

        from reference_host.abi import native
        from reference_host.engine import WASMTIME_VERSION

        print(f"flowctl-host {version('flowctl-conformance')} (wasmtime {WASMTIME_VERSION})")
        print(f"value layer: {native.status()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = argparse.ArgumentParser(
        prog="flowctl-host",
        description="Reference host for flowctl WebAssembly processor components "
        "(WIT package obsrvr:flowctl@1.0.0).",
        epilog="Exit status: 0 ok, 1 some events failed, 2 bad input/component/policy, "
        "3 the component refused its config.",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="print the versions (package, wasmtime) and which value layer runs, then exit",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("component", help="the component .wasm file")
        p.add_argument("--cache-dir", help="compile cache (default: ~/.cache/flowctl-conformance)")
        p.add_argument("--no-cache", action="store_true", help="compile without the cache")

    p = sub.add_parser("inspect", help="what a component imports/exports, worlds, WIT drift")
    common(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_inspect)

    for name, func, help_text in (
        ("run", cmd_run, "process a JSONL file of events"),
        ("validate", cmd_validate, "check a processor config with validate-config"),
    ):
        p = sub.add_parser(name, help=help_text)
        common(p)
        p.add_argument(
            "--policy",
            help="pipeline YAML or processor block (grants and limits); "
            "without it: logging, metrics and config granted, default limits",
        )
        p.add_argument("--processor-id", help="which processor of the pipeline YAML")
        p.add_argument("--config", help="processor config JSON file (overrides the policy's)")
        p.add_argument("--batch-size", type=int, help="events per process-batch call")
        p.add_argument("--max-fuel", type=int, help="fuel per call (enables metering)")
        p.add_argument("--max-memory-pages", type=int, help="linear memory limit, 64 KiB pages")
        p.add_argument("--timeout", type=float, help="wall-clock seconds per call")
        p.set_defaults(func=func)
        if name == "run":
            p.add_argument(
                "--input", required=True, help="events, one JSON object per line (- = stdin)"
            )
            p.add_argument("--output", default="-", help="output events as JSONL (default stdout)")
            p.add_argument("--errors", help="write error records here instead of --output")
            p.add_argument(
                "--progress",
                action=argparse.BooleanOptionalAction,
                default=None,
                help="progress on stderr (default: when stderr is a terminal)",
            )
            p.add_argument("--summary", action="store_true", help="print a summary line")

    p = sub.add_parser("schema", help="print the JSON Schema of an event's JSON form")
    p.set_defaults(func=cmd_schema)
    from reference_host.rpc.cli_serve import add_parser as add_serve

    add_serve(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``flowctl-host``."""
    parser = build_parser()
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"],
        help="show guest log records at or above this level on stderr (default WARNING)",
    )
    args = parser.parse_args(argv)
    import logging

    from reference_host.capabilities.logging import TRACE

    logging.basicConfig(
        level=TRACE if args.log_level == "TRACE" else getattr(logging, args.log_level),
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        code: int = args.func(args)
    except FlowctlHostError as exc:
        sys.stderr.write(f"flowctl-host: {type(exc).__name__}: {exc}\n")
        return EXIT_USAGE
    except OSError as exc:
        sys.stderr.write(f"flowctl-host: {exc}\n")
        return EXIT_USAGE
    return code


if __name__ == "__main__":
    sys.exit(main())
