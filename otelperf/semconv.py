"""Metric and attribute names, units and buckets shared by signals, rules and dashboards.

Semantic-convention names are used where one exists; otelperf's own live under ``otelperf.``.
"""

from __future__ import annotations

from typing import Final

DISTRO_NAME: Final = "otelperf"

# Resource
SERVICE_NAME: Final = "service.name"
SERVICE_INSTANCE_ID: Final = "service.instance.id"
PROCESS_PID: Final = "process.pid"
TELEMETRY_DISTRO_NAME: Final = "telemetry.distro.name"
TELEMETRY_DISTRO_VERSION: Final = "telemetry.distro.version"

# Database client (stable semantic conventions)
DB_SYSTEM_NAME: Final = "db.system.name"
DB_NAMESPACE: Final = "db.namespace"
DB_QUERY_TEXT: Final = "db.query.text"
DB_OPERATION_NAME: Final = "db.operation.name"
DB_COLLECTION_NAME: Final = "db.collection.name"
DB_CLIENT_OPERATION_DURATION: Final = "db.client.operation.duration"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"

# Attributes whose values may hold statement text, in the conventions' old and new names.
STATEMENT_ATTRIBUTES: Final = ("db.query.text", "db.statement")

# Semantic-convention advisory buckets for db.client.operation.duration (seconds).
DB_DURATION_BUCKETS_S: Final = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
