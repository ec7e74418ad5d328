"""The processor configuration a run certifies with, decided once at its start.

``--component-config``, else the policy's ``processor_config``, else the first configuration the
component's own ``configuration-schema`` suggests (its ``examples``, then its properties'
``default``s, then ``{}``: :func:`conformance.configs.candidates_from_schema`) that its
``initialize`` accepts.  When ``initialize`` refuses every candidate, :class:`ConfigRefusedError`
names what was tried, the fields the schema requires without suggesting a value, and
``--component-config``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conformance.configs import candidates_from_schema, missing_required
from conformance.inputs import parse_schema
from conformance.outcomes import CallOutcome

if TYPE_CHECKING:
    from conformance.harness import ComponentUnderTest


class ConfigRefusedError(Exception):
    """No configuration the suite could find is accepted by the component's initialize."""


@dataclass(frozen=True)
class ConfigChoice:
    """The processor configuration of the run and where it came from.

    ``derived``: found by trying what the component's schema suggests (the controlling process
    does that once and hands the result to xdist workers); otherwise it was given (a file, the
    policy) and every process reads it itself.
    """

    text: str
    source: str
    tried: tuple[str, ...] = ()
    derived: bool = False


def choose_config(cut: ComponentUnderTest) -> ConfigChoice:
    """The run's configuration: given, or the first suggested one initialize accepts.

    Raises :class:`ConfigRefusedError` when the component accepts none of the suggested ones.
    """
    src = cut.settings.component_config
    if src is not None:
        if src.path.suffix.lower() == ".json" and src.processor_id is None:
            text = src.path.read_text(encoding="utf-8")
            json.loads(text)  # a JSON error here names the file through the fixture
            return ConfigChoice(cut.with_http_origin(text, src.path), f"--component-config {src}")
        return ConfigChoice(
            cut.load_policy_file(src.path, src.processor_id).processor_config,
            f"--component-config {src}",
        )
    policy = cut.settings.policy
    if policy is not None:
        text = cut.with_http_origin(cut.base_policy.processor_config, policy)
        return ConfigChoice(text, f"processor_config of --conformance-policy {policy}")
    return derive_config(parse_schema(cut.info.configuration_schema), cut.try_initialize)


def derive_config(
    schema: dict[str, Any] | None, initialize: Callable[[str], CallOutcome]
) -> ConfigChoice:
    """The first configuration ``schema`` suggests that ``initialize`` answers ``ok``."""
    tried: list[str] = []
    for source, text in candidates_from_schema(schema):
        got = initialize(text)
        if got.kind == "ok":
            return ConfigChoice(text, source, tuple(tried), derived=True)
        tried.append(f"{source} {text[:120]} -> {got}")
    missing = missing_required(schema)
    fields = (
        f"; the schema requires {', '.join(missing)} without a default or example"
        if missing
        else ""
    )
    what = (
        f"initialize refused every configuration the suite could derive from the component's "
        f"configuration-schema ({'; '.join(tried)})"
        if tried
        else "the component's configuration-schema suggests no configuration it accepts "
        "itself (no `examples`, and its defaults do not satisfy it)"
    )
    raise ConfigRefusedError(
        f"no configuration to certify with: {what}{fields}. Give one with --component-config "
        "FILE.json (or add `examples` to the configuration-schema)"
    )
