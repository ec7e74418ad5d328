"""Reference host for flowctl WebAssembly processor components (``obsrvr:flowctl@1.0.0``).

The supported API is what this module exports (``__all__``); everything else is private to the
package.  The one list of exports is the stub next to this file, ``__init__.pyi``: each name is
imported from its defining module on first use (:mod:`reference_host._facade`).

>>> from reference_host import HostEngine, ProcessorInstance, ResourceLimits  # doctest: +SKIP
>>> host = HostEngine(cache_dir=Path("~/.cache/flowctl-conformance").expanduser())
>>> with ProcessorInstance(host, host.load("ttp.wasm"), capabilities=[...]) as proc:
...     proc.initialize(config_json)
...     outputs = proc.process_batch(events)
"""

from __future__ import annotations

from reference_host import _facade

__getattr__, __dir__, __all__ = _facade.attach_stub(__name__, __file__)
