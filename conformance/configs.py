"""Valid and invalid configurations for a component's ``configuration-schema``.

Valid ones are generated from the schema with hypothesis-jsonschema; invalid ones are text that
is not JSON, arbitrary JSON values, and valid examples with one property given a value of another
JSON type -- each kept only if the schema really rejects it.  Generation is derandomized: the
same schema and budget give the same configs on every run (a certification must be repeatable).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conformance._hypothesis import without_local_constants

#: Texts no configuration schema can accept (they are not JSON).
NOT_JSON = ("not json", "{", "", '{"a": 1', "\u0000")
_OTHER_TYPES: tuple[Any, ...] = (None, True, 12345, -1.5, "a string", [], [1], {}, {"x": {}})

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def draw(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """Up to ``n`` distinct examples of ``strategy``, the same ones on every run."""
    out: list[Any] = []
    if n < 1:
        return out

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    with without_local_constants():
        collect()
    unique: dict[str, Any] = {}
    for value in out:
        unique.setdefault(repr(value), value)
    return list(unique.values())


def _validator(schema: dict[str, Any]) -> Any:
    import jsonschema

    return jsonschema.validators.validator_for(schema)(schema)


def valid_configs(schema: dict[str, Any] | None, n: int) -> tuple[list[str], str | None]:
    """Up to ``n`` configs valid under ``schema``, and why none could be generated (if so)."""
    if schema is None:
        return [], "the component publishes no configuration-schema"
    try:
        from hypothesis_jsonschema import from_schema

        values = draw(from_schema(schema), n)
        validator = _validator(schema)
    except Exception as exc:  # a schema hypothesis-jsonschema cannot handle, or a broken install
        return [], f"cannot generate configs from the schema: {type(exc).__name__}: {exc}"[:300]
    return [json.dumps(v) for v in values if validator.is_valid(v)], None


def _mutations(value: Any) -> list[Any]:
    if not isinstance(value, dict):
        return []
    out: list[Any] = []
    for key in value:
        out.append({k: v for k, v in value.items() if k != key})  # one property missing
        for other in _OTHER_TYPES:
            if type(other) is not type(value[key]):
                out.append({**value, key: other})
    out.append({**value, "conformance_unknown_property": 1})
    return out


def invalid_configs(schema: dict[str, Any] | None, n: int) -> tuple[list[str], str | None]:
    """Configs ``schema`` rejects, and why no JSON ones could be generated (if so).

    First the non-JSON texts, then the most telling JSON ones -- valid examples with one property
    of another JSON type (or missing) -- then other JSON types, then up to ``n`` random JSON
    values; each kept only if the schema really rejects it.
    """
    configs = list(NOT_JSON)
    if schema is None:
        return configs, None
    try:
        validator = _validator(schema)
    except Exception as exc:  # not a JSON Schema: LIFE-001 says so
        return configs, f"the configuration-schema is not usable: {exc}"[:300]
    candidates: list[Any] = []
    problem = None
    try:  # the most telling first: valid examples with one property changed or missing
        from hypothesis_jsonschema import from_schema

        for value in draw(from_schema(schema), max(2, n // 5)):
            candidates += _mutations(value)
    except Exception as exc:  # no valid examples to mutate: the other candidates remain
        problem = f"cannot generate configs from the schema: {type(exc).__name__}: {exc}"[:300]
    candidates += list(_OTHER_TYPES)
    candidates += draw(JSON_VALUES, n)
    seen = set(configs)
    for value in candidates:
        text = json.dumps(value)
        if text not in seen and not validator.is_valid(value):
            seen.add(text)
            configs.append(text)
    return configs[: len(NOT_JSON) + max(n, 1)], problem


def candidates_from_schema(schema: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Configs a component's own schema suggests, as (where from, JSON text), best first.

    The schema's top-level ``examples``, then an object of the properties' ``default`` values
    (a required property without a default takes the first of its ``examples``), then ``{}``.
    What the schema rejects is left out.  Used when no ``--component-config`` is given.
    """
    out: list[tuple[str, str]] = []
    if isinstance(schema, dict):
        examples = schema.get("examples")
        for i, example in enumerate(examples if isinstance(examples, list) else []):
            out.append((f"configuration-schema examples[{i}]", json.dumps(example)))
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        required = schema.get("required")
        required = [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        built: dict[str, Any] = {}
        for name, prop in props.items():
            if not isinstance(prop, dict):
                continue
            if "default" in prop:
                built[name] = prop["default"]
            elif name in required and isinstance(prop.get("examples"), list) and prop["examples"]:
                built[name] = prop["examples"][0]
        if built:
            out.append(("configuration-schema defaults", json.dumps(built)))
    out.append(("{}", "{}"))
    unique: dict[str, tuple[str, str]] = {}
    for source, text in out:
        unique.setdefault(text, (source, text))
    if not isinstance(schema, dict):
        return list(unique.values())
    try:
        validator = _validator(schema)
        return [(src, txt) for src, txt in unique.values() if validator.is_valid(json.loads(txt))]
    except Exception:  # not a JSON Schema (LIFE-001 says so): try them all
        return list(unique.values())


def missing_required(schema: dict[str, Any] | None) -> list[str]:
    """Required properties of ``schema`` that have neither a ``default`` nor ``examples``."""
    if not isinstance(schema, dict) or not isinstance(schema.get("required"), list):
        return []
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    missing = []
    for name in schema["required"]:
        prop = props.get(name) if isinstance(props, dict) else None
        if not isinstance(prop, dict) or ("default" not in prop and not prop.get("examples")):
            missing.append(str(name))
    return missing
