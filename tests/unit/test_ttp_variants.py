"""The TTP variants' manifest and patching (sample_components/ttp_variants), without building.

Every edit applies to the current TTP sources exactly once, each variant stays valid Python that
keeps get-info untouched, and a stale or ambiguous edit is an error naming the variant and file.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from sample_components.build import source_digest, source_files
from sample_components.ttp_variants.build import (
    MANIFEST,
    TTP_DIR,
    EditError,
    ManifestError,
    Variant,
    load_manifest,
    main,
    stage_variant,
)

VARIANTS = load_manifest()
EXPECTED = {
    "lenient-malformed": ("ERR-002",),
    "counter-ids": ("HIST-001",),
    "dedupe-hashes": ("HIST-001",),
    "validate-mutates": ("LIFE-009",),
    "logs-secret": ("SEC-001",),
    "history-leak": ("LIM-006",),
    "lenient-initialize": ("LIFE-004",),
    "known-networks-only": ("LIFE-004",),
    "batch-index-bug": ("OUT-003", "ERR-001"),
    "rare-memo-trap": ("ERR-001",),
    "oom-trap": ("LIM-003",),
    "lenient-before-init": ("LIFE-006",),
}


def _method(source: str, name: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.unparse(node)
    raise AssertionError(f"no function {name}")


def test_the_manifest_lists_the_variants_and_their_checks() -> None:
    assert {v.name: v.fails for v in VARIANTS} == EXPECTED
    assert all(v.description.endswith(".") and v.edits for v in VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_each_variant_stages_as_valid_python_with_get_info_unchanged(
    variant: Variant, tmp_path: Path
) -> None:
    staged = stage_variant(variant, tmp_path)
    assert sorted(f.relative_to(staged) for f in source_files(staged)) == sorted(
        f.relative_to(TTP_DIR) for f in source_files(TTP_DIR)
    )
    changed = [
        f.relative_to(staged).as_posix()
        for f in source_files(staged)
        if f.read_bytes() != (TTP_DIR / f.relative_to(staged)).read_bytes()
    ]
    assert changed and set(changed) <= {"app.py", "ttp_rules.py"}
    for f in staged.glob("*.py"):
        compile(f.read_text(), str(f), "exec")
    app = (staged / "app.py").read_text()
    assert _method(app, "get_info") == _method((TTP_DIR / "app.py").read_text(), "get_info")
    assert 'name="Token Transfer Pattern Processor"' in app
    assert source_digest(staged, "tool") != source_digest(TTP_DIR, "tool")


def test_the_variants_digests_differ_and_are_stable(tmp_path: Path) -> None:
    digests = {v.name: source_digest(stage_variant(v, tmp_path / v.name), "tool") for v in VARIANTS}
    assert len(set(digests.values())) == len(VARIANTS)
    again = stage_variant(VARIANTS[0], tmp_path / "again")
    assert source_digest(again, "tool") == digests[VARIANTS[0].name]


def _base_copy(tmp_path: Path) -> Path:
    base = tmp_path / "ttp"
    for f in source_files(TTP_DIR):
        dest = base / f.relative_to(TTP_DIR)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
    return base


def test_a_stale_edit_fails_naming_the_variant_and_the_file(tmp_path: Path) -> None:
    variant = next(v for v in VARIANTS if v.name == "lenient-malformed")
    base = _base_copy(tmp_path)
    rules = base / "ttp_rules.py"
    # upstream rewrites the line the edit looks for: the variant must not build silently
    rules.write_text(rules.read_text().replace("transfer = _payment(", "transfer = _pay("))
    with pytest.raises(EditError, match=r"'lenient-malformed'.*0 times in ttp_rules\.py"):
        stage_variant(variant, tmp_path / "out", base)


def test_an_ambiguous_edit_fails(tmp_path: Path) -> None:
    variant = next(v for v in VARIANTS if v.name == "validate-mutates")
    base = _base_copy(tmp_path)
    app = base / "app.py"
    app.write_text(app.read_text() + "\n" + variant.edits[0].find)
    with pytest.raises(EditError, match=r"'validate-mutates'.*2 times in app\.py"):
        stage_variant(variant, tmp_path / "out", base)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("variants: []\n", "non-empty list"),
        ("variants:\n  - name: Bad_Name\n    description: x\n    fails: [ERR-001]\n"
         "    edits: [{file: app.py, find: a, replace: b}]\n", "kebab-case"),
        ("variants:\n  - name: v\n    description: x\n    fails: [ERR-001]\n", "missing keys"),
        ("variants:\n  - name: v\n    description: x\n    fails: [err1]\n"
         "    edits: [{file: app.py, find: a, replace: b}]\n", "check ids"),
        ("variants:\n  - name: v\n    description: x\n    fails: [ERR-001]\n"
         "    edits: [{file: ../x.py, find: a, replace: b}]\n", "inside ttp_processor"),
        ("variants:\n  - name: v\n    description: x\n    fails: [ERR-001]\n"
         "    edits: [{file: app.py, find: a, replace: a}]\n", "changes nothing"),
    ],
)  # fmt: skip
def test_manifest_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "variants.yaml"
    path.write_text(text)
    with pytest.raises(ManifestError, match=message):
        load_manifest(path)


def test_cli_lists_the_variants(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(EXPECTED)
    assert main(["--list", "--only", "nope"]) == 1
    assert "no variant named ['nope']" in capsys.readouterr().err
    assert MANIFEST.is_file()
