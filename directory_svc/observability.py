"""Metrics (Prometheus) and structured JSON logs, free of personal data."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_MAX_OPERATION_LABELS = 200


class Metrics:
    """The process's metrics, in a registry of its own (one per app, so tests stay isolated)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.graphql_requests = Counter(
            "directory_graphql_requests",
            "GraphQL operations executed, by operation name and outcome (ok or error).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.graphql_latency = Histogram(
            "directory_graphql_request_seconds",
            "Time to execute a GraphQL operation, by operation name.",
            ["operation"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.db_errors = Counter(
            "directory_database_errors",
            "Database errors seen by the service, by error type.",
            ["kind"],
            registry=self.registry,
        )
        self.optout_propagation = Histogram(
            "directory_optout_propagation_seconds",
            "From a subscriber's opt-out to the publisher's acknowledgement of the feed that "
            "carried it (the feed's oldest opt-out), by publisher.",
            ["publisher"],
            buckets=(
                60,
                300,
                900,
                3600,
                3 * 3600,
                6 * 3600,
                12 * 3600,
                86400,
                2 * 86400,
                7 * 86400,
            ),
            registry=self.registry,
        )
        self.unacknowledged_optout_age = Gauge(
            "directory_unacknowledged_optout_age_seconds",
            "Age of the oldest opt-out a publisher has not acknowledged yet (0: none pending).",
            ["publisher"],
            registry=self.registry,
        )
        self.shed = Counter(
            "directory_shed_requests",
            "Requests refused at once (503) because too many were already at the database.",
            registry=self.registry,
        )
        self.db_commands = Counter(
            "directory_db_commands",
            "Database commands sent by this process, by command name.",
            ["command"],
            registry=self.registry,
        )
        self._operations: set[str] = set()

    def count_db_command(self, name: str) -> None:
        """One more database command (called by the storage's command listener)."""
        self.db_commands.labels(name).inc()

    def operation_label(self, name: str | None) -> str:
        """A bounded label for an operation name: clients choose names, so cap the set."""
        if not name:
            return "anonymous"
        if not _OPERATION_NAME.match(name):
            return "other"
        if name not in self._operations:
            if len(self._operations) >= _MAX_OPERATION_LABELS:
                return "other"
            self._operations.add(name)
        return name


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and whitelisted extra fields."""

    FIELDS: ClassVar[tuple[str, ...]] = (
        "method",
        "path",
        "status",
        "latency_ms",
        "operation",
        "error_type",
        "reason",
        "url",
        "count",
        "adapter",
        "publisher",
        "seq",
        "outcome",
        "migration",
        "counts",
    )

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in self.FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type only: exception messages and tracebacks may carry personal data.
            entry["error_type"] = record.exc_info[0].__name__
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    """Send every log record to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiohttp's access log is replaced by our own request line.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)


def monotonic_ms(start: float) -> float:
    """Milliseconds elapsed since ``start`` (a ``time.perf_counter()`` value)."""
    return round((time.perf_counter() - start) * 1000, 2)
