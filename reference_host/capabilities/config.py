"""``obsrvr:flowctl/config@1.0.0``: typed, read-only access to ``processor_config``.

Keys are the top-level keys of the processor config JSON object (no dotted paths).  Exact rules:

=============  ==========================================================================
getter         accepts                          otherwise
=============  ==========================================================================
get-string     a JSON string                    ``invalid-type`` (numbers are not converted)
get-int        a JSON integer in s64 range      ``invalid-type`` for 1.5 *and* 2.0, "5", true,
                                                and integers outside s64
get-float      a JSON number (integers widen)   ``invalid-type`` for strings and booleans
get-bool       ``true`` / ``false``             ``invalid-type`` for 0/1 and "true"
get-json       any value                        — (compact JSON text of the value)
=============  ==========================================================================

A missing key is ``key-not-found(<key>)`` for every getter; ``has-key`` and ``list-keys``
(sorted) never fail.  A ``null`` value counts as present: ``get-json`` gives ``"null"``, the typed
getters ``invalid-type``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from wasmtime.component import LinkerInstance

from reference_host import interfaces
from reference_host.capabilities.base import HostContext, link_interface
from reference_host.types import ConfigError, Err

S64 = (-(2**63), 2**63 - 1)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


@dataclass(eq=False)
class ConfigCapability:
    """Serves the config interface over one processor config object."""

    values: Mapping[str, Any] = field(default_factory=dict)
    interface: str = interfaces.CONFIG

    @classmethod
    def from_json_text(cls, text: str) -> ConfigCapability:
        """Build from the processor config JSON text; a non-object gives an empty config."""
        try:
            data = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError:
            data = {}
        return cls(data if isinstance(data, dict) else {})

    def link(self, linker: LinkerInstance, context: HostContext) -> None:
        """Define the seven getters."""
        link_interface(
            linker,
            self.interface,
            {
                "get-string": self.get_string,
                "get-int": self.get_int,
                "get-float": self.get_float,
                "get-bool": self.get_bool,
                "get-json": self.get_json,
                "has-key": lambda key: key in self.values,
                "list-keys": lambda: sorted(self.values),
            },
            context=context,
        )

    def _lookup(self, key: str, want: str) -> Any:
        if key not in self.values:
            return Err(ConfigError("key-not-found", key))
        return self.values[key]

    @staticmethod
    def _mismatch(key: str, value: Any, want: str) -> Err[ConfigError]:
        return Err(ConfigError("invalid-type", f"{key} is a {_kind(value)}, not {want}"))

    def get_string(self, key: str) -> Any:
        """``get-string``."""
        v = self._lookup(key, "a string")
        if isinstance(v, Err | str):
            return v
        return self._mismatch(key, v, "a string")

    def get_int(self, key: str) -> Any:
        """``get-int``: JSON integers within s64 only."""
        v = self._lookup(key, "an integer")
        if isinstance(v, Err):
            return v
        if type(v) is int:
            if S64[0] <= v <= S64[1]:
                return v
            return Err(ConfigError("invalid-type", f"{key} = {v} is outside the s64 range"))
        return self._mismatch(key, v, "an integer")

    def get_float(self, key: str) -> Any:
        """``get-float``: any JSON number."""
        v = self._lookup(key, "a number")
        if isinstance(v, Err):
            return v
        if type(v) in (int, float):
            return float(v)
        return self._mismatch(key, v, "a number")

    def get_bool(self, key: str) -> Any:
        """``get-bool``: JSON true/false only."""
        v = self._lookup(key, "a boolean")
        if isinstance(v, Err) or type(v) is bool:
            return v
        return self._mismatch(key, v, "a boolean")

    def get_json(self, key: str) -> Any:
        """``get-json``: the value as compact JSON text."""
        v = self._lookup(key, "any")
        if isinstance(v, Err):
            return v
        return json.dumps(v, separators=(",", ":"), ensure_ascii=False)

    def close(self) -> None:
        """Nothing to release."""
