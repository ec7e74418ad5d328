"""WIT interface and world names of ``obsrvr:flowctl@1.0.0``, in one place."""

from __future__ import annotations

PACKAGE = "obsrvr:flowctl@1.0.0"
VERSION = "1.0.0"

PROCESSOR = "obsrvr:flowctl/processor@1.0.0"
LOGGING = "obsrvr:flowctl/logging@1.0.0"
METRICS = "obsrvr:flowctl/metrics@1.0.0"
HTTP_CLIENT = "obsrvr:flowctl/http-client@1.0.0"
DATABASE = "obsrvr:flowctl/database@1.0.0"
KEY_VALUE = "obsrvr:flowctl/key-value@1.0.0"
CONFIG = "obsrvr:flowctl/config@1.0.0"

CAPABILITIES: tuple[str, ...] = (LOGGING, METRICS, HTTP_CLIENT, DATABASE, KEY_VALUE, CONFIG)
"""The six host capabilities (imported interfaces), in WIT order."""

SHORT_NAMES: dict[str, str] = {name: name.split("/")[1].split("@")[0] for name in CAPABILITIES}
"""``obsrvr:flowctl/key-value@1.0.0`` → ``key-value``."""

PROCESSOR_FUNCTIONS: tuple[str, ...] = (
    "process-event",
    "process-batch",
    "initialize",
    "validate-config",
    "shutdown",
    "get-info",
    "health-check",
)

WORLDS: dict[str, frozenset[str]] = {
    "flowctl-processor": frozenset(CAPABILITIES),
    "flowctl-processor-basic": frozenset({LOGGING, METRICS}),
    "flowctl-processor-http": frozenset({LOGGING, METRICS, HTTP_CLIENT}),
    "flowctl-processor-database": frozenset({LOGGING, METRICS, DATABASE}),
    "flowctl-processor-full": frozenset(CAPABILITIES),
}
"""Each world's imports, exactly as the design document gives them (all export ``processor``)."""


def short(name: str) -> str:
    """``obsrvr:flowctl/logging@1.0.0`` → ``logging`` (other names unchanged)."""
    return SHORT_NAMES.get(name, name)


GRANT_KEYS: dict[str, str] = {
    LOGGING: "capabilities.logging: true",
    METRICS: "capabilities.metrics: true",
    HTTP_CLIENT: "capabilities.http.enabled: true",
    DATABASE: "capabilities.database.enabled: true",
    KEY_VALUE: "capabilities.key_value.enabled: true",
    CONFIG: "capabilities.config: true",
}
"""The policy key that grants each capability."""
