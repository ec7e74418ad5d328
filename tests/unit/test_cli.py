"""flowctl-host: inspect (text and JSON), run (JSONL in/out, error records, exit codes), schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reference_host import types as t
from reference_host.cli import EXIT_CONFIG, EXIT_EVENTS_FAILED, EXIT_OK, EXIT_USAGE, main
from reference_host.jsonform import event_schema, event_to_json
from tests.guests.build import build_guest


def ev(i: int) -> dict[str, Any]:
    return event_to_json(t.Event(f"e{i}", i, "src", t.EventType.CUSTOM, t.Generic(f"p{i}"), []))


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(tmp_path: Path, guest: str, rows: list[Any], *extra: str) -> tuple[int, list[Any]]:
    inp = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    code = main(["run", str(build_guest(guest)), "--input", str(inp), "--output", str(out),
                 "--cache-dir", str(tmp_path / "cache"), *extra])  # fmt: skip
    return code, read_jsonl(out) if out.exists() else []


def test_run_echo_processes_every_event_in_batches(tmp_path: Path) -> None:
    rows = [ev(i) for i in range(25)]
    code, out = run(tmp_path, "echo", rows, "--batch-size", "10")
    assert code == EXIT_OK
    assert out == rows


def test_bad_lines_become_error_records_and_the_rest_is_processed(tmp_path: Path) -> None:
    rows = [ev(0), "not json", {"id": "half"}, ev(1)]
    code, out = run(tmp_path, "echo", rows)
    assert code == EXIT_EVENTS_FAILED
    errors = [r for r in out if "error" in r]
    assert [(e["line"], e["error"]["kind"]) for e in errors] == [
        (2, "invalid-json"),
        (3, "invalid-event"),
    ]
    assert errors[1]["input-id"] == "half"
    assert [r for r in out if "error" not in r] == [ev(0), ev(1)]


@pytest.mark.parametrize(
    ("line", "kind", "says"),
    [
        (b'{"id": "\xff\xfe"}', "invalid-utf8", "not UTF-8 (byte 9"),
        (b"[" * 100_000 + b"]" * 100_000, "invalid-json", "nested too deeply"),
        (b'{"id": "deep", "data": ' + b'{"a":' * 5_000 + b"1" + b"}" * 5_001,
         "invalid-json", "nested too deeply"),
        (b'{"id": "n", "x": ' + b"9" * 5_000 + b"}", "invalid-json", "digits"),
        (b'{"id": "u", "data": {"generic": "\\ud800"}}', "invalid-event", "line 2"),
    ],
)  # fmt: skip
def test_a_hostile_line_is_an_error_record_naming_it_and_the_run_goes_on(
    tmp_path: Path, line: bytes, kind: str, says: str
) -> None:
    # found by trying the CLI as a hostile user would: each of these used to end the run
    # with a Python traceback, and the events after it were never processed
    inp = tmp_path / "in.jsonl"
    inp.write_bytes(b"\n".join([json.dumps(ev(0)).encode(), line, json.dumps(ev(1)).encode()]))
    out = tmp_path / "out.jsonl"
    code = main(["run", str(build_guest("echo")), "--input", str(inp), "--output", str(out),
                 "--cache-dir", str(tmp_path / "cache")])  # fmt: skip
    rows = read_jsonl(out)
    assert code == EXIT_EVENTS_FAILED
    (error,) = [r for r in rows if "error" in r]
    assert (error["line"], error["error"]["kind"]) == (2, kind)
    assert says in error["error"]["message"], error
    assert [r for r in rows if "error" not in r] == [ev(0), ev(1)]


def test_trapping_events_are_attributed_one_by_one(tmp_path: Path) -> None:
    code, out = run(tmp_path, "trap-process-batch", [ev(0), ev(1)])
    # the batch trapped; replayed event by event, process-event (default no-op) succeeds
    assert code == EXIT_OK
    assert out == []


def test_every_event_failing_is_reported(tmp_path: Path) -> None:
    code, out = run(tmp_path, "spin", [ev(0), ev(1)], "--timeout", "0.05")
    assert code == EXIT_EVENTS_FAILED
    assert [(r["input-id"], r["error"]["trap"]) for r in out] == [
        ("e0", "CallTimeoutError"),
        ("e1", "CallTimeoutError"),
    ]


def test_config_refused_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(tmp_path, "err-validate", [ev(0)])
    assert code == EXIT_CONFIG
    assert "configuration-error(bad config)" in capsys.readouterr().err


def test_errors_to_a_separate_file(tmp_path: Path) -> None:
    errs = tmp_path / "errors.jsonl"
    code, out = run(tmp_path, "echo", [ev(0), "{"], "--errors", str(errs))
    assert code == EXIT_EVENTS_FAILED
    assert out == [ev(0)]
    assert read_jsonl(errs)[0]["error"]["kind"] == "invalid-json"


def test_missing_component_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inp = write_jsonl(tmp_path / "in.jsonl", [ev(0)])
    code = main(["run", str(tmp_path / "none.wasm"), "--input", str(inp), "--no-cache"])
    assert code == EXIT_USAGE
    assert "ComponentNotFoundError" in capsys.readouterr().err


def test_ungranted_import_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = run(tmp_path, "imports-http", [ev(0)])
    assert code == EXIT_USAGE
    assert "capabilities.http.enabled" in capsys.readouterr().err


def test_inspect_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(build_guest("echo")), "--no-cache"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "conforms    yes" in out
    assert "process-event    ok" in out


def test_inspect_json_of_a_drifted_component(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(build_guest("noop-drift")), "--json", "--no-cache"]) == EXIT_USAGE
    data = json.loads(capsys.readouterr().out)
    assert data["conforms"] is False
    assert data["functions"]["process-event"].startswith("process-event parameter `event`")
    assert data["worlds"] == []
    assert len(data["sha256"]) == 64


def test_inspect_json_lists_worlds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(build_guest("imports-http")), "--json", "--no-cache"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["worlds"] == [
        "flowctl-processor",
        "flowctl-processor-http",
        "flowctl-processor-full",
    ]
    assert data["imports"] == [
        {"name": "obsrvr:flowctl/http-client@1.0.0", "kind": "flowctl", "drift": None}
    ]


def test_schema_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == EXIT_OK
    schema = json.loads(capsys.readouterr().out)
    assert schema == event_schema()
    jsonschema.Draft202012Validator.check_schema(schema)


def test_help_explains_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    assert "Exit status" in capsys.readouterr().out
