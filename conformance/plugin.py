"""pytest plugin of flowctl-conformance (entry point ``pytest11``).

``pytest --component x.wasm`` runs the packaged conformance suite (``conformance/suite``) against
the component and writes a result file; the exit status is the certification verdict.  Without
``--component`` the plugin registers its options and does nothing else: it collects nothing and
imports nothing heavy (wasmtime, psycopg, redis, hypothesis are imported only when the suite runs).

Every option has an ini twin (``[tool.pytest.ini_options]`` / ``pytest.ini``); the command line
wins, relative ini paths are resolved against the ini file's directory.  Every value is parsed
whether or not ``--component`` is given: a command-line value by the option's ``type=`` (while
pytest parses the command line), an ini value in :func:`pytest_configure`; a bad one is a usage
error naming the option and the fix.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from conformance import settings as s
from conformance.checks import Tier
from conformance.services import MODE_ENV
from conformance.settings import SETTINGS_KEY, SuiteSettings

SUITE_DIR = Path(__file__).resolve().parent / "suite"


@dataclass(frozen=True)
class _Option:
    """One option, its ini twin and the :class:`SuiteSettings` field it sets.

    ``parse`` turns one value (as written, and the directory relative paths in it are relative
    to) into what the field holds; a repeatable option's values are parsed one by one and then
    ``collect``-ed.
    """

    flag: str
    ini: str
    metavar: str
    help: str
    field: str
    parse: Callable[[str, Path], Any]
    collect: Callable[[list[Any]], Any] | None = None

    @property
    def dest(self) -> str:
        return "flowctl_" + self.flag.lstrip("-").replace("-", "_")

    @property
    def multiple(self) -> bool:
        return self.collect is not None

    def from_command_line(self, raw: str) -> Any:
        """The option's ``type=``: a command-line value, paths relative to the working directory."""
        try:
            return self.parse(raw, Path.cwd())
        except s.SettingsError as exc:
            raise pytest.UsageError(str(exc)) from None


OPTIONS = (
    _Option("--component", "conformance_component", "PATH",
            "certify this flowctl processor component (.wasm): runs the packaged conformance "
            "suite; exit status 0 only when every mandatory check of the tier passed",
            "component", lambda raw, base: s.existing_file("--component", raw, base)),
    _Option("--component-config", "conformance_component_config", "FILE[#ID]",
            "the processor configuration: a JSON file, or a pipeline YAML (+ '#processor-id') "
            "whose processor_config is used (default: the policy's processor_config, else {})",
            "component_config", lambda raw, base: s.policy_source("--component-config", raw, base)),
    _Option("--conformance-policy", "conformance_policy", "FILE[#ID]",
            "grants and limits: a pipeline YAML (+ '#processor-id'), a processor block or a "
            "JSON policy (default: exactly the capabilities get-info declares, safe limits)",
            "policy", lambda raw, base: s.policy_source("--conformance-policy", raw, base)),
    _Option("--conformance-level", "conformance_level", "TIER",
            "certification tier asked for: basic, standard (default) or marketplace",
            "level", lambda raw, _: s.tier(raw)),
    _Option("--conformance-report-dir", "conformance_report_dir", "DIR",
            "where the result file and the reports go (default: ./reports)",
            "report_dir", lambda raw, base: base / Path(raw).expanduser()),
    _Option("--conformance-report", "conformance_report", "FORMAT",
            "write only these report formats into the report dir (default: all of json, junit, "
            "html, markdown, badge, repro, plus any a plugin registers); repeatable",
            "report_formats", lambda raw, _: s.report_format(raw), collect=tuple),
    _Option("--conformance-services", "conformance_services", "MODE",
            "PostgreSQL/Redis: auto (env URL > Docker > embedded; default), env, docker, "
            "embedded. URLs: FLOWCTL_CONFORMANCE_POSTGRES_URL, FLOWCTL_CONFORMANCE_REDIS_URL",
            "services", lambda raw, _: s.service_mode(raw)),
    _Option("--conformance-golden", "conformance_golden", "INPUT:EXPECTED",
            "author-supplied golden files (JSONL events in, JSONL events expected); repeatable",
            "golden", s.golden_pair, collect=tuple),
    _Option("--conformance-examples", "conformance_examples", "N",
            "property-test budget: generated examples per property check (default 50)",
            "examples", lambda raw, _: s.positive_int("--conformance-examples", raw)),
    _Option("--conformance-events", "conformance_events", "FILE",
            "the workload (JSONL events) instead of the packaged fixtures; repeatable",
            "events", lambda raw, base: s.existing_file("--conformance-events", raw, base),
            collect=tuple),
    _Option("--conformance-threshold", "conformance_thresholds", "KEY=VALUE",
            "override a throughput threshold (single-events-per-s, batch-events-per-s, "
            "batch-p99-ms, fuel-per-event, batch-size, rounds); repeatable",
            "thresholds", lambda raw, _: s.threshold(raw), collect=s.Thresholds().with_overrides),
    _Option("--conformance-waive", "conformance_waivers", "CHECK:REASON",
            "waive a check with a recorded reason (it shows as waived, not passed); repeatable",
            "waivers", lambda raw, _: s.waiver(raw), collect=dict),
    _Option("--conformance-db-setup", "conformance_db_setup", "FILE.sql",
            "SQL run in each run's fresh schema before the component's role is made (create the "
            "tables the policy's allowed_tables name)",
            "db_setup", lambda raw, base: s.existing_file("--conformance-db-setup", raw, base)),
    _Option("--conformance-http-fixture", "conformance_http_fixture", "FILE.json",
            "serve these responses from a real HTTP server on 127.0.0.1 ({\"GET /path\": "
            "{\"status\": 200, \"body\": ...}}); ${CONFORMANCE_HTTP} in the processor config and "
            "in allowed_domains becomes its host:port",
            "http_fixture", s.http_fixture),
    _Option("--launch", "conformance_launch", "'CMD ... {port}'",
            "run the checks against a host under test that the suite starts for every fresh "
            "instance: {component} (the certified copy), {policy} (a JSON policy file), "
            "{config} (the processor config file), {port}; e.g. 'flowctl-host serve --pipeline "
            "{policy} --component {component} --port {port}'",
            "launch", lambda raw, _: s.launch_template(raw)),
    _Option("--processor-endpoint", "conformance_processor_endpoint", "HOST:PORT",
            "run the checks against a running server that hosts --component (flowctl.v1 plus "
            "the flowctl_host.v1 extension; fresh instances by its Reset)",
            "processor_endpoint", lambda raw, _: s.endpoint(raw)),
    _Option("--launch-timeout", "conformance_launch_timeout", "SECONDS",
            "how long a launched host may take to answer GetInfo (default 60)",
            "launch_timeout", lambda raw, _: s.seconds("--launch-timeout", raw)),
    _Option("--remote-contract", "conformance_remote_contract", "CONTRACT",
            "what the host under test speaks: extension (flowctl.v1 plus the flowctl_host.v1 "
            "extension service; default) or flowctl.v1 (Process streams only, with --launch: "
            "the output, determinism, golden and throughput checks run, the others are not "
            "assessed)",
            "remote_contract", lambda raw, _: s.remote_contract(raw)),
)  # fmt: skip


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Offer ``pytest_conformance_report_writers`` (:mod:`conformance.hookspecs`)."""
    from conformance import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the options (each with its ini twin)."""
    group = parser.getgroup("flowctl-conformance", "flowctl component conformance")
    group.addoption(
        "--conformance-list", dest="flowctl_conformance_list", action="store_true",
        default=False,
        help="dry run: list the checks the chosen tier runs, which are mandatory and why, and "
        "which do not apply remotely; run nothing",
    )  # fmt: skip
    parser.addini("conformance_list", "[flowctl-conformance] --conformance-list", type="bool",
                  default=False)  # fmt: skip
    kind: Literal["linelist", "string"]
    for opt in OPTIONS:
        kind = "linelist" if opt.multiple else "string"
        group.addoption(
            opt.flag,
            dest=opt.dest,
            metavar=opt.metavar,
            action="append" if opt.multiple else "store",
            type=opt.from_command_line,
            default=None,
            help=opt.help,
        )
        parser.addini(
            opt.ini,
            f"[flowctl-conformance] {opt.help}",
            type=kind,
            default=[] if opt.multiple else "",
        )


def _given(config: pytest.Config, opt: _Option) -> Any | None:
    """The option's parsed value: command line (parsed by ``type=``) > ini > ``None``."""
    value = config.getoption(opt.dest)
    if value is None:
        ini = config.getini(opt.ini)
        if ini in ("", []):
            return None
        base = config.inipath.parent if config.inipath else config.rootpath
        try:
            value = [opt.parse(v, base) for v in ini] if opt.multiple else opt.parse(ini, base)
        except s.SettingsError as exc:
            where = f" in {config.inipath}" if config.inipath else ""
            raise pytest.UsageError(f"{exc} (ini option {opt.ini}{where})") from None
    return opt.collect(value) if opt.collect is not None else value


def resolve_settings(config: pytest.Config) -> SuiteSettings | None:
    """CLI > ini > default, every option validated; ``None`` when no component is asked for."""
    given = {opt.field: value for opt in OPTIONS if (value := _given(config, opt)) is not None}
    if "component" not in given:
        return None
    given.setdefault("report_dir", config.invocation_params.dir / "reports")
    if "services" not in given and (env_mode := os.environ.get(MODE_ENV, "")):
        try:
            given["services"] = s.service_mode(env_mode)
        except s.SettingsError as exc:
            raise pytest.UsageError(str(exc)) from None
    if "launch" in given and "processor_endpoint" in given:
        raise pytest.UsageError(
            "--launch and --processor-endpoint exclude each other: the suite "
            "either starts the host under test or talks to a running one"
        )
    if given.get("remote_contract") == "flowctl.v1" and "launch" not in given:
        raise pytest.UsageError(
            "--remote-contract flowctl.v1 needs --launch: flowctl.v1 has no Reset, so every "
            "fresh instance a check needs is a new host process the suite starts"
        )
    return SuiteSettings(**given)


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


def check_list(level: Tier, target: Any = None) -> str:
    """The ``--conformance-list`` text: every check at ``level``, mandatory or not, and why."""
    from conformance.checks import CHECKS

    lines = [f"flowctl-conformance checks at tier {level.value} (nothing is run):", ""]
    for c in CHECKS:
        if c.mandatory_for(level):
            role = "mandatory"
        elif c.mandatory_from is None:
            role = "informational"
        else:
            role = f"runs, mandatory from {c.mandatory_from.value}"
        remote = target.not_applicable(c.id) if target is not None else None
        unseen = target.not_assessed(c.id) if target is not None else None
        lines.append(f"{c.id:9} {role:32} {c.title}")
        lines.append(f"{'':9} why: {c.rationale}")
        if remote:
            lines.append(f"{'':9} not applicable remotely: {remote}")
        elif unseen:
            lines.append(f"{'':9} not assessed (a failure where mandatory): {unseen}")
    mandatory = sum(c.mandatory_for(level) for c in CHECKS)
    lines += ["", f"{len(CHECKS)} checks, {mandatory} mandatory at {level.value}; informational "
              "checks never block. See conformance/CHECKS.md."]  # fmt: skip
    return "\n".join(lines) + "\n"


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """``--conformance-list``: print the checks of the tier and stop before anything runs."""
    if not (config.getoption("flowctl_conformance_list") or config.getini("conformance_list")):
        return None
    from conformance.remote import RemoteTarget

    level = _given(config, next(o for o in OPTIONS if o.field == "level")) or Tier.STANDARD
    launch = _given(config, next(o for o in OPTIONS if o.field == "launch"))
    endpoint = _given(config, next(o for o in OPTIONS if o.field == "processor_endpoint"))
    contract = _given(config, next(o for o in OPTIONS if o.field == "remote_contract"))
    target = (
        RemoteTarget(launch, endpoint, contract=contract or "extension")
        if launch or endpoint
        else None
    )
    sys.stdout.write(check_list(level, target))
    return 0
