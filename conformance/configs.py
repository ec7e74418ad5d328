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
    out = []
    for key in value:
        for other in _OTHER_TYPES:
            if type(other) is not type(value[key]):
                out.append({**value, key: other})
    return out


def invalid_configs(schema: dict[str, Any] | None, n: int) -> list[str]:
    """Configs ``schema`` rejects: non-JSON texts, then up to ``n`` generated JSON values."""
    configs = list(NOT_JSON)
    if schema is None or n < 1:
        if schema is not None:
            validator = _validator(schema)
            configs += [json.dumps(v) for v in _OTHER_TYPES if not validator.is_valid(v)][:3]
        return configs
    validator = _validator(schema)
    candidates = list(_OTHER_TYPES)
    try:  # the most telling first: valid examples with one property of another JSON type
        from hypothesis_jsonschema import from_schema

        for value in draw(from_schema(schema), max(1, n // 5)):
            candidates += _mutations(value)
    except Exception:  # noqa: S110 - no valid examples to mutate: the other candidates remain
        pass
    candidates += draw(JSON_VALUES, n)
    seen = set(configs)
    for value in candidates:
        text = json.dumps(value)
        if text not in seen and not validator.is_valid(value):
            seen.add(text)
            configs.append(text)
    return configs[: len(NOT_JSON) + n]
