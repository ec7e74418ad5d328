"""Pipeline documents: reading them strictly, and finding one processor's ``config:`` block.

A policy comes in one of three shapes (:func:`select_config` tells them apart):

* a **pipeline** (``apiVersion`` / ``kind`` / ``spec.processors``): the processor with the given
  id, or else its only ``type: wasm-component`` processor;
* a **processor block** (``id`` / ``type`` / ``config``), as one entry of ``spec.processors``;
* a bare **config** mapping (what :class:`~reference_host.policy.Policy` validates).

Reading is strict (:func:`read_document`): ``*.json`` files as JSON without duplicate keys or
``NaN``; anything else as safe YAML without duplicate keys (the last one would win silently).
Nothing is substituted: there is no ``${...}`` expansion, because ``reference_host`` never reads
environment variables; a caller with placeholders replaces them before validating.  Validation
itself, and the entry points :func:`~reference_host.policy.load_policy` /
:func:`~reference_host.policy.policy_from_mapping`, live in :mod:`reference_host.policy`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from reference_host.errors import PolicyError

__all__ = ["parse_json_object", "read_document", "select_config"]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses duplicate mapping keys (the last one would win silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r}; each key may appear once",
                key_node.start_mark,
            )
        seen.add(key)
    return dict(loader.construct_mapping(node))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


#: A processor configuration (JSON) longer than this is refused before it is parsed.
MAX_CONFIG_CHARS = 8 << 20


def parse_json_object(text: str) -> dict[str, Any]:
    """Parse a JSON object strictly: no duplicate keys, no ``NaN``/``Infinity`` (ValueError)."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        data = dict(pairs)
        if len(data) != len(pairs):  # linear: a hostile object may have 100,000s of keys
            seen: set[str] = set()
            repeated: set[str] = set()
            for key, _ in pairs:
                (repeated if key in seen else seen).add(key)
            dupes = sorted(repeated)
            raise ValueError(f"duplicate JSON keys {dupes[:20]}")
        return data

    if len(text) > MAX_CONFIG_CHARS:
        raise ValueError(
            f"expected a JSON object of at most {MAX_CONFIG_CHARS:,} characters, got "
            f"{len(text):,}: a processor configuration this large is refused before it is parsed"
        )

    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not valid JSON")

    try:
        data = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise ValueError(f"expected a JSON object: {exc}") from exc
    except RecursionError:
        raise ValueError("expected a JSON object: nested too deeply to parse") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


#: A policy or pipeline file larger than this is refused before it is parsed.
MAX_DOCUMENT_BYTES = 8 << 20
#: A document whose values, with every YAML alias expanded where it is used, number more than
#: this is refused (a "billion laughs" alias bomb is a few hundred bytes).
MAX_EXPANDED_NODES = 1_000_000


def _expanded_nodes(data: object, source: Path) -> int:
    """The document's size with every alias counted where it is used.

    Linear time (sizes are memoised by object); a cycle (``&a [*a]``) or more than
    :data:`MAX_EXPANDED_NODES` is refused.
    """
    sizes: dict[int, int] = {}
    path: set[int] = set()

    def size(value: object) -> int:
        if not isinstance(value, (dict, list)):
            return 1
        key = id(value)
        if key in sizes:
            return sizes[key]
        if key in path:
            raise PolicyError(f"{source}: a YAML alias refers to itself (a cycle); remove it")
        path.add(key)
        items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        total = 1 + sum(size(item) for item in items)
        path.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES:
            raise PolicyError(
                f"{source}: with its YAML aliases expanded the document has more than "
                f"{MAX_EXPANDED_NODES:,} values (an alias bomb?); write the values out"
            )
        return total

    return size(data)


def read_document(file: Path) -> Mapping[str, Any]:
    """Read a policy file (strict JSON for ``*.json``, strict YAML otherwise) into a mapping.

    Hostile files are refused with a :class:`PolicyError`, in bounded time and memory: larger
    than :data:`MAX_DOCUMENT_BYTES`, nested deeper than the parser's recursion allows, aliases
    that expand beyond :data:`MAX_EXPANDED_NODES` values or refer to themselves.
    """
    try:
        if file.stat().st_size > MAX_DOCUMENT_BYTES:
            raise PolicyError(
                f"{file} is {file.stat().st_size:,} bytes; a policy or pipeline file may have "
                f"at most {MAX_DOCUMENT_BYTES:,}"
            )
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            f"cannot read policy file {file}: {exc}; pass an existing UTF-8 YAML or JSON file"
        ) from exc
    try:
        if file.suffix.lower() == ".json":
            data: object = parse_json_object(text)
        else:
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
        _expanded_nodes(data, file)
    except (yaml.YAMLError, ValueError) as exc:
        raise PolicyError(f"{file} is not valid YAML/JSON: {exc}") from exc
    except RecursionError:
        raise PolicyError(f"{file} is nested too deeply to read; flatten it") from None
    if not isinstance(data, Mapping):
        raise PolicyError(f"{file}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def select_config(
    data: Mapping[str, Any], processor_id: str | None, source: str
) -> tuple[Mapping[str, Any], str, str | None]:
    """Return (config mapping, key-path prefix, processor id) for the three accepted shapes."""
    if "spec" in data or "apiVersion" in data or "kind" in data:
        spec = data.get("spec")
        processors = spec.get("processors") if isinstance(spec, Mapping) else None
        if not isinstance(processors, list) or not processors:
            raise PolicyError(f"{source}: spec.processors: expected a non-empty list")
        ids = [p.get("id") if isinstance(p, Mapping) else None for p in processors]
        if processor_id is not None:
            matches = [i for i, pid in enumerate(ids) if pid == processor_id]
            if not matches:
                raise PolicyError(
                    f"{source}: no processor with id {processor_id!r} in "
                    f"spec.processors; ids: {ids}"
                )
            index = matches[0]
        else:
            wasm = [
                i
                for i, p in enumerate(processors)
                if isinstance(p, Mapping) and p.get("type") == "wasm-component"
            ]
            if len(wasm) != 1:
                raise PolicyError(
                    f"{source}: {len(wasm)} processors of type wasm-component; "
                    f"pass a processor id, one of {ids}"
                )
            index = wasm[0]
        return _from_block(processors[index], f"spec.processors[{index}]", source)
    if "config" in data and ("id" in data or "type" in data):
        config, prefix, pid = _from_block(data, "", source)
        if processor_id is not None and pid != processor_id:
            raise PolicyError(f"{source}: the processor block has id {pid!r}, not {processor_id!r}")
        return config, prefix, pid
    return data, "", processor_id


def _from_block(block: object, path: str, source: str) -> tuple[Mapping[str, Any], str, str | None]:
    where = f"{path}." if path else ""
    if not isinstance(block, Mapping):
        raise PolicyError(f"{source}: {path or 'processor'}: expected a mapping")
    if block.get("type", "wasm-component") != "wasm-component":
        raise PolicyError(
            f"{source}: {where}type: expected 'wasm-component', got {block.get('type')!r}"
        )
    config = block.get("config")
    if not isinstance(config, Mapping):
        raise PolicyError(f"{source}: {where}config: expected the processor's config mapping")
    pid = block.get("id")
    return config, f"{where}config", pid if isinstance(pid, str) else None


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_variables(data: Any, environ: Mapping[str, str], source: str) -> Any:
    """``data`` (parsed YAML) with every ``${VAR}`` in its strings replaced from ``environ``.

    Only values are expanded (not comments, not keys).  An unset variable is an error naming it,
    the file and the key path; ``$${VAR}`` stays a literal ``${VAR}``.
    """
    missing: list[str] = []

    def expand(text: str, where: str) -> str:
        def value(match: re.Match[str]) -> str:
            if match.start() > 0 and text[match.start() - 1] == "$":
                return match.group(0)
            name = match.group(1)
            if name not in environ:
                missing.append(f"${{{name}}} at {where}")
                return ""
            return environ[name]

        return _VAR.sub(value, text).replace("$${", "${")

    def walk(node: Any, where: str) -> Any:
        if isinstance(node, str):
            return expand(node, where)
        if isinstance(node, dict):
            return {k: walk(v, f"{where}.{k}") for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(node)]
        return node

    out = walk(data, "$")
    if missing:
        raise PolicyError(
            f"{source}: unset environment variables: {', '.join(missing)}; export them "
            "(connection strings and keys stay out of files this way), or write $${VAR} for a "
            "literal ${VAR}"
        )
    return out
