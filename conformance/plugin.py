"""pytest plugin of flowctl-conformance (entry point ``pytest11``).

``pytest --component x.wasm`` runs the packaged conformance suite (``conformance/suite``) against
the component and writes a result file; the exit status is the certification verdict.  Without
``--component`` the plugin registers its options and does nothing else: it collects nothing and
imports nothing heavy (wasmtime, psycopg, redis, hypothesis are imported only when the suite runs).

Every option has an ini twin (``[tool.pytest.ini_options]`` / ``pytest.ini``); the command line
wins, relative ini paths are resolved against the ini file's directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

if TYPE_CHECKING:
    from conformance.settings import SuiteSettings

SUITE_DIR = Path(__file__).resolve().parent / "suite"
SETTINGS_KEY = pytest.StashKey["SuiteSettings"]()


@dataclass(frozen=True)
class _Option:
    flag: str
    ini: str
    metavar: str
    help: str
    multiple: bool = False

    @property
    def dest(self) -> str:
        return "flowctl_" + self.flag.lstrip("-").replace("-", "_")


OPTIONS = (
    _Option("--component", "conformance_component", "PATH",
            "certify this flowctl processor component (.wasm): runs the packaged conformance "
            "suite; exit status 0 only when every mandatory check of the tier passed"),
    _Option("--component-config", "conformance_component_config", "FILE[#ID]",
            "the processor configuration: a JSON file, or a pipeline YAML (+ '#processor-id') "
            "whose processor_config is used (default: the policy's processor_config, else {})"),
    _Option("--conformance-policy", "conformance_policy", "FILE[#ID]",
            "grants and limits: a pipeline YAML (+ '#processor-id'), a processor block or a "
            "JSON policy (default: exactly the capabilities get-info declares, safe limits)"),
    _Option("--conformance-level", "conformance_level", "TIER",
            "certification tier asked for: basic, standard (default) or marketplace"),
    _Option("--conformance-report-dir", "conformance_report_dir", "DIR",
            "where the result file goes (default: ./reports)"),
    _Option("--conformance-services", "conformance_services", "MODE",
            "PostgreSQL/Redis: auto (env URL > Docker > embedded; default), env, docker, "
            "embedded. URLs: FLOWCTL_CONFORMANCE_POSTGRES_URL, FLOWCTL_CONFORMANCE_REDIS_URL"),
    _Option("--conformance-golden", "conformance_golden", "INPUT:EXPECTED",
            "author-supplied golden files (JSONL events in, JSONL events expected); repeatable",
            multiple=True),
    _Option("--conformance-examples", "conformance_examples", "N",
            "property-test budget: generated examples per property check (default 50)"),
    _Option("--conformance-events", "conformance_events", "FILE",
            "the workload (JSONL events) instead of the packaged fixtures; repeatable",
            multiple=True),
    _Option("--conformance-threshold", "conformance_thresholds", "KEY=VALUE",
            "override a throughput threshold (single-events-per-s, batch-events-per-s, "
            "batch-p99-ms, fuel-per-event, batch-size, rounds); repeatable", multiple=True),
    _Option("--conformance-waive", "conformance_waivers", "CHECK:REASON",
            "waive a check with a recorded reason (it shows as waived, not passed); repeatable",
            multiple=True),
    _Option("--conformance-db-setup", "conformance_db_setup", "FILE.sql",
            "SQL run in each run's fresh schema before the component's role is made (create the "
            "tables the policy's allowed_tables name)"),
    _Option("--conformance-http-fixture", "conformance_http_fixture", "FILE.json",
            "serve these responses from a real HTTP server on 127.0.0.1 ({\"GET /path\": "
            "{\"status\": 200, \"body\": ...}}); ${CONFORMANCE_HTTP} in the processor config and "
            "in allowed_domains becomes its host:port"),
)  # fmt: skip


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the options (each with its ini twin)."""
    group = parser.getgroup("flowctl-conformance", "flowctl component conformance")
    kind: Literal["linelist", "string"]
    for opt in OPTIONS:
        kind = "linelist" if opt.multiple else "string"
        group.addoption(
            opt.flag,
            dest=opt.dest,
            metavar=opt.metavar,
            action="append" if opt.multiple else "store",
            default=None,
            help=opt.help,
        )
        parser.addini(
            opt.ini,
            f"[flowctl-conformance] {opt.help}",
            type=kind,
            default=[] if opt.multiple else "",
        )


def _raw(config: pytest.Config, opt: _Option) -> tuple[Any, Path] | None:
    """The option's raw value and the directory relative paths in it are relative to."""
    cli = config.getoption(opt.dest)
    if cli is not None:
        return cli, config.invocation_params.dir
    ini = config.getini(opt.ini)
    if ini not in ("", []):
        base = config.inipath.parent if config.inipath else config.rootpath
        return ini, base
    return None


def resolve_settings(config: pytest.Config) -> SuiteSettings | None:
    """CLI > ini > default, validated; ``None`` when no component is asked for."""
    from conformance import settings as s

    by_flag = {opt.flag: opt for opt in OPTIONS}

    def raw(flag: str) -> tuple[Any, Path] | None:
        return _raw(config, by_flag[flag])

    component = raw("--component")
    if component is None:
        return None
    try:
        value, base = component
        path = s.existing_file("--component", value, base)
        kwargs: dict[str, Any] = {"component": path}
        if (got := raw("--component-config")) is not None:
            kwargs["component_config"] = s.policy_source("--component-config", *got)
        if (got := raw("--conformance-policy")) is not None:
            kwargs["policy"] = s.policy_source("--conformance-policy", *got)
        if (got := raw("--conformance-level")) is not None:
            kwargs["level"] = s.tier(got[0])
        if (got := raw("--conformance-report-dir")) is not None:
            kwargs["report_dir"] = got[1] / Path(got[0]).expanduser()
        else:
            kwargs["report_dir"] = config.invocation_params.dir / "reports"
        mode = raw("--conformance-services")
        env_mode = os.environ.get("FLOWCTL_CONFORMANCE_SERVICES", "")
        if mode is not None:
            kwargs["services"] = s.service_mode(mode[0])
        elif env_mode:
            kwargs["services"] = s.service_mode(env_mode)
        if (got := raw("--conformance-golden")) is not None:
            kwargs["golden"] = tuple(s.golden_pair(v, got[1]) for v in got[0])
        if (got := raw("--conformance-examples")) is not None:
            kwargs["examples"] = s.positive_int("--conformance-examples", got[0])
        if (got := raw("--conformance-events")) is not None:
            kwargs["events"] = tuple(
                s.existing_file("--conformance-events", v, got[1]) for v in got[0]
            )
        if (got := raw("--conformance-threshold")) is not None:
            pairs = [s.key_value("--conformance-threshold", v) for v in got[0]]
            kwargs["thresholds"] = s.Thresholds().with_overrides(pairs)
        if (got := raw("--conformance-waive")) is not None:
            kwargs["waivers"] = s.waivers(got[0])
        if (got := raw("--conformance-db-setup")) is not None:
            kwargs["db_setup"] = s.existing_file("--conformance-db-setup", *got)
        if (got := raw("--conformance-http-fixture")) is not None:
            kwargs["http_fixture"] = s.existing_file("--conformance-http-fixture", *got)
            s.load_json_object("--conformance-http-fixture", kwargs["http_fixture"])
    except s.SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    return s.SuiteSettings(**kwargs)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


def pytest_configure(config: pytest.Config) -> None:
    """Resolve settings and add the suite when ``--component`` is given.

    Registers the fixtures and, on the controlling process, the run's start (snapshot and
    configuration, :mod:`conformance.start`) and the result recorder.
    """
    settings = resolve_settings(config)
    if settings is None:
        return
    config.stash[SETTINGS_KEY] = settings
    config.addinivalue_line(
        "markers", "conformance_check(id): the conformance check (conformance/checks.py) a test "
        "decides",
    )  # fmt: skip
    if not any(_inside(config.invocation_params.dir / a.split("::")[0], SUITE_DIR)
               for a in config.args):  # fmt: skip
        user_args = config.args if config.args_source is pytest.Config.ArgsSource.ARGS else []
        config.args[:] = [str(SUITE_DIR), *user_args]
    from conformance import fixtures, recorder

    config.pluginmanager.register(fixtures, "flowctl-conformance-fixtures")
    if not hasattr(config, "workerinput"):  # the xdist controller, or a plain run
        config.pluginmanager.register(
            recorder.Recorder(settings, config), "flowctl-conformance-recorder"
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    """Unregister what :func:`pytest_configure` registered (the controller drops its copy)."""
    for name in ("flowctl-conformance-recorder", "flowctl-conformance-fixtures"):
        plugin = config.pluginmanager.get_plugin(name)
        if plugin is not None:
            close = getattr(plugin, "close", None)
            if callable(close):
                close()
            config.pluginmanager.unregister(plugin)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Never collect the packaged suite without ``--component``."""
    if SETTINGS_KEY not in config.stash and _inside(collection_path, SUITE_DIR):
        return True
    return None
