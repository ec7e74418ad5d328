"""reference_host.policy, grants, pipeline: loading, validation, grants, secrets; rules.names."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from reference_host.errors import PolicyError
from reference_host.grants import INTERFACE_GRANTS, parse_duration
from reference_host.policy import Policy, load_policy, policy_from_mapping, redact_secret
from reference_host.rules.names import log_field_problem, metric_problem, sanitize_log_text

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PIPELINES = FIXTURES / "pipelines"
POLICIES = FIXTURES / "policies"
SECRETS = ("s3cr3t-db-pw", "s3cr3t-kv-pw", "not-a-real-token")
INTERFACES = sorted(INTERFACE_GRANTS)


def error_of(config: dict[str, Any]) -> str:
    with pytest.raises(PolicyError) as info:
        policy_from_mapping(config)
    return str(info.value)


# ---------------------------------------------------------------------- the design document


def test_design_document_pipeline() -> None:
    policy = load_policy(PIPELINES / "stellar-ttp-pipeline.yaml")
    assert policy.component_file == PIPELINES / "processors" / "ttp_processor.wasm"
    assert (policy.max_memory_pages, policy.max_fuel, policy.batch_size) == (256, 1_000_000, 100)
    assert (policy.execution_timeout, policy.batch_timeout) == (10.0, 0.1)
    caps = policy.capabilities
    assert (caps.logging, caps.metrics, caps.config) == (True, True, True)
    assert not (caps.http.enabled or caps.database.enabled or caps.key_value.enabled or caps.wasi)
    assert policy.processor_config.lstrip().startswith("{\n")  # kept as written
    assert policy.processor_config_data == {
        "network_passphrase": "Test SDF Network ; September 2015",
        "min_amount": 1.0,
        "extract_path_payments": True,
        "extract_claimable_balances": False,
    }
    assert policy.max_wasm_stack == 512 * 1024 and policy.unknown_imports == "refuse"


def test_design_document_pipeline_by_id() -> None:
    assert load_policy(PIPELINES / "stellar-ttp-pipeline.yaml", "ttp-processor").batch_size == 100
    with pytest.raises(PolicyError, match=r"no processor with id 'nope'.*ttp-processor"):
        load_policy(PIPELINES / "stellar-ttp-pipeline.yaml", "nope")


# ---------------------------------------------------------------------- the three file shapes


def test_pipeline_picks_the_only_wasm_component() -> None:
    policy = load_policy(PIPELINES / "enrichment-pipeline.yaml")
    assert policy.component_file == FIXTURES.parent / "sample_components" / "enricher.wasm"
    http, db, kv = (
        policy.capabilities.http,
        policy.capabilities.database,
        policy.capabilities.key_value,
    )
    assert http.allowed_domains == ("horizon.stellar.org", "*.stellar.expert", "127.0.0.1:8080")
    assert (http.request_timeout, http.rate_limit_window, http.max_requests) == (5.0, 60.0, 20)
    assert http.follow_redirects and http.max_response_bytes == 262144
    assert db.allowed_operations == ("SELECT", "INSERT") and db.query_timeout == 1.5
    assert kv.namespace == "enricher"  # defaults to the processor id
    assert kv.ttl_max == 3600.0 and kv.backend == "redis"
    assert policy.unknown_imports == "trap" and policy.max_wasm_stack == 1048576
    assert json.loads(policy.processor_config)["min_amount"] == 1.5


def test_pipeline_with_two_components_needs_an_id() -> None:
    path = PIPELINES / "two-components.yaml"
    with pytest.raises(PolicyError, match=r"2 processors.*'ttp-processor', 'kv-counter'"):
        load_policy(path)
    assert load_policy(path, "kv-counter").capabilities.key_value.namespace == "kv-counter"
    assert load_policy(path, "ttp-processor").capabilities.logging


def test_pipeline_id_of_another_type_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"spec.processors\[0\].type: expected 'wasm-component'"):
        load_policy(PIPELINES / "enrichment-pipeline.yaml", "legacy-filter")


def test_processor_block() -> None:
    policy = load_policy(POLICIES / "processor-block.yaml")
    assert policy.component_file == POLICIES / "ttp_processor.wasm"
    assert policy.processor_config_data == {"min_amount": 1.0}
    assert load_policy(POLICIES / "processor-block.yaml", "ttp-processor") == policy
    with pytest.raises(PolicyError, match="has id 'ttp-processor', not 'other'"):
        load_policy(POLICIES / "processor-block.yaml", "other")


def test_config_only_yaml_and_json() -> None:
    yaml_policy = load_policy(POLICIES / "config-only.yaml")
    assert yaml_policy.component_file == Path("/opt/flowctl/processors/http_probe.wasm")
    assert yaml_policy.execution_timeout == 0.5
    json_policy = load_policy(POLICIES / "config-only.json")
    assert json_policy.component_file == POLICIES / "db_probe.wasm"
    assert json_policy.capabilities.database.allowed_tables == ("events", "app.accounts")
    assert json_policy.processor_config_data == {"mode": "strict"}


def test_minimal_policy_denies_everything() -> None:
    policy = load_policy(POLICIES / "minimal.yaml")
    assert not any(policy.grants(name) for name in INTERFACES)
    assert not policy.grants("wasi:cli/environment@0.2.0")
    assert policy == Policy.safe_defaults().updated({"component_file": str(policy.component_file)})


def test_mapping_without_base_dir_keeps_relative_paths() -> None:
    assert policy_from_mapping({"component_file": "a.wasm"}).component_file == Path("a.wasm")
    with_base = policy_from_mapping({"component_file": "../a.wasm"}, base_dir="/x/y")
    assert with_base.component_file == Path("/x/a.wasm")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("- a\n- b\n", "expected a mapping at the top level"),
        ("a: [unclosed\n", "not valid YAML"),
        ("a: 1\na: 2\n", "duplicate key 'a'"),
        ("apiVersion: v1\nspec: {}\n", r"spec.processors: expected a non-empty list"),
        (
            "spec:\n  processors:\n    - id: p\n      type: wasm-component\n",
            r"spec.processors\[0\].config: expected",
        ),
        ("id: p\ntype: process\nconfig: {}\n", "type: expected 'wasm-component'"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=match):
        load_policy(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a": 1, "a": 2}', "duplicate JSON keys"),
        ("[1]", "expected a JSON object"),
        ('{"max_fuel": NaN}', "NaN is not valid JSON"),
        ("{", "not valid YAML/JSON"),
    ],
)
def test_bad_json_files(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "policy.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=match):
        load_policy(path)


def test_json_with_tab_indentation(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{\n\t"batch_size": 7,\n\t"capabilities": {"logging": true}\n}', "utf-8")
    policy = load_policy(path)
    assert policy.batch_size == 7 and policy.capabilities.logging


def test_missing_file() -> None:
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(POLICIES / "does-not-exist.yaml")


def test_duplicate_keys_in_fixture() -> None:
    with pytest.raises(PolicyError, match=r"duplicate key 'enabled'(.|\n)*line 6"):
        load_policy(POLICIES / "invalid-duplicate-key.yaml")


# ---------------------------------------------------------------------- validation messages


def test_unknown_key_names_the_path_and_suggests() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(POLICIES / "invalid-unknown-key.yaml")
    text = str(info.value)
    assert "capabilities.http.allowed_domain: unknown key; did you mean 'allowed_domains'?" in text
    assert "expected one of: enabled, allowed_domains" in text


def test_fixture_with_several_errors_reports_them_all() -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(POLICIES / "invalid-values.yaml")
    text = str(info.value)
    for path in (
        "execution_timeout:",
        "capabilities.http.allowed_domains[1]:",
        "capabilities.database.connection_string:",
        "capabilities.database.allowed_operations[1]:",
    ):
        assert f"\n  {path}" in text
    assert "12345" not in text  # secret fields never echo their input


def test_pipeline_errors_carry_the_processor_path(tmp_path: Path) -> None:
    text = (PIPELINES / "enrichment-pipeline.yaml").read_text(encoding="utf-8")
    path = tmp_path / "p.yaml"
    path.write_text(text.replace('- "127.0.0.1:8080"', '- "user@evil.com"'), encoding="utf-8")
    with pytest.raises(
        PolicyError,
        match=re.escape("spec.processors[1].config.capabilities.http.allowed_domains[2]: "),
    ):
        load_policy(path)


@pytest.mark.parametrize(
    ("config", "path", "expected"),
    [
        ({"max_memory_pages": 0}, "max_memory_pages", "greater than or equal to 1"),
        ({"max_memory_pages": 70000}, "max_memory_pages", "less than or equal to 65536"),
        ({"max_memory_pages": "256"}, "max_memory_pages", "valid integer"),
        ({"max_fuel": 0}, "max_fuel", "greater than or equal to 1"),
        ({"max_fuel": 1.5}, "max_fuel", "valid integer"),
        ({"batch_size": 0}, "batch_size", "greater than or equal to 1"),
        ({"batch_timeout": "0s"}, "batch_timeout", "greater than 0"),
        ({"execution_timeout": "10"}, "execution_timeout", "duration"),
        ({"execution_timeout": True}, "execution_timeout", "duration"),
        ({"max_wasm_stack": 100}, "max_wasm_stack", "greater than or equal to 4096"),
        ({"unknown_imports": "ignore"}, "unknown_imports", "'refuse' or 'trap'"),
        ({"component_file": ""}, "component_file", "path to a .wasm"),
        ({"component_file": 3}, "component_file", "path to a .wasm"),
        ({"processor_config": "{"}, "processor_config", "expected a JSON object"),
        ({"processor_config": "[1]"}, "processor_config", "got list"),
        ({"processor_config": '{"a": 1, "a": 2}'}, "processor_config", "duplicate JSON keys"),
        ({"processor_config": '{"a": NaN}'}, "processor_config", "NaN is not valid JSON"),
        ({"processor_config": 5}, "processor_config", "JSON object"),
        ({"processor_config": {"when": object()}}, "processor_config", "JSON-serialisable"),
        ({"capabilities": {"logging": "yes"}}, "capabilities.logging", "valid boolean"),
        ({"capabilities": {"wasi": 1}}, "capabilities.wasi", "valid boolean"),
        (
            {"capabilities": {"http": {"allowed_domains": "a.com"}}},
            "capabilities.http.allowed_domains",
            "valid tuple",
        ),
        (
            {"capabilities": {"http": {"allowed_domains": ["a.com", "*"]}}},
            "capabilities.http.allowed_domains[1]",
            "'*'",
        ),
        (
            {"capabilities": {"http": {"max_requests": 0}}},
            "capabilities.http.max_requests",
            "greater than or equal to 1",
        ),
        (
            {"capabilities": {"http": {"request_timeout": "1x"}}},
            "capabilities.http.request_timeout",
            "duration",
        ),
        (
            {"capabilities": {"http": {"max_redirects": 99}}},
            "capabilities.http.max_redirects",
            "less than or equal to 20",
        ),
        (
            {"capabilities": {"database": {"allowed_tables": ["events", "pg_catalog.pg_authid"]}}},
            "capabilities.database.allowed_tables[1]",
            "system schemas",
        ),
        (
            {"capabilities": {"database": {"allowed_operations": ["select", "drop"]}}},
            "capabilities.database.allowed_operations[1]",
            "SELECT, INSERT, UPDATE, DELETE",
        ),
        (
            {"capabilities": {"key_value": {"backend": "etcd"}}},
            "capabilities.key_value.backend",
            "'redis' or 'memory'",
        ),
        (
            {"capabilities": {"key_value": {"namespace": "a:b"}}},
            "capabilities.key_value.namespace",
            "separator",
        ),
        (
            {"capabilities": {"key_value": {"ttl_max": "-1s"}}},
            "capabilities.key_value.ttl_max",
            "duration",
        ),
        (
            {"capabilities": {"key_value": {"max_keys": 0}}},
            "capabilities.key_value.max_keys",
            "greater than or equal to 1",
        ),
        ({"capabilites": {}}, "capabilites", "did you mean 'capabilities'?"),
        ({"capabilities": {"kv": {}}}, "capabilities.kv", "unknown key"),
        (
            {"capabilities": {"http": {"enabled": True, "domains": []}}},
            "capabilities.http.domains",
            "unknown key",
        ),
    ],
)
def test_validation_errors_name_the_key_path(
    config: dict[str, Any], path: str, expected: str
) -> None:
    text = error_of(config)
    line = next((ln for ln in text.splitlines() if ln.strip().startswith(f"{path}:")), None)
    assert line is not None, text
    assert expected in line


# ---------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10s", 10.0),
        ("100ms", 0.1),
        ("1m", 60.0),
        ("1m30s", 90.0),
        ("1.5s", 1.5),
        ("2h", 7200.0),
        ("500us", 0.0005),
        ("250µs", 0.00025),
        ("10ns", 1e-8),
        (" 3s ", 3.0),
        (3, 3.0),
        (0.25, 0.25),
        (".5s", 0.5),
        ("1h2m3s", 3723.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [
        "10",
        "s",
        "-1s",
        "1d",
        "10 s",
        "1s2",
        "",
        True,
        None,
        [1],
        "1e3s",
        "ten seconds",
        float("inf"),
        float("nan"),
    ],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


# ---------------------------------------------------------------------- shapes of capabilities


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(False, False), (True, True), (None, False), ({}, False), ({"enabled": True}, True)],
)
def test_capability_shorthand(value: object, enabled: bool) -> None:
    policy = policy_from_mapping(
        {"capabilities": {"http": value, "database": value, "key_value": value}}
    )
    caps = policy.capabilities
    assert caps.http.enabled is caps.database.enabled is caps.key_value.enabled is enabled


def test_policy_is_frozen() -> None:
    policy = Policy.safe_defaults()
    with pytest.raises(ValidationError):
        policy.batch_size = 5
    with pytest.raises(ValidationError):
        policy.capabilities.http.enabled = True


def test_processor_config_mapping_is_normalised_to_json() -> None:
    policy = policy_from_mapping({"processor_config": {"a": [1, 2], "ü": None}})
    assert json.loads(policy.processor_config) == {"a": [1, 2], "ü": None}
    data = policy.processor_config_data
    data["a"].append(3)  # a fresh copy every time
    assert policy.processor_config_data == {"a": [1, 2], "ü": None}
    assert policy_from_mapping({"processor_config": None}).processor_config == "{}"


# ---------------------------------------------------------------------- grants


@pytest.mark.parametrize("interface", INTERFACES)
def test_grants_follow_the_policy(interface: str) -> None:
    short = interface.split("/")[1].split("@")[0]
    only = Policy.default_for([short])
    assert [name for name in INTERFACES if only.grants(name)] == [interface]
    assert Policy.default_for([interface]).grants(interface)
    assert not Policy.safe_defaults().grants(interface)
    key = Policy.grant_key(interface)
    assert key.startswith("capabilities.") and key.endswith(": true")


def test_grant_keys() -> None:
    assert (
        Policy.grant_key("obsrvr:flowctl/database@1.0.0") == "capabilities.database.enabled: true"
    )
    assert Policy.grant_key("obsrvr:flowctl/logging@1.0.0") == "capabilities.logging: true"
    assert Policy.grant_key("wasi:io/streams@0.2.0") == "capabilities.wasi: true"
    with pytest.raises(ValueError, match="not a flowctl capability"):
        Policy.grant_key("obsrvr:flowctl/processor@1.0.0")
    assert not Policy.safe_defaults().grants("obsrvr:flowctl/logging@2.0.0")


def test_wasi_grant() -> None:
    policy = policy_from_mapping({"capabilities": {"wasi": True}})
    assert policy.grants("wasi:cli/environment@0.2.0")
    assert not any(policy.grants(name) for name in INTERFACES)


@pytest.mark.parametrize(
    ("names", "granted"),
    [
        (["logging", "metrics"], {"logging", "metrics"}),
        (["http"], {"http-client"}),
        (["http-client"], {"http-client"}),
        (["key-value"], {"key-value"}),
        (["key_value"], {"key-value"}),
        (["Database", " config "], {"database", "config"}),
        ([], set()),
    ],
)
def test_default_for(names: list[str], granted: set[str]) -> None:
    policy = Policy.default_for(names)
    assert {n.split("/")[1].split("@")[0] for n in INTERFACES if policy.grants(n)} == granted
    assert policy.capabilities.http.allowed_domains == ()  # granted, but nothing is reachable
    assert policy.execution_timeout == Policy.safe_defaults().execution_timeout


def test_default_for_unknown_capability() -> None:
    with pytest.raises(PolicyError, match="unknown capability 'gpu'"):
        Policy.default_for(["logging", "gpu"])


# ---------------------------------------------------------------------- secrets


def test_secrets_never_leak(caplog: pytest.LogCaptureFixture) -> None:
    policy = load_policy(PIPELINES / "enrichment-pipeline.yaml")
    db, kv = policy.capabilities.database, policy.capabilities.key_value
    assert db.connection_string is not None and kv.url is not None
    assert "s3cr3t-db-pw" in db.connection_string.get_secret_value()
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("policy %s / %r", policy, policy)
    for text in (
        repr(policy),
        str(policy),
        policy.model_dump_json(),
        caplog.text,
        json.dumps(policy.redacted()),
    ):
        for secret in SECRETS[:2]:
            assert secret not in text
    redacted = policy.redacted()
    assert redacted["capabilities"]["database"]["connection_string"] == (
        "postgresql://flowctl:***@127.0.0.1:5432/flowctl"
    )
    assert redacted["capabilities"]["key_value"]["url"] == "redis://:***@127.0.0.1:6379/0"
    assert redacted["processor_config"]["api_token"] == "**********"
    assert redacted["processor_config"]["network_passphrase"].startswith("Test SDF")


@pytest.mark.parametrize(
    ("secret", "shown"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("redis://h:6379/0", "redis://h:6379/0"),
        ("postgresql://u:pw@h/db?sslpassword=x", "**********"),
        ("host=h user=u password=pw", "**********"),
        ("postgresql://h/db?password=pw", "**********"),
        ("garbage with pw", "**********"),
    ],
)
def test_redact_secret(secret: str, shown: str) -> None:
    assert redact_secret(SecretStr(secret)) == shown
    assert redact_secret(None) is None


# ---------------------------------------------------------------------- updates and rules


def test_updated_merges_and_revalidates() -> None:
    policy = load_policy(PIPELINES / "enrichment-pipeline.yaml")
    changed = policy.updated({"capabilities": {"http": {"allowed_domains": ["a.example.com"]}}})
    assert changed.capabilities.http.allowed_domains == ("a.example.com",)
    assert changed.capabilities.http.max_requests == 20
    secret = changed.capabilities.database.connection_string
    assert secret is not None and "s3cr3t-db-pw" in secret.get_secret_value()
    assert changed.component_file == policy.component_file
    with pytest.raises(PolicyError, match=r"capabilities.http.allowed_domains\[0\]"):
        policy.updated({"capabilities": {"http": {"allowed_domains": ["*"]}}})


def test_rules_built_from_the_policy() -> None:
    policy = load_policy(PIPELINES / "enrichment-pipeline.yaml")
    urls = policy.url_rules()
    assert urls.check("https://horizon.stellar.org/ledgers").allowed
    assert urls.check("https://a.stellar.expert/").allowed
    assert not urls.check("https://stellar.expert/").allowed
    sql = policy.sql_rules()
    assert sql.check("SELECT * FROM token_transfers", "query").allowed
    assert not sql.check("DELETE FROM token_transfers", "execute").allowed
    assert policy.key_rules().full_key("k") == "enricher:k"
    now = [0.0]
    limiter = policy.rate_limiter(lambda: now[0])
    assert sum(limiter.allow() for _ in range(25)) == 20
    now[0] = 61.0
    assert limiter.allow()
    assert policy.rate_limiter().max_requests == 20


# ---------------------------------------------------------------------- rules.names


@pytest.mark.parametrize(
    ("name", "tags", "ok"),
    [
        ("events_processed_total", [("kind", "a")], True),
        ("ns:metric", [], True),
        ("1bad", [], False),
        ("bad-name", [], False),
        ("", [], False),
        ("a" * 201, [], False),
        ("m", [("__name__", "x")], False),
        ("m", [("component", "x")], False),
        ("m", [("bad-key", "x")], False),
        ("m", [("k", "a"), ("k", "b")], False),
        ("m", [("k", "x" * 1025)], False),
        ("m", [(f"k{i}", "v") for i in range(17)], False),
        ("m", [(f"k{i}", "v") for i in range(16)], True),
    ],
)
def test_metric_names(name: str, tags: list[tuple[str, str]], ok: bool) -> None:
    assert (metric_problem(name, tags) is None) is ok


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("ledger", True),
        ("tx.hash", True),
        ("a-b", True),
        ("level", False),
        ("component", False),
        ("1a", False),
        ("a b", False),
        ("", False),
    ],
)
def test_log_field_keys(key: str, ok: bool) -> None:
    assert (log_field_problem(key) is None) is ok


def test_sanitize_log_text() -> None:
    assert sanitize_log_text("a\nb\tc\x00") == "a\\u000ab\tc\\u0000"
    assert sanitize_log_text("x" * 10, limit=4) == "xxxx...[6 chars truncated]"
    assert sanitize_log_text("plain é") == "plain é"


def test_variables_in_values_are_expanded_only_when_an_environment_is_given(tmp_path):
    from reference_host.policy import load_policy

    path = tmp_path / "p.yaml"
    path.write_text(
        "# ${NOT_A_VALUE} in a comment is left alone\n"
        'processor_config: \'{"key": "${API_KEY}", "literal": "$${KEEP}"}\'\n'
        "max_memory_pages: 128\n",
        encoding="utf-8",
    )
    expanded = load_policy(path, environ={"API_KEY": "k-1"})
    assert json.loads(expanded.processor_config) == {"key": "k-1", "literal": "${KEEP}"}
    untouched = load_policy(path)  # the library never reads the environment on its own
    assert "${API_KEY}" in untouched.processor_config
    with pytest.raises(PolicyError, match=r"\$\{API_KEY\} at \$\.processor_config"):
        load_policy(path, environ={})


# --------------------------------------------------------------------------- hostile documents

BOMB = (
    "".join(
        f"{name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else ', '.join(['lol'] * 9)}]\n"
        for prev, name in zip(["", "a", "b", "c", "d", "e", "f", "g"], "abcdefgh", strict=True)
    )
    + "config: {processor_config: {x: *h}}\n"
)


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("bomb.yaml", BOMB, "more than 1,000,000 values"),  # 9**8 = 43 million when expanded
        ("cycle.yaml", "a: &a [*a]\n", "refers to itself"),
        ("deep.yaml", "a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("deep.json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ],
)
def test_a_hostile_policy_file_is_refused_in_bounded_time(
    tmp_path: Path, name: str, text: str, says: str
) -> None:
    import time

    from reference_host.pipeline import read_document

    path = tmp_path / name
    path.write_text(text)
    started = time.perf_counter()
    with pytest.raises(PolicyError, match=says):
        read_document(path)
    assert time.perf_counter() - started < 10  # the bomb used to run for minutes, past 1 GB


def test_an_oversized_policy_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    from reference_host.pipeline import MAX_DOCUMENT_BYTES, read_document

    path = tmp_path / "huge.yaml"
    path.write_text("a: " + "x" * (MAX_DOCUMENT_BYTES + 1))
    with pytest.raises(PolicyError, match="at most"):
        read_document(path)


def test_hostile_configs_are_refused_or_parsed_in_linear_time() -> None:
    """A config with 200,000 keys parses in well under a second (the duplicate check was
    quadratic: 20,000 keys took 9 s); one over 8 MiB is refused before parsing; one nested
    100,000 deep is refused without a RecursionError."""
    import json
    import time

    from reference_host.pipeline import MAX_CONFIG_CHARS, parse_json_object

    wide = json.dumps({f"k{i}": i for i in range(200_000)})
    started = time.perf_counter()
    assert len(parse_json_object(wide)) == 200_000
    assert time.perf_counter() - started < 5  # measured 0.4 s; quadratic would be minutes
    with pytest.raises(ValueError, match="at most 8,388,608 characters"):
        parse_json_object('{"a": "' + "x" * MAX_CONFIG_CHARS + '"}')
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_json_object('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(ValueError, match=r"duplicate JSON keys \['k1'\]"):
        parse_json_object('{"k1": 1, "k2": 2, "k1": 3}')
