"""The start of a run, on the controlling process: fix what is certified and with which config.

:func:`begin` copies the component into a private directory (mode 0700) and hashes those bytes:
every process of the run (xdist workers included) loads that copy and checks its digest, so the
component that is checked is the one that is hashed, whatever happens to the original file.  It
then decides the processor configuration once (``--component-config``, the policy's, or the first
config the component's own schema suggests that initialize accepts) and records what the
certificate is earned under.  When initialize refuses every candidate, the run stops before any
check with one error naming the missing fields and ``--component-config``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.settings import SuiteSettings


@dataclass(frozen=True)
class RunStart:
    """What the controlling process fixed before the checks run (JSON-able for xdist workers)."""

    file: str
    original: str
    snapshot: str
    sha256: str
    size: int
    config_text: str | None = None
    config_source: str | None = None
    config_tried: list[str] = field(default_factory=list)
    earned_under: dict[str, Any] = field(default_factory=dict)
    caps: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> str:
        """For ``workerinput``."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> RunStart:
        """Back from :meth:`to_json`."""
        return cls(**json.loads(text))

    def component(self) -> dict[str, Any]:
        """The component facts of the result file."""
        return {"file": self.file, "path": self.original, "sha256": self.sha256, "size": self.size}


def snapshot(path: Path) -> tuple[Path, str, int]:
    """A private read-only copy of ``path`` (same file name) and the sha256 of its bytes."""
    data = path.read_bytes()
    private = Path(tempfile.mkdtemp(prefix="flowctl-conformance-"))
    copy = private / path.name
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return copy, hashlib.sha256(data).hexdigest(), len(data)


def discard(start: RunStart) -> None:
    """Remove the private copy (controlling process only)."""
    shutil.rmtree(Path(start.snapshot).parent, ignore_errors=True)


def begin(settings: SuiteSettings) -> RunStart:
    """Snapshot, load, choose the configuration, record what the run is earned under."""
    from conformance.config_choice import ConfigRefusedError
    from conformance.harness import CERTIFICATION_FUEL
    from conformance.inputs import inputs_for
    from conformance.outcomes import NotAssessable
    from conformance.provenance import Cap, caps, earned_under
    from conformance.recorder import suite_version
    from conformance.remote import RemoteComponentUnderTest, component_under_test, describe
    from conformance.services import Services
    from reference_host.jsonform import event_to_json

    copy, sha, size = snapshot(settings.component)
    base: dict[str, Any] = {"file": settings.component.name, "original": str(settings.component),
                            "snapshot": str(copy), "sha256": sha, "size": size}  # fmt: skip
    config = canonical = source = error = None
    tried: list[str] = []
    policy = None
    remote: dict[str, Any] | None = None
    workload: list[str] = []
    services = Services(settings)
    origin = None
    cut = None
    try:
        cut = component_under_test(settings, services, component_path=copy, expected_sha256=sha)
        with contextlib.suppress(Exception):
            policy = cut.base_policy
        choice = cut.config_choice
        canonical, source, tried = cut.canonical_config(), choice.source, list(choice.tried)
        config = choice.text if choice.derived else None  # given configs: each process reads
        inputs = inputs_for(cut.info, settings.events)
        workload = [json.dumps(event_to_json(e), sort_keys=True) for e in inputs.workload]
        origin = services.http_server.origin if services.http_server is not None else None
        if isinstance(cut, RemoteComponentUnderTest):
            remote = describe(cut)
    except ConfigRefusedError as exc:
        error = str(exc)
    except NotAssessable as exc:
        if settings.remote:  # the host under test cannot be reached or hosts something else
            error = str(exc)
    except Exception:  # noqa: S110 - a component the host cannot run: the checks say why
        pass
    finally:
        if cut is not None:
            cut.close()
        services.close()
    record = earned_under(
        settings, policy=policy, config_text=canonical, config_source=source, workload=workload,
        suite_version=suite_version(), http_origin=origin,
    )  # fmt: skip
    capped = [c.to_dict() for c in caps(settings, policy, CERTIFICATION_FUEL)]
    if settings.remote:
        record["remote"] = remote
        where = "--launch" if settings.launch is not None else "--processor-endpoint"
        value = settings.launch or settings.processor_endpoint
        capped.append(Cap(where, value, None, "a remote run: the checks that need an "
                          "in-process host did not run").to_dict())  # fmt: skip
    return RunStart(**base, config_text=config, config_source=source, config_tried=tried,
                    earned_under=record, caps=capped, error=error)  # fmt: skip
