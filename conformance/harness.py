"""The component under test, and how the suite runs it on real services.

:class:`ComponentUnderTest` loads and inspects the component once per process and opens fresh
instances the way a pipeline would (:func:`reference_host.host.capabilities_from_policy`), with
the certification policy wired to the real services of the run: a granted database gets a fresh
schema on the run's PostgreSQL and a role limited to the policy's tables and operations; a granted
key-value store gets a namespace of its own on the run's Redis; a granted HTTP client may reach
the run's local fixture server.  That schema and namespace are the component's
:class:`ExternalState`: several instances can share one (a recycled instance meets what its
predecessor left) and it can be reset between passes.  Every instance is an
:class:`~conformance.observe.ObservedInstance`: its traps go into the run's ledger.  No pytest
here: the suite's fixtures and tests are thin layers over this module.

The run's services live in :mod:`conformance.services` (:class:`~conformance.services.Services`),
the choice of its configuration in :mod:`conformance.config_choice`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from conformance.config_choice import ConfigChoice, choose_config
from conformance.observe import ObservedInstance, TrapLedger
from conformance.outcomes import CallOutcome, NotAssessable, outcome
from conformance.services import Services
from conformance.settings import SuiteSettings
from reference_host import errors
from reference_host import interfaces as names
from reference_host import types as t
from reference_host.engine import EngineConfig, HostEngine, LoadedComponent, default_cache_dir
from reference_host.host import GrantedCapabilities, capabilities_from_policy, limits_from_policy
from reference_host.inspect import ComponentReport, inspect_component
from reference_host.limits import ResourceLimits
from reference_host.policy import Policy, load_policy, policy_from_mapping
from reference_host.processor import ProcessorInstance

#: max_fuel (per event) the suite runs with when the policy sets none: fuel is how the suite
#: measures work per event, so it is always metered; this much is no practical limit.
CERTIFICATION_FUEL = 20_000_000_000
HTTP_PLACEHOLDER = "${CONFORMANCE_HTTP}"
_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


# ---------------------------------------------------------------------- state and instances


@dataclass
class ExternalState:
    """What a component keeps outside its instance: its database schema, its key-value space.

    Empty (nothing to keep) when the policy grants neither.  :meth:`reset` brings both back to
    how the run made them (the schema re-created from ``--conformance-db-setup``, the namespace
    emptied), so a pass over the workload can start again from the same state.
    """

    database_url: str | None = None
    key_value_url: str | None = None
    key_value_namespace: str | None = None
    _resets: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def reset(self) -> None:
        """Back to the state the run started this one in."""
        for reset in self._resets:
            reset()


@dataclass
class Running:
    """One fresh instance, what was linked into it, and the external state it works on."""

    instance: ObservedInstance
    granted: GrantedCapabilities
    policy: Policy
    config: str
    state: ExternalState

    def denials(self) -> list[Any]:
        """Every call the linked capabilities refused, in order per capability."""
        return [d for cap in self.granted.others for d in getattr(cap, "denials", [])]

    def refusals(self) -> int:
        """Calls refused plus permission questions (is-url/query-allowed) answered no."""
        return self.granted.refusals()


@dataclass
class ComponentUnderTest:
    """The component of the run: loaded (its bytes hashed), inspected, opened on demand.

    ``component_path`` is the private copy the run works on (default: the file of the settings);
    when ``expected_sha256`` is given the loaded bytes must have that digest.  ``config`` is the
    run's configuration when it was already chosen (by the controlling process).
    """

    settings: SuiteSettings
    services: Services
    cache_dir: Path | None = field(default_factory=lambda: default_cache_dir(os.environ))
    component_path: Path | None = None
    expected_sha256: str | None = None
    config: ConfigChoice | None = None
    ledger: TrapLedger = field(default_factory=TrapLedger)

    def __post_init__(self) -> None:
        self.path = self.component_path or self.settings.component
        self.host = HostEngine(self._engine_config(), cache_dir=self.cache_dir)
        self.loaded: LoadedComponent = self.host.load(self.path, verify=True)
        if self.expected_sha256 is not None and self.loaded.sha256 != self.expected_sha256:
            raise errors.ComponentLoadError(
                f"{self.path} changed during the run (sha256 {self.loaded.sha256[:12]}, the run "
                f"started with {self.expected_sha256[:12]}); start the run again"
            )
        self.report: ComponentReport = inspect_component(self.host.engine, self.loaded.component)

    def _engine_config(self) -> EngineConfig:
        # the default policy needs get-info, hence an engine: its stack limit is Policy()'s
        base = self.base_policy if self.settings.policy is not None else Policy()
        return EngineConfig(fuel=True, max_wasm_stack=base.max_wasm_stack)

    # ------------------------------------------------------------------ policy and config

    @cached_property
    def base_policy(self) -> Policy:
        """The policy asked for, else grants for exactly what get-info declares."""
        if self.settings.policy is not None:
            return self.load_policy_file(
                self.settings.policy.path, self.settings.policy.processor_id
            )
        return Policy.default_for(self.known_declared)

    def load_policy_file(self, path: Path, processor_id: str | None) -> Policy:
        """A policy file, ``${CONFORMANCE_HTTP}`` replaced by the fixture server's host:port."""
        text = path.read_text(encoding="utf-8")
        if HTTP_PLACEHOLDER not in text:
            return load_policy(path, processor_id)
        data = yaml.safe_load(self.with_http_origin(text, path))
        return policy_from_mapping(
            data, processor_id=processor_id, base_dir=path.parent, source=str(path)
        )

    def with_http_origin(self, text: str, where: object) -> str:
        """``text`` with ``${CONFORMANCE_HTTP}`` replaced (the fixture server starts now)."""
        if HTTP_PLACEHOLDER not in text:
            return text
        origin = self.services.http_origin()
        if origin is None:
            raise errors.PolicyError(
                f"{where} uses {HTTP_PLACEHOLDER} but no fixture HTTP server was asked for; "
                "give --conformance-http-fixture FILE.json"
            )
        return text.replace(HTTP_PLACEHOLDER, origin)

    @cached_property
    def config_choice(self) -> ConfigChoice:
        """The configuration the suite initializes with (see :meth:`choose_config`)."""
        return self.config or self.choose_config()

    @property
    def processor_config(self) -> str:
        """The processor configuration text the suite initializes with."""
        return self.config_choice.text

    def canonical_config(self) -> str:
        """The configuration as the same text on every run (for its digest).

        This run's fixture-server address is put back as ``${CONFORMANCE_HTTP}``.
        """
        text = self.processor_config
        server = self.services.http_server
        return text.replace(server.origin, HTTP_PLACEHOLDER) if server is not None else text

    def choose_config(self) -> ConfigChoice:
        """The run's configuration: given, or the first suggested one initialize accepts.

        See :func:`conformance.config_choice.choose_config`; raises
        :class:`~conformance.config_choice.ConfigRefusedError` when there is none.
        """
        return choose_config(self)

    def try_initialize(self, config: str) -> CallOutcome:
        """What ``initialize(config)`` answers on a fresh instance."""
        with self.running(initialize=False, config=config) as run:
            return outcome(functools.partial(run.instance.initialize, config))

    @cached_property
    def known_declared(self) -> list[str]:
        """The declared capabilities the host knows (unknown names are LIFE-001's business)."""
        known = []
        for name in self.info.capabilities_required:
            with contextlib.suppress(errors.PolicyError):
                Policy.default_for([name])
                known.append(name)
        return known

    @cached_property
    def info(self) -> t.ProcessorInfo:
        """get-info of a fresh instance linked with everything it imports (services unused)."""
        return self.ask_info()

    def ask_info(self) -> t.ProcessorInfo:
        """Ask a fresh instance for get-info (:attr:`info` keeps the answer)."""
        grants = [names.short(i) for i in self.report.flowctl_imports if i in names.CAPABILITIES]
        data = Policy.default_for(grants).model_dump()
        data.update(unknown_imports="trap")
        caps = data["capabilities"]
        caps["wasi"] = bool(self.report.wasi_imports)
        # backends connect lazily: get-info needs no server, so none is started for it
        caps["database"]["connection_string"] = "postgresql://get-info@127.0.0.1:9/none"
        caps["key_value"]["backend"] = "memory"
        policy = Policy.model_validate(data)
        with self._open(policy, self.limits_of(policy), ExternalState()) as run:
            got = outcome(run.instance.get_info)
        if got.kind != "ok":
            raise NotAssessable(f"get-info failed: {got}")
        info: t.ProcessorInfo = got.value
        return info

    def limits_of(self, policy: Policy) -> ResourceLimits:
        """The resource limits of ``policy``, fuel always metered."""
        limits = limits_from_policy(policy)
        if limits.max_fuel is None:
            limits = dataclasses.replace(limits, max_fuel=CERTIFICATION_FUEL)
        return limits

    # ------------------------------------------------------------------ external state

    @contextlib.contextmanager
    def external_state(self) -> Iterator[ExternalState]:
        """A fresh schema / namespace for what the policy grants and the component imports."""
        policy, imported = self.base_policy, set(self.report.flowctl_imports)
        state = ExternalState()
        with contextlib.ExitStack() as stack:
            if policy.capabilities.database.enabled and names.DATABASE in imported:
                self._database(stack, state, policy)
            if policy.capabilities.key_value.enabled and names.KEY_VALUE in imported:
                space = stack.enter_context(self.services.redis().isolated_namespace("conf"))
                state.key_value_url, state.key_value_namespace = space.url, space.namespace
                state._resets.append(space.clear)
            yield state

    def _database(self, stack: contextlib.ExitStack, state: ExternalState, policy: Policy) -> None:
        pg = self.services.postgres()
        schema = stack.enter_context(pg.isolated_schema("conf"))
        setup = (
            [self.settings.db_setup.read_text(encoding="utf-8").encode()]
            if self.settings.db_setup is not None
            else []
        )
        if setup:
            schema.reset(*setup)
        with pg.endpoint.connect() as conn:
            present = {
                row[0]
                for row in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (schema.name,),
                )
            }
        db = policy.capabilities.database
        wanted = [str(entry).rsplit(".", 1)[-1] for entry in db.allowed_tables]
        tables = sorted(set(wanted) & present)
        privileges = [p for p in db.allowed_operations if p in _PRIVILEGES] or ["SELECT"]
        role, password = schema.create_restricted_role(tables, privileges)
        state.database_url = schema.role_endpoint(role, password).url
        state._resets.append(lambda: schema.reset(*setup))

    def run_policy(
        self, state: ExternalState, config: str | None = None, **overrides: Any
    ) -> Policy:
        """The certification policy for one instance, wired to ``state``'s real services."""
        data = self.base_policy.model_dump()
        data.update(overrides)
        caps = data["capabilities"]
        if state.database_url is not None:
            caps["database"]["connection_string"] = state.database_url
        if state.key_value_url is not None:
            caps["key_value"].update(
                backend="redis", url=state.key_value_url, namespace=state.key_value_namespace
            )
        data["processor_config"] = self.processor_config if config is None else config
        return Policy.model_validate(data)

    # ------------------------------------------------------------------ instances

    @contextlib.contextmanager
    def _open(
        self, policy: Policy, limits: ResourceLimits, state: ExternalState, *, probing: bool = False
    ) -> Iterator[Running]:
        granted = capabilities_from_policy(
            policy, self.path.stem, frozenset(self.report.flowctl_imports)
        )
        try:
            instance = ProcessorInstance(
                self.host,
                self.loaded,
                limits=limits,
                capabilities=granted.all(),
                unknown_imports=policy.unknown_imports,
                allow_wasi=policy.capabilities.wasi,
                component_id=self.path.stem,
                report=self.report,
            )
        except errors.FlowctlHostError as exc:
            for cap in granted.all():
                cap.close()
            raise NotAssessable(f"the reference host refuses the component: {exc}") from exc
        observed = ObservedInstance(instance, None if probing else self.ledger)
        try:
            yield Running(observed, granted, policy, policy.processor_config, state)
        finally:
            instance.close()

    def close(self) -> None:
        """Release what the run holds beyond its instances (nothing in-process)."""

    @contextlib.contextmanager
    def running(
        self,
        *,
        initialize: bool = True,
        state: ExternalState | None = None,
        config: str | None = None,
        probing: bool = False,
        **overrides: Any,
    ) -> Iterator[Running]:
        """Open a fresh instance under the certification policy, initialized unless asked not to.

        ``state``: the external state to work on (default: a fresh one for this instance).
        ``config``: another configuration than the run's.  ``probing``: the caller provokes
        limit stops on purpose, keep them out of the trap ledger.  ``overrides`` are policy keys
        such as ``execution_timeout`` or ``max_memory_pages``.
        """
        with contextlib.ExitStack() as stack:
            if state is None:
                state = stack.enter_context(self.external_state())
            policy = self.run_policy(state, config, **overrides)
            run = stack.enter_context(
                self._open(policy, self.limits_of(policy), state, probing=probing)
            )
            if initialize:
                got = outcome(lambda: run.instance.initialize(run.config))
                if got.kind != "ok":
                    raise NotAssessable(
                        f"initialize with the certification config failed: {got} "
                        "(give the right config with --component-config)"
                    )
            yield run
