"""A flowctl.v1-only host that sends every output event twice (a retry that re-emits)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from reference_host import cli
from reference_host.rpc import servicer

_process = servicer.ProcessorServicer.Process


def _twice(self: servicer.ProcessorServicer, requests: Any, context: Any) -> Iterator[Any]:
    for message in _process(self, requests, context):
        yield message
        yield message


if __name__ == "__main__":
    servicer.ProcessorServicer.Process = _twice  # type: ignore[method-assign,assignment]
    sys.exit(cli.main(sys.argv[1:]))
