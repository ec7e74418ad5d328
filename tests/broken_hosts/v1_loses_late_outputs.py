"""A flowctl.v1-only host that ends the stream when the client closes its side, before the
outputs still being computed are sent (the Go SDK's defect: it returns on EOF while its
goroutines run, so late outputs are lost)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from reference_host import cli
from reference_host.rpc import servicer

_process = servicer.ProcessorServicer.Process


def _returns_on_eof(self: servicer.ProcessorServicer, requests: Any, context: Any) -> Iterator[Any]:
    closed = threading.Event()

    def reading() -> Iterator[Any]:
        yield from requests
        closed.set()

    for message in _process(self, reading(), context):
        time.sleep(0.01)  # the output was still being computed when the client closed
        if closed.is_set():
            return
        yield message


if __name__ == "__main__":
    servicer.ProcessorServicer.Process = _returns_on_eof  # type: ignore[method-assign,assignment]
    sys.exit(cli.main(sys.argv[1:]))
