"""TTP (Token Transfer Pattern) sample processor: the design document's Rust TTP as a Python guest.

Exports ``obsrvr:flowctl/processor@1.0.0``; imports only ``logging``, ``metrics`` and ``config``
(world ``obsrvr:ttp-sample/ttp``).  Built with ``componentize-py --stub-wasi``: the component has
no WASI, so there is no clock, no file system and no stdout here — see README.md for what that
changes (metric durations, health timestamps).

Every export catches everything: a well-typed call never traps.  Errors leave through
:func:`_fail` only, as ``componentize_py_types.Err(<processor-error case>)``.
"""

from __future__ import annotations

from typing import NoReturn

import ttp_rules as rules
from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import processor as p
from wit_world.imports import config as host_config
from wit_world.imports import logging as host_log
from wit_world.imports import metrics as host_metrics

NAME = "ttp-processor"
VERSION = "1.0.0"

INFO = host_log.LogLevel.INFO
ERROR = host_log.LogLevel.ERROR

CONFIGURATION_SCHEMA = """{
  "type": "object",
  "properties": {
    "network_passphrase": {
      "type": "string",
      "minLength": 1,
      "description": "Stellar network passphrase"
    },
    "min_amount": {
      "type": "number",
      "description": "Minimum amount to extract",
      "default": 0.0
    },
    "extract_path_payments": {
      "type": "boolean",
      "description": "Extract path payment operations",
      "default": false
    },
    "extract_claimable_balances": {
      "type": "boolean",
      "description": "Extract claimable balance operations",
      "default": false
    }
  },
  "required": ["network_passphrase"],
  "examples": [
    {
      "network_passphrase": "Test SDF Network ; September 2015",
      "min_amount": 1.0,
      "extract_path_payments": true,
      "extract_claimable_balances": false
    }
  ]
}"""

# The guest has no clock under --stub-wasi: durations are reported as 0 with this tag.
_NO_CLOCK = host_metrics.MetricTag(key="clock", value="unavailable")


class _State:
    """Module state: the configuration read once by ``initialize`` and the newest event time."""

    config: rules.TtpConfig | None = None
    last_timestamp: int = 0


_state = _State()


# ----------------------------------------------------------------------------- helpers


def _safe(text: str) -> str:
    """A string that can cross the component boundary (lone surrogates replaced)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _describe(exc: BaseException) -> str:
    return _safe(f"{type(exc).__name__}: {exc}")


def _fail(error: p.ProcessorError) -> NoReturn:
    raise Err(error)


def _tag(key: str, value: str) -> host_metrics.MetricTag:
    return host_metrics.MetricTag(key=key, value=value)


def _error_for(exc: Exception) -> p.ProcessorError:
    """Map any exception raised while processing to a processor-error case."""
    if isinstance(exc, rules.RuleError):
        return p.ProcessorError_ProcessingFailed(_safe(str(exc)))
    if isinstance(exc, rules.ConfigInvalid):
        return p.ProcessorError_ConfigurationError(_safe(str(exc)))
    if isinstance(exc, MemoryError):
        return p.ProcessorError_ResourceExhausted()
    return p.ProcessorError_UnknownError(_describe(exc))


def _error_text(error: p.ProcessorError) -> str:
    """``processing-failed: message`` for a log line."""
    camel = type(error).__name__.split("_", 1)[1]
    case = "".join(f"-{c.lower()}" if c.isupper() else c for c in camel).lstrip("-")
    value = getattr(error, "value", None)
    return case if value is None else f"{case}: {value}"


def _transform(event: p.Event, cfg: rules.TtpConfig) -> list[p.Event] | None:
    """Token-transfer events for one input event; ``None`` when it is not a transaction."""
    _state.last_timestamp = event.timestamp
    data = event.data
    if not isinstance(data, p.EventData_StellarTransaction):
        return None
    transfers = rules.extract_token_transfers(data.value, cfg)
    if not transfers:
        return []
    event_id = event.id
    metadata = [
        *event.metadata,
        ("processor", NAME),
        ("processor_version", VERSION),
        ("original_event_id", event_id),
    ]
    return [
        p.Event(
            id=f"{event_id}-transfer-{index}",
            timestamp=event.timestamp,
            source_component=NAME,
            event_type=p.EventType.TOKEN_TRANSFER,
            data=p.EventData_TokenTransfer(transfer),
            metadata=metadata,
        )
        for index, transfer in enumerate(transfers)
    ]


def _require_config() -> rules.TtpConfig:
    cfg = _state.config
    if cfg is None:
        _fail(p.ProcessorError_ConfigurationError("not initialized"))
    return cfg


# ----------------------------------------------------------------------------- the export


class Processor(exports.Processor):
    """``obsrvr:flowctl/processor@1.0.0``."""

    def initialize(self, config: str) -> None:
        try:
            host_log.log(INFO, "TTP Processor initializing")
            cfg = rules.parse_config(config)
        except Exception as exc:  # every failure becomes a processor-error, never a trap
            _fail(_error_for(exc))
        _state.config = cfg
        try:
            host_log.log_structured(
                INFO,
                "TTP Processor initialized",
                [
                    ("network_passphrase", _safe(cfg.network_passphrase)),
                    ("min_amount", repr(cfg.min_amount)),
                    ("extract_path_payments", str(cfg.extract_path_payments).lower()),
                    ("extract_claimable_balances", str(cfg.extract_claimable_balances).lower()),
                ],
            )
        except Exception as exc:
            _fail(_error_for(exc))

    def validate_config(self, config: str) -> None:
        try:
            rules.parse_config(config)
        except Exception as exc:
            _fail(_error_for(exc))

    def process_event(self, event: p.Event) -> list[p.Event]:
        cfg = _require_config()
        try:
            outputs = _transform(event, cfg)
        except Exception as exc:
            _fail(_error_for(exc))
        try:
            if outputs is None:
                host_metrics.record_counter(
                    "events_skipped", 1.0, [_tag("reason", "not_transaction")]
                )
                return []
            tx_hash = event.data.value.hash  # type: ignore[union-attr]
            host_metrics.record_histogram(
                "processing_time_ms", 0.0, [_tag("operation", "process_event"), _NO_CLOCK]
            )
            host_metrics.record_counter("events_processed", 1.0, [_tag("status", "success")])
            host_metrics.record_counter(
                "token_transfers_extracted",
                float(len(outputs)),
                [_tag("transaction_hash", tx_hash)],
            )
        except Exception as exc:
            _fail(_error_for(exc))
        return outputs

    def process_batch(self, events: list[p.Event]) -> list[p.Event]:
        cfg = _require_config()
        try:
            return self._batch(events, cfg)
        except Exception as exc:
            _fail(_error_for(exc))

    @staticmethod
    def _batch(events: list[p.Event], cfg: rules.TtpConfig) -> list[p.Event]:
        # Like the design document, a failing event is logged and counted, never fatal for the
        # batch.  Unlike it, per-event metrics are aggregated into one call per metric name for
        # the whole batch (same names, same totals): each host call costs tens of microseconds.
        all_outputs: list[p.Event] = []
        succeeded = failed = skipped = processed = 0
        for event in events:
            try:
                outputs = _transform(event, cfg)
            except Exception as exc:
                failed += 1
                host_log.log_structured(
                    ERROR,
                    "Failed to process event in batch",
                    [("event_id", event.id), ("error", _error_text(_error_for(exc)))],
                )
                continue
            succeeded += 1
            if outputs is None:
                skipped += 1
            else:
                processed += 1
                all_outputs.extend(outputs)
        size = str(len(events))
        if skipped:
            host_metrics.record_counter(
                "events_skipped", float(skipped), [_tag("reason", "not_transaction")]
            )
        if processed:
            host_metrics.record_histogram(
                "processing_time_ms", 0.0, [_tag("operation", "process_batch"), _NO_CLOCK]
            )
            host_metrics.record_counter(
                "events_processed", float(processed), [_tag("status", "success")]
            )
            host_metrics.record_counter(
                "token_transfers_extracted", float(len(all_outputs)), [_tag("batch_size", size)]
            )
        host_metrics.record_histogram(
            "batch_processing_time_ms", 0.0, [_tag("batch_size", size), _NO_CLOCK]
        )
        host_metrics.record_counter(
            "batch_processed",
            1.0,
            [
                _tag("batch_size", size),
                _tag("success_count", str(succeeded)),
                _tag("error_count", str(failed)),
            ],
        )
        host_log.log_structured(
            INFO,
            "Batch processed",
            [
                ("batch_size", size),
                ("processed_count", str(succeeded)),
                ("error_count", str(failed)),
                ("total_outputs", str(len(all_outputs))),
            ],
        )
        return all_outputs

    def shutdown(self) -> None:
        _state.config = None
        try:
            host_log.log_structured(
                INFO, "TTP Processor shutting down", [("component", NAME), ("version", VERSION)]
            )
            host_metrics.record_counter("processor_shutdown", 1.0, [_tag("reason", "normal")])
        except Exception:  # shutdown has no error channel
            pass

    def get_info(self) -> p.ProcessorInfo:
        return p.ProcessorInfo(
            name="Token Transfer Pattern Processor",
            version=VERSION,
            author="Obsrvr Team",
            description="Extracts token transfer patterns from Stellar transactions",
            supported_event_types=[p.EventType.TRANSACTION],
            output_event_types=[p.EventType.TOKEN_TRANSFER],
            capabilities_required=["logging", "metrics", "config"],
            configuration_schema=CONFIGURATION_SCHEMA,
        )

    def health_check(self) -> p.HealthStatus:
        timestamp = _state.last_timestamp
        if _state.config is None:
            return p.HealthStatus(
                status=p.HealthState.UNKNOWN,
                message="not initialized",
                details=[("status", "unknown"), ("initialized", "false")],
                timestamp=timestamp,
            )
        try:
            host_config.get_string("network_passphrase")
            accessible = True
        except Err:
            accessible = False
        except Exception as exc:
            _fail(_error_for(exc))
        if accessible:
            return p.HealthStatus(
                status=p.HealthState.HEALTHY,
                message=None,
                details=[("status", "healthy"), ("config_accessible", "true")],
                timestamp=timestamp,
            )
        return p.HealthStatus(
            status=p.HealthState.DEGRADED,
            message="Configuration not accessible",
            details=[("status", "degraded"), ("config_accessible", "false")],
            timestamp=timestamp,
        )
