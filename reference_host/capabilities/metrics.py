"""``obsrvr:flowctl/metrics@1.0.0``: guest metrics in a prometheus-client registry.

Every series is tagged with ``component=<component id>``; a guest's tags become further labels.
Counters must not decrease (negative values are dropped); gauges keep the last value; histograms
and timers (``duration-ms``, in milliseconds) keep Prometheus-style buckets.  Names and tags are
validated (:mod:`reference_host.rules.names`); NaN/inf values, invalid names and series beyond
``max_series`` per component are dropped and counted in :attr:`MetricsCapability.dropped`
(keyed by reason), since the WIT functions return nothing to report an error with.

:class:`MetricsCapability` is a prometheus ``Collector``: register it in any
``CollectorRegistry`` (the default is a private registry, :attr:`MetricsCapability.registry`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from wasmtime.component import LinkerInstance

from reference_host import interfaces
from reference_host.capabilities.base import HostContext, link_interface
from reference_host.rules.names import metric_problem
from reference_host.types import MetricTag

BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    25,
    50,
    100,
    250,
    500,
    1000,
    2500,
    5000,
    10000,
    math.inf,
)


@dataclass(eq=False)
class _Hist:
    count: int = 0
    total: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))

    def observe(self, v: float) -> None:
        self.count += 1
        self.total += v
        for i, b in enumerate(BUCKETS):
            if v <= b:
                self.buckets[i] += 1


SeriesKey = tuple[tuple[str, str], ...]


class _PrivateRegistry:
    """The ``registry`` field: given, or a private ``CollectorRegistry`` made on first read.

    A data descriptor as the dataclass default (its class-level value is ``None``, the field's
    default): prometheus-client (~15 ms of imports) is only loaded when someone reads the
    metrics, not for every instance that merely records them (``flowctl-host run``).
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self._slot = f"_{name}_value"

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return None
        registry = obj.__dict__.get(self._slot)
        if registry is None:
            from prometheus_client import CollectorRegistry

            registry = obj.__dict__[self._slot] = CollectorRegistry(auto_describe=False)
            registry.register(obj)
        return registry

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self._slot] = value


@dataclass(eq=False)
class MetricsCapability:
    """Serves the metrics interface for one component and collects its series."""

    component_id: str
    max_series: int = 1000
    interface: str = interfaces.METRICS
    counters: dict[str, dict[SeriesKey, float]] = field(default_factory=dict)
    gauges: dict[str, dict[SeriesKey, float]] = field(default_factory=dict)
    histograms: dict[str, dict[SeriesKey, _Hist]] = field(default_factory=dict)
    dropped: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    registry: Any = _PrivateRegistry()

    @property
    def series(self) -> int:
        """Number of distinct series held."""
        return sum(
            len(d) for kind in (self.counters, self.gauges, self.histograms) for d in kind.values()
        )

    def link(self, linker: LinkerInstance, context: HostContext) -> None:
        """Define record-counter, record-gauge, record-histogram and record-timer."""
        link_interface(
            linker,
            self.interface,
            {
                "record-counter": lambda n, v, t: self.record("counter", n, v, t),
                "record-gauge": lambda n, v, t: self.record("gauge", n, v, t),
                "record-histogram": lambda n, v, t: self.record("histogram", n, v, t),
                "record-timer": lambda n, ms, t: self.record("timer", n, float(ms), t),
            },
            context=context,
        )

    def _slot(self, store: dict[str, dict[SeriesKey, Any]], name: str, key: SeriesKey) -> bool:
        series = store.setdefault(name, {})
        if key in series:
            return True
        if self.series >= self.max_series:
            self.dropped["cardinality"] += 1
            return False
        return True

    def record(self, kind: str, name: str, value: float, tags: list[MetricTag]) -> None:
        """Record one observation (never raises)."""
        self.calls[kind] += 1
        pairs = [(t.key, t.value) for t in tags]
        if metric_problem(name, pairs) is not None:
            self.dropped["invalid-name"] += 1
            return
        if math.isnan(value) or math.isinf(value):
            self.dropped["non-finite"] += 1
            return
        key: SeriesKey = tuple(sorted(pairs))
        if kind == "counter":
            if value < 0:
                self.dropped["negative-counter"] += 1
                return
            if self._slot(self.counters, name, key):
                self.counters[name][key] = self.counters[name].get(key, 0.0) + value
        elif kind == "gauge":
            if self._slot(self.gauges, name, key):
                self.gauges[name][key] = value
        elif self._slot(self.histograms, name, key):
            self.histograms[name].setdefault(key, _Hist()).observe(value)

    def total(self, name: str) -> float:
        """Sum of a counter over all its series (0 when never recorded)."""
        return sum(self.counters.get(name, {}).values())

    def collect(self) -> Iterator[Any]:
        """Prometheus collector protocol."""
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        def labels(key: SeriesKey, names: list[str]) -> list[str]:
            d = dict(key)
            return [self.component_id] + [d.get(n, "") for n in names]

        def names_of(series: dict[SeriesKey, Any]) -> list[str]:
            return sorted({k for key in series for k, _ in key})

        for name, series in self.counters.items():
            ln = names_of(series)
            fam = CounterMetricFamily(name, f"guest counter {name}", labels=["component", *ln])
            for key, v in series.items():
                fam.add_metric(labels(key, ln), v)
            yield fam
        for name, series in self.gauges.items():
            ln = names_of(series)
            gfam = GaugeMetricFamily(name, f"guest gauge {name}", labels=["component", *ln])
            for key, v in series.items():
                gfam.add_metric(labels(key, ln), v)
            yield gfam
        for name, hseries in self.histograms.items():
            ln = names_of(hseries)
            hfam = HistogramMetricFamily(name, f"guest histogram {name}", labels=["component", *ln])
            for key, h in hseries.items():
                # h.buckets are already cumulative: observe() counts v in every bucket b >= v
                cum = [
                    ("+Inf" if math.isinf(b) else f"{b:g}", float(c))
                    for b, c in zip(BUCKETS, h.buckets, strict=True)
                ]
                hfam.add_metric(labels(key, ln), cum, h.total)
            yield hfam

    def close(self) -> None:
        """Nothing to release."""
