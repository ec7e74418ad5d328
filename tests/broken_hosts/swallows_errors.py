"""A host that answers a component's err(processor-error) as ok with no events (data loss)."""

from __future__ import annotations

import sys
from typing import Any

from reference_host import cli
from reference_host.rpc import servicer
from reference_host.rpc.gen.flowctl_host.v1 import extension_pb2 as ext

_events = servicer.ExtensionServicer._events


def _swallowing(self: servicer.ExtensionServicer, call: Any) -> Any:
    result = _events(self, call)
    if result.HasField("error"):
        return ext.EventsResult()
    return result


if __name__ == "__main__":
    servicer.ExtensionServicer._events = _swallowing  # type: ignore[method-assign]
    sys.exit(cli.main(sys.argv[1:]))
