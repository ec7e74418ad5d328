"""Build the TTP sample's defective variants: the TTP sources with one small defect each.

    python sample_components/ttp_variants/build.py [--only NAME ...] [--list] [--out DIR]
                                                   [--force] [--jobs N]

The variants are listed in ``variants.yaml`` (name, the defect, the conformance checks it must
fail, and the edits).  For each, the TTP sample's sources (``sample_components/ttp_processor``:
its ``*.py`` and ``wit/``) are copied to a temporary folder, the variant's ``{file, find,
replace}`` edits are applied in order -- each ``find`` must occur exactly once, else the build
fails naming the variant and the file, so a change to the TTP sample cannot silently give a
variant without its defect -- and the copy is built exactly as ``sample_components/build.py``
builds the sample (``build_source_dir``: componentize-py ``--stub-wasi``, no-WASI check, atomic
write).  Output goes to ``dist/<name>.wasm`` (default ``sample_components/ttp_variants/dist``,
git-ignored) with a ``<name>.wasm.inputs.sha256`` stamp: the digest of the *patched* sources,
``wit/flowctl.wit``, the componentize-py version and the build recipe.  An unchanged variant is
not rebuilt.  Builds run in parallel (``--jobs``, default: 2, or 1 on a single core); each is one
componentize-py process of ~10 s.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if __package__ in (None, ""):  # run as a script: import the sample builder from the repository
    sys.path.insert(0, str(REPO))

from sample_components.build import build_source_dir, source_files  # noqa: E402
from sample_components.buildlib import BuildError, BuildResult  # noqa: E402

__all__ = [
    "DEFAULT_OUT",
    "MANIFEST",
    "TTP_DIR",
    "Edit",
    "EditError",
    "ManifestError",
    "Variant",
    "apply_edits",
    "build_all",
    "build_variant",
    "build_variants",
    "load_manifest",
    "stage_variant",
]

MANIFEST = HERE / "variants.yaml"
DEFAULT_OUT = HERE / "dist"
TTP_DIR = HERE.parent / "ttp_processor"

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_CHECK_ID = re.compile(r"[A-Z]+-[0-9]{3}")
_KEYS = {"name", "description", "fails", "edits"}
_EDIT_KEYS = {"file", "find", "replace"}


class ManifestError(BuildError):
    """``variants.yaml`` is invalid; the message names the variant and the key."""


class EditError(BuildError):
    """An edit does not apply to the TTP sources (its ``find`` is not there exactly once)."""


@dataclass(frozen=True)
class Edit:
    """Replace the one occurrence of ``find`` in ``file`` (relative to the TTP sample)."""

    file: str
    find: str
    replace: str


@dataclass(frozen=True)
class Variant:
    """One defective copy of the TTP sample."""

    name: str
    description: str
    fails: tuple[str, ...]
    edits: tuple[Edit, ...]


# --------------------------------------------------------------------------------------------
# the manifest


def _edit(data: Any, where: str) -> Edit:
    if not isinstance(data, dict) or set(data) != _EDIT_KEYS:
        raise ManifestError(f"{where}: expected a mapping with the keys file, find, replace")
    if not all(isinstance(data[k], str) for k in _EDIT_KEYS):
        raise ManifestError(f"{where}: file, find and replace must be strings")
    if not data["find"]:
        raise ManifestError(f"{where}: find is empty")
    if data["find"] == data["replace"]:
        raise ManifestError(f"{where}: replace equals find (the edit changes nothing)")
    rel = Path(data["file"])
    if rel.is_absolute() or ".." in rel.parts:
        raise ManifestError(f"{where}: file must be a path inside ttp_processor/, got {rel}")
    return Edit(rel.as_posix(), data["find"], data["replace"])


def _variant(data: Any, index: int) -> Variant:
    where = f"variants[{index}]"
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: expected a mapping")
    name = data.get("name")
    if isinstance(name, str):
        where = f"{where} ({name})"
    if set(data) != _KEYS:
        raise ManifestError(
            f"{where}: unknown keys {sorted(set(data) - _KEYS)}, "
            f"missing keys {sorted(_KEYS - set(data))}"
        )
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ManifestError(f"{where}: name must be kebab-case, got {name!r}")
    description = data["description"]
    if not isinstance(description, str) or not description.strip():
        raise ManifestError(f"{where}: description must be a non-empty string")
    fails = data["fails"]
    if (
        not isinstance(fails, list)
        or not fails
        or not all(isinstance(c, str) and _CHECK_ID.fullmatch(c) for c in fails)
    ):
        raise ManifestError(f"{where}: fails must be a non-empty list of check ids like ERR-001")
    edits = data["edits"]
    if not isinstance(edits, list) or not edits:
        raise ManifestError(f"{where}: edits must be a non-empty list")
    return Variant(
        name=name,
        description=" ".join(description.split()),
        fails=tuple(fails),
        edits=tuple(_edit(e, f"{where}.edits[{i}]") for i, e in enumerate(edits)),
    )


def load_manifest(path: Path = MANIFEST) -> tuple[Variant, ...]:
    """Read and check ``variants.yaml``; raise :class:`ManifestError` naming what is wrong.

    Check ids are checked for their form only: a variant may name a check the suite is about to
    gain.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) != {"variants"} or not data["variants"]:
        raise ManifestError(f"{path}: expected one key, variants, holding a non-empty list")
    if not isinstance(data["variants"], list):
        raise ManifestError(f"{path}: variants must be a list")
    variants = tuple(_variant(item, i) for i, item in enumerate(data["variants"]))
    names = [v.name for v in variants]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ManifestError(f"{path}: duplicate variant names {duplicates}")
    return variants


# --------------------------------------------------------------------------------------------
# patching


def apply_edits(variant: Variant, folder: Path) -> None:
    """Apply ``variant``'s edits, in order, to the copy of the TTP sources in ``folder``."""
    for i, edit in enumerate(variant.edits):
        path = folder / edit.file
        if not path.is_file():
            raise EditError(
                f"variant {variant.name!r}, edit {i + 1}: {edit.file} is not a source of "
                f"{TTP_DIR.relative_to(REPO)}"
            )
        text = path.read_text(encoding="utf-8")
        found = text.count(edit.find)
        if found != 1:
            first = edit.find.strip().splitlines()[0]
            raise EditError(
                f"variant {variant.name!r}, edit {i + 1}: the text to find occurs {found} times "
                f"in {edit.file} (expected once; it starts {first!r}); update the edit in "
                f"{MANIFEST.relative_to(REPO)} to the current TTP sources"
            )
        path.write_text(text.replace(edit.find, edit.replace), encoding="utf-8")


def stage_variant(variant: Variant, folder: Path, base: Path = TTP_DIR) -> Path:
    """Copy the TTP sources (``*.py`` and ``wit/``) into ``folder`` and apply the edits."""
    for f in source_files(base):
        dest = folder / f.relative_to(base)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(f.read_bytes())
    apply_edits(variant, folder)
    return folder


# --------------------------------------------------------------------------------------------
# building


def _select(variants: tuple[Variant, ...], names: Iterable[str] | None) -> list[Variant]:
    if names is None:
        return list(variants)
    by_name = {v.name: v for v in variants}
    chosen = list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in by_name]
    if unknown:
        raise ManifestError(f"no variant named {unknown}; known: {', '.join(by_name)}")
    return [by_name[n] for n in chosen]


def build_variant(
    variant: Variant, out_dir: Path | str = DEFAULT_OUT, *, force: bool = False
) -> BuildResult:
    """Build one variant into ``out_dir/<name>.wasm`` unless its inputs digest matches."""
    with tempfile.TemporaryDirectory(prefix=f"flowctl-variant-{variant.name}-") as tmp:
        folder = stage_variant(variant, Path(tmp) / "src")
        return build_source_dir(folder, variant.name, out_dir, force=force)


def _default_jobs() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def build_all(
    names: Iterable[str] | None = None,
    out_dir: Path | str = DEFAULT_OUT,
    *,
    force: bool = False,
    jobs: int | None = None,
    variants: tuple[Variant, ...] | None = None,
) -> list[BuildResult]:
    """Build the named variants (default: all), ``jobs`` componentize-py processes at a time.

    Every variant's edits are applied first (in milliseconds), so a stale edit fails the run
    before any build starts.
    """
    chosen = _select(variants if variants is not None else load_manifest(), names)
    for variant in chosen:
        with tempfile.TemporaryDirectory(prefix="flowctl-variant-check-") as tmp:
            stage_variant(variant, Path(tmp))
    jobs = jobs or _default_jobs()
    if jobs == 1 or len(chosen) < 2:
        return [build_variant(v, out_dir, force=force) for v in chosen]
    with ThreadPoolExecutor(max_workers=jobs) as pool:  # each build is its own process
        return list(pool.map(lambda v: build_variant(v, out_dir, force=force), chosen))


def build_variants(
    names: Iterable[str] | None = None,
    out_dir: Path | str = DEFAULT_OUT,
    *,
    force: bool = False,
    jobs: int | None = None,
) -> dict[str, Path]:
    """Build the named variants (default: all); return their ``.wasm`` paths by name."""
    return {r.name: r.path for r in build_all(names, out_dir, force=force, jobs=jobs)}


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="build only NAME (repeatable)"
    )
    parser.add_argument("--list", action="store_true", help="list the variants and exit")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output directory (default: {DEFAULT_OUT.relative_to(REPO)})",
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild even when the recorded inputs digest matches"
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="parallel builds (default: 2, 1 on one core)"
    )
    args = parser.parse_args(argv)
    try:
        variants = load_manifest()
        if args.list:
            for v in _select(variants, args.only):
                print(f"{v.name:22} {', '.join(v.fails):18} {v.description}")
            return 0
        start = time.perf_counter()
        results = build_all(
            args.only, args.out, force=args.force, jobs=args.jobs, variants=variants
        )
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for r in results:
        what = "built" if r.built else "up to date"
        size = r.path.stat().st_size / 1e6
        print(f"{r.name:22} {what:10} {r.path} ({size:.1f} MB, {r.seconds:.1f} s)")
    print(f"{len(results)} variants in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
