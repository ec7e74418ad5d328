"""Fresh-process start-up and memory per instance of the host with the TTP sample (a script).

Run from the repository root::

    python -m benchmarks.startup [--quick] [--out reports/startup.json] [--repeat N]

Every figure is the median of N fresh processes (``--quick``: fewer, under a minute), the kinds
interleaved round-robin so that load from other work on the machine spreads over all of them:

- ``warm_cache_ms``: spawn -> exit of ``flowctl-host run ttp_processor.wasm --policy
  fixtures/pipelines/stellar-ttp-pipeline.yaml --processor-id ttp-processor`` on a one-event
  input file, with a compile cache warmed beforehand (a private ``--cache-dir``);
  ``warm_cache_first_output_ms``: spawn -> the first output line read from the process's stdout
  (the run writes ``--output -`` under ``python -u``, so each line reaches the pipe when the
  event has been processed; observed by the parent, no instrumentation in the host);
- ``cold_cache_ms``: the same with ``--no-cache`` (the 18 MB component is compiled);
- the floor, in the same run: ``python_bare_ms`` (``python -c pass``), ``import_wasmtime_ms``
  (``python -c "import wasmtime.component"``, the host's wasmtime import);
- ``phases_ms``: where a warm start goes, timed inside one fresh process doing what ``cmd_run``
  does, step by step (import the CLI, load the policy, deserialize the compiled component,
  inspect + link + instantiate, validate-config + initialize, process the one event);
- ``importtime_top``: ``python -X importtime`` of the run command, the 15 modules with the
  largest cumulative import time (-X importtime itself slows importing: read it as ranks);
- RSS (``/proc/<pid>/status`` VmRSS): one process with one initialized TTP instance that has
  processed an event, then instances 2..8 of the same compiled component in the same process (each
  initialized and fed one event; the RSS each adds); ``flowctl-host serve`` idle after its
  ``listening`` line and after one Process stream of the 52 fixture events.

Writes JSON to ``--out`` and prints a table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import write_result

REPO = Path(__file__).resolve().parents[1]
COMPONENT = REPO / "sample_components" / "dist" / "ttp_processor.wasm"
PIPELINE = REPO / "fixtures" / "pipelines" / "stellar-ttp-pipeline.yaml"
EVENTS = REPO / "fixtures" / "events" / "ttp_transactions.jsonl"
PROCESSOR_ID = "ttp-processor"
MAX_INSTANCES = 8
TARGET_WARM_MS = 100.0
TARGET_PER_INSTANCE_MB = 30.0
# modules a run of the TTP sample does not need (its policy grants logging, metrics and config)
HEAVY_MODULES = ("pglast", "idna", "prometheus_client", "httpx", "psycopg", "redis", "grpc",
                 "jsonschema", "matplotlib", "jinja2", "hypothesis", "cryptography")  # fmt: skip

# Timed inside a fresh process: what cmd_run does, phase by phase (argv: cache dir, input file).
_PHASES = r"""
import json, sys, time
HEAVY = set(sys.argv[6].split(","))
t0 = time.perf_counter()
from reference_host import cli
t1 = time.perf_counter()
args = cli.build_parser().parse_args(["run", sys.argv[1], "--policy", sys.argv[2],
    "--processor-id", sys.argv[3], "--cache-dir", sys.argv[4], "--input", sys.argv[5]])
policy = cli._policy(args)
t2 = time.perf_counter()
from reference_host.host import capabilities_from_policy, limits_from_policy
from reference_host.engine import HostEngine
from reference_host.inspect import inspect_component
from reference_host.processor import ProcessorInstance
limits = limits_from_policy(policy)
host = HostEngine(limits.engine_config(), cache_dir=cli._cache_dir(args))
t3 = time.perf_counter()
loaded = host.load(args.component)
t4 = time.perf_counter()
report = inspect_component(host.engine, loaded.component)
granted = capabilities_from_policy(policy, "ttp", frozenset(report.flowctl_imports))
inst = ProcessorInstance(host, loaded, limits=limits, capabilities=granted.all(),
    unknown_imports=policy.unknown_imports, allow_wasi=policy.capabilities.wasi,
    component_id="ttp", report=report)
t5 = time.perf_counter()
inst.validate_config(policy.processor_config)
inst.initialize(policy.processor_config)
t6 = time.perf_counter()
events = [e for _n, e, _err in cli._read_events(args.input)]
out = inst.process_batch(events)
t7 = time.perf_counter()
inst.close()
assert loaded.cache_hit and out, (loaded.cache_hit, out)
ms = lambda a, b: round((b - a) * 1000, 2)
print(json.dumps({"import_cli": ms(t0, t1), "load_policy": ms(t1, t2),
    "engine": ms(t2, t3), "deserialize_component": ms(t3, t4),
    "inspect_link_instantiate": ms(t4, t5), "validate_initialize": ms(t5, t6),
    "process_first_event": ms(t6, t7), "total_in_process": ms(t0, t7),
    "modules_loaded": len(sys.modules)}))
print(json.dumps(sorted(m for m in sys.modules if m in HEAVY)))
"""

# RSS of one process with 1..MAX_INSTANCES instances of one compiled component (argv: as above).
_RSS = r"""
import json, sys
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
points = {"start": rss()}
from reference_host import cli
from reference_host.engine import HostEngine
from reference_host.host import capabilities_from_policy, limits_from_policy
from reference_host.inspect import inspect_component
from reference_host.processor import ProcessorInstance
args = cli.build_parser().parse_args(["run", sys.argv[1], "--policy", sys.argv[2],
    "--processor-id", sys.argv[3], "--cache-dir", sys.argv[4], "--input", sys.argv[5]])
policy = cli._policy(args)
points["imports_policy"] = rss()
limits = limits_from_policy(policy)
host = HostEngine(limits.engine_config(), cache_dir=cli._cache_dir(args))
loaded = host.load(args.component)
report = inspect_component(host.engine, loaded.component)
points["component_loaded"] = rss()
events = [e for _n, e, _err in cli._read_events(args.input)]
instances, after = [], []
for i in range(int(sys.argv[6])):
    granted = capabilities_from_policy(policy, f"ttp-{i}", frozenset(report.flowctl_imports))
    inst = ProcessorInstance(host, loaded, limits=limits, capabilities=granted.all(),
        unknown_imports=policy.unknown_imports, allow_wasi=policy.capabilities.wasi,
        component_id=f"ttp-{i}", report=report)
    inst.initialize(policy.processor_config)
    assert inst.process_batch(events)
    instances.append(inst)
    after.append(rss())
points["hwm"] = hwm()
print(json.dumps({"points": points, "after_each_instance": after}))
for inst in instances:
    inst.close()
"""


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 1)


def _host_argv() -> list[str]:
    """``flowctl-host`` as installed next to this interpreter, else ``-m reference_host.cli``."""
    script = Path(sys.executable).with_name("flowctl-host")
    return [sys.executable, "-u", str(script)] if script.exists() else [
        sys.executable, "-u", "-m", "reference_host.cli"
    ]  # fmt: skip


def _run_argv(cache: Path | None, input_file: Path, errors: Path) -> list[str]:
    where = ["--no-cache"] if cache is None else ["--cache-dir", str(cache)]
    return [*_host_argv(), "run", str(COMPONENT), "--policy", str(PIPELINE), "--processor-id",
            PROCESSOR_ID, *where, "--input", str(input_file), "--output", "-",
            "--errors", str(errors)]  # fmt: skip


def bytecode_env(pycache: Path) -> dict[str, str]:
    """The environment of the measured processes: bytecode cached in ``pycache``.

    An installed host has ``.pyc`` files; a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (as
    here in CI) compiles every module of the package from source in every process.  The
    measured processes write and reuse bytecode under a private ``PYTHONPYCACHEPREFIX``
    (filled by the warm-up runs), so the figures are those of an installed host.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def time_process(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float | None]:
    """(spawn -> exit ms, spawn -> first stdout line ms or None); raises if it fails."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env)
    assert proc.stdout is not None
    first_line = proc.stdout.readline()
    first = (time.perf_counter() - started) * 1000 if first_line else None
    _rest, err = proc.communicate()
    took = (time.perf_counter() - started) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[:4]}... exited {proc.returncode}: {err.decode()[-2000:]}")
    return took, first


def importtime_top(
    argv: list[str], env: dict[str, str], n: int = 15
) -> tuple[list[dict[str, Any]], float, int]:
    """The ``n`` modules with the largest cumulative import time under ``-X importtime``."""
    proc = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], capture_output=True, text=True, cwd=REPO,
        env=env, check=False,
    )  # fmt: skip
    rows: list[dict[str, Any]] = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            self_ms, cumulative_ms = int(m[1]) / 1000, int(m[2]) / 1000
            row = {"module": m[4], "self_ms": self_ms, "cumulative_ms": cumulative_ms}
            rows.append({**row, "depth": len(m[3]) // 2})
    total = sum(r["self_ms"] for r in rows)
    top = sorted(rows, key=lambda r: -r["cumulative_ms"])[:n]
    return top, round(total, 1), len(rows)


def _json_process(code: str, env: dict[str, str], *extra: str) -> Any:
    proc = subprocess.run(
        [sys.executable, "-c", code, str(COMPONENT), str(PIPELINE), PROCESSOR_ID, *extra],
        capture_output=True, text=True, cwd=REPO, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"measuring process failed: {proc.stderr[-3000:]}")
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[0]) if len(lines) == 1 else [json.loads(x) for x in lines]


def _proc_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return round(kb / 1024, 1)


def serve_rss(cache: Path, base_env: dict[str, str]) -> dict[str, Any]:
    """RSS of ``flowctl-host serve`` idle after ``listening``, and after one Process stream."""
    argv = [*_host_argv(), "serve", "--pipeline", str(PIPELINE), "--processor", PROCESSOR_ID,
            "--component", str(COMPONENT), "--host", "127.0.0.1", "--port", "0",
            "--cache-dir", str(cache)]  # fmt: skip
    env = {k: v for k, v in base_env.items() if k not in {"ENABLE_FLOWCTL", "PORT"}}
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env
    )
    result: dict[str, Any] = {}
    try:
        assert proc.stderr is not None
        target: list[str] = []
        ready = threading.Event()

        def read_stderr() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                m = re.search(r"listening on (\S+?):(\d+)", line)
                if m and not target:
                    target.append(f"{m[1]}:{m[2]}")
                    ready.set()
            ready.set()

        threading.Thread(target=read_stderr, daemon=True).start()
        if not ready.wait(120) or not target:
            raise RuntimeError(f"serve did not print its listening line (exit {proc.poll()})")
        result["serve_ready_ms"] = round((time.perf_counter() - started) * 1000, 1)
        time.sleep(1.0)  # idle
        result["serve_idle_mb"] = _proc_rss_mb(proc.pid)
        try:
            import grpc

            from reference_host.jsonform import event_from_json
            from reference_host.rpc import codec
            from reference_host.rpc.gen.flowctl.v1 import processor_pb2_grpc
        except ImportError as exc:  # the grpc extra is not installed
            result["serve_after_stream_note"] = f"no stream: {exc}"
            return result
        lines = EVENTS.read_text(encoding="utf-8").splitlines()
        wire = [codec.encode(event_from_json(json.loads(line))) for line in lines if line.strip()]
        with grpc.insecure_channel(target[0]) as channel:
            stub = processor_pb2_grpc.ProcessorServiceStub(channel)  # type: ignore[no-untyped-call]
            answers = list(stub.Process(iter(wire), timeout=120))
        time.sleep(0.5)
        result["serve_after_stream_mb"] = _proc_rss_mb(proc.pid)
        result["serve_stream_events"] = len(wire)
        result["serve_stream_answers"] = len(answers)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)  # our own child, by its PID
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
    return result


def environment() -> dict[str, Any]:
    import wasmtime  # noqa: F401 - only its version

    from reference_host.engine import WASMTIME_VERSION

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in load] if load else None,
        "wasmtime": WASMTIME_VERSION,
        "component": str(COMPONENT.relative_to(REPO)),
        "component_bytes": COMPONENT.stat().st_size,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def measure(*, repeat: int, cold_repeat: int, serve: bool) -> dict[str, Any]:
    """All the figures (see the module docstring)."""
    if not COMPONENT.exists():
        raise SystemExit(
            f"{COMPONENT} is missing: python sample_components/build.py --only ttp_processor"
        )
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="flowctl-startup-") as tmp_name:
        tmp = Path(tmp_name)
        one = tmp / "one.jsonl"
        one.write_text(EVENTS.read_text(encoding="utf-8").splitlines()[0] + "\n")
        errors = tmp / "errors.jsonl"
        cache = tmp / "cache"
        env_info = environment()
        env = bytecode_env(tmp / "pycache")
        warm_argv = _run_argv(cache, one, errors)
        cold_argv = _run_argv(None, one, errors)
        for code in ("pass", "import wasmtime.component"):  # bytecode of the floor's modules
            time_process([sys.executable, "-c", code], env)
        time_process(warm_argv, env)  # fills the cache (a compile) and the bytecode cache
        time_process(warm_argv, env)

        kinds: dict[str, Callable[[], tuple[float, float | None]]] = {
            "bare": lambda: time_process([sys.executable, "-c", "pass"], env),
            "wasmtime": lambda: time_process([sys.executable, "-c", "import wasmtime"], env),
            "wasmtime_component": lambda: time_process(
                [sys.executable, "-c", "import wasmtime.component"], env
            ),
            "warm": lambda: time_process(warm_argv, env),
            "warm_environment_as_is": lambda: time_process(warm_argv),
        }
        walls: dict[str, list[float]] = {k: [] for k in kinds}
        firsts: list[float] = []
        for _ in range(repeat):
            for kind, fn in kinds.items():
                took, first = fn()
                walls[kind].append(took)
                if kind == "warm" and first is not None:
                    firsts.append(first)
        cold = [time_process(cold_argv, env)[0] for _ in range(cold_repeat)]
        heavy = ",".join(HEAVY_MODULES)
        runs = [
            _json_process(_PHASES, env, str(cache), str(one), heavy)
            for _ in range(max(3, repeat // 2))
        ]
        phases = [r[0] for r in runs]
        phases_ms = {k: _median([p[k] for p in phases]) for k in phases[0]}
        heavy_loaded = runs[0][1]
        top, import_total, n_modules = importtime_top(warm_argv, env)
        rss = _json_process(_RSS, env, str(cache), str(one), str(MAX_INSTANCES))
        after = rss["after_each_instance"]
        per_further = [round(b - a, 1) for a, b in itertools.pairwise(after)]
        rss_out: dict[str, Any] = {
            "one_instance_mb": round(after[0], 1),
            "per_further_instance_mb": per_further,
            "per_further_instance_median_mb": _median(per_further),
            "process_start_mb": round(rss["points"]["start"], 1),
            "after_imports_and_policy_mb": round(rss["points"]["imports_policy"], 1),
            "after_component_loaded_mb": round(rss["points"]["component_loaded"], 1),
            f"{MAX_INSTANCES}_instances_mb": round(after[-1], 1),
            f"hwm_{MAX_INSTANCES}_instances_mb": round(rss["points"]["hwm"], 1),
        }
        if serve:
            try:
                rss_out.update(serve_rss(cache, env))
            except (RuntimeError, OSError) as exc:
                notes.append(f"serve RSS not measured: {exc}")
    startup: dict[str, Any] = {
        "warm_cache_ms": _median(walls["warm"]),
        "warm_cache_first_output_ms": _median(firsts) if firsts else None,
        "warm_cache_environment_as_is_ms": _median(walls["warm_environment_as_is"]),
        "cold_cache_ms": _median(cold),
        "python_bare_ms": _median(walls["bare"]),
        "import_wasmtime_ms": _median(walls["wasmtime"]),
        "import_wasmtime_component_ms": _median(walls["wasmtime_component"]),
        "runs": {"warm": repeat, "cold": cold_repeat, "phases": len(phases)},
        "samples_ms": {
            "warm": [round(x, 1) for x in walls["warm"]],
            "warm_environment_as_is": [round(x, 1) for x in walls["warm_environment_as_is"]],
            "cold": [round(x, 1) for x in cold],
            "python_bare": [round(x, 1) for x in walls["bare"]],
            "import_wasmtime": [round(x, 1) for x in walls["wasmtime"]],
            "import_wasmtime_component": [round(x, 1) for x in walls["wasmtime_component"]],
        },
        "phases_ms": phases_ms,
        "heavy_modules_checked": list(HEAVY_MODULES),
        "heavy_modules_loaded": heavy_loaded,
        "importtime_total_ms": import_total,
        "importtime_modules": n_modules,
        "importtime_top": top,
    }
    floor = startup["import_wasmtime_component_ms"] + phases_ms["deserialize_component"]
    notes += [
        "times are medians of fresh processes (spawn -> exit, measured by the parent); "
        "warm_cache_first_output_ms: spawn -> first output line on the pipe (python -u)",
        "import_wasmtime_ms: `python -c 'import wasmtime'`; import_wasmtime_component_ms: "
        "`python -c 'import wasmtime.component'` (what the host imports); bare start included",
        f"floor of a warm start here: python + import wasmtime.component "
        f"{startup['import_wasmtime_component_ms']} ms + "
        f"deserialize the compiled component {phases_ms['deserialize_component']} ms = "
        f"{floor:.1f} ms, before the policy, instantiation and the guest's own initialize",
        "importtime figures are inflated by -X importtime itself; compare ranks",
        "all processes but warm_cache_environment_as_is_ms reuse bytecode from a private "
        "PYTHONPYCACHEPREFIX (an installed host); warm_cache_environment_as_is_ms inherits the "
        f"environment (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE')!r}: "
        "with 1, the package's modules are compiled from source in every process)",
        f"targets: warm start < {TARGET_WARM_MS:.0f} ms, "
        f"< {TARGET_PER_INSTANCE_MB:.0f} MB per further instance",
    ]
    return {"environment": env_info, "startup": startup, "rss": rss_out, "notes": notes}


def table(result: dict[str, Any]) -> str:
    s, r = result["startup"], result["rss"]
    rows = [
        ("python -c pass", f"{s['python_bare_ms']} ms"),
        ("python -c 'import wasmtime'", f"{s['import_wasmtime_ms']} ms"),
        ("python -c 'import wasmtime.component'", f"{s['import_wasmtime_component_ms']} ms"),
        ("run, 1 event, warm cache (spawn->exit)", f"{s['warm_cache_ms']} ms"),
        ("run, 1 event, warm cache (spawn->1st out)", f"{s['warm_cache_first_output_ms']} ms"),
        (
            "run, 1 event, warm cache, env as is, no pyc",
            f"{s['warm_cache_environment_as_is_ms']} ms",
        ),
        ("run, 1 event, --no-cache (spawn->exit)", f"{s['cold_cache_ms']} ms"),
    ]
    rows += [(f"  phase {k}", f"{v}") for k, v in s["phases_ms"].items()]
    rows += [
        ("-X importtime total (self, inflated)", f"{s['importtime_total_ms']} ms"),
        ("heavy modules a run loaded", ", ".join(s["heavy_modules_loaded"]) or "none"),
        ("RSS, one instance", f"{r['one_instance_mb']} MB"),
        ("RSS per further instance (2..8)", " ".join(map(str, r["per_further_instance_mb"]))),
        ("RSS per further instance, median", f"{r['per_further_instance_median_mb']} MB"),
    ]
    for key in ("serve_ready_ms", "serve_idle_mb", "serve_after_stream_mb"):
        if key in r:
            rows.append((key, str(r[key])))
    width = max(len(a) for a, _ in rows)
    lines = [f"{a:<{width}}  {b}" for a, b in rows]
    lines.append("top imports (cumulative ms under -X importtime):")
    lines += [f"  {t['cumulative_ms']:8.1f}  {t['module']}" for t in s["importtime_top"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Measure, write the JSON, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (< 60 s)")
    parser.add_argument("--repeat", type=int, help="fresh processes per warm figure")
    parser.add_argument("--out", default=str(REPO / "reports" / "startup.json"))
    parser.add_argument("--no-serve", action="store_true", help="skip the serve RSS figures")
    args = parser.parse_args(argv)
    repeat = args.repeat or (5 if args.quick else 15)
    result = measure(repeat=repeat, cold_repeat=1 if args.quick else 3, serve=not args.no_serve)
    result["environment"]["mode"] = "quick" if args.quick else "full"
    out = write_result(args.out, result)
    sys.stdout.write(table(result))
    sys.stdout.write(f"written: {out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
