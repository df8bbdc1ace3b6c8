"""What leaves the process, and what listens: the security suite.

An app with planted secrets in every place a request or its work carries them (an email in the
database, an inline SQL literal, a Redis value, a bearer token, request and response cookies, a
query-string token, a password in DATABASE_URL, an OTLP header from the environment) runs under
otelperf with everything on: PostgreSQL, Redis, profiling to a Pyroscope endpoint, and HTTP
header capture switched on for every header. Everything the collector and the profile endpoint
received is then scanned for each secret. Then: every socket the process listens on.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from otelperf.profiling.receiver import ProfileReceiver
from tests.e2e.apps.probe_app import (
    SECRET_BEARER,
    SECRET_COOKIE_IN,
    SECRET_COOKIE_OUT,
    SECRET_EMAIL,
    SECRET_LITERAL,
    SECRET_QUERY,
    SECRET_VALUE,
)
from tests.e2e.rig import App, Collector, free_port, launch, uvicorn, wait_until

SECRET_DB_PASSWORD = "pg-passw0rd-s3cr3t"  # PostgreSQL trusts loopback here, so any password connects
SECRET_OTLP_HEADER = "otlp-header-s3cr3t"


def test_no_secret_reaches_the_collector_or_the_profile_endpoint(
    tmp_path: Path, collector: Collector, redis_url: str, postgres_url: str, launched_apps: list[App]
) -> None:
    pyroscope = ProfileReceiver().start()
    service = "security-probe"
    port = free_port()
    database_url = postgres_url.replace("postgres@", f"postgres:{SECRET_DB_PASSWORD}@")
    app = launch(
        uvicorn("probe_app:app", "--port", str(port)),
        tmp_path=tmp_path,
        port=port,
        env={
            "OTEL_SERVICE_NAME": service,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={SECRET_OTLP_HEADER}",
            "OTEL_METRIC_EXPORT_INTERVAL": "1000",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTELPERF_LOG_LEVEL": "debug",
            "OTELPERF_PYROSCOPE_ENDPOINT": pyroscope.endpoint,
            "OTELPERF_PROFILING_UPLOAD_INTERVAL": "1",
            "REDIS_URL": redis_url,
            "DATABASE_URL": database_url,
            # A user turning on header capture for everything must not leak credentials either.
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST": ".*",
            "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE": ".*",
        },
    ).wait_ready()
    launched_apps.append(app)
    try:
        for user_id in (1, 1, 2):
            assert app.get(f"/users/{user_id}").status_code == 200
        assert app.post("/users/duplicate").status_code == 500
        for _ in range(3):
            response = app.get(
                f"/login?token={SECRET_QUERY}&page=2",
                headers={"Authorization": f"Bearer {SECRET_BEARER}", "Cookie": f"session={SECRET_COOKIE_IN}"},
            )
            assert response.status_code == 200 and SECRET_COOKIE_OUT in response.headers["set-cookie"]
        app.terminate()
        telemetry = collector.telemetry
        wait_until(
            lambda: [s for s in telemetry.spans(service) if s.attributes.get("http.route") == "/login"],
            20,
            "the /login spans",
        )
        login = next(s for s in telemetry.spans(service) if s.attributes.get("http.route") == "/login")
        profiles = wait_until(
            lambda: [s for s in pyroscope.samples() if s.labels.get("service_name") == service], 10, "profiles"
        )
        pushed = b"".join(body for _, body in pyroscope.pushes)
    finally:
        pyroscope.stop()

    # Header capture did happen (so the check below is not vacuous), with the values redacted.
    captured = {key: value for key, value in login.attributes.items() if key.startswith("http.request.header.")}
    assert "http.request.header.authorization" in captured, sorted(login.attributes)
    assert "http.request.header.cookie" in captured
    assert "url.query" not in login.attributes or SECRET_QUERY not in str(login.attributes["url.query"])
    received = telemetry.raw_text()
    profile_text = "\n".join(f"{s.labels} {s.stack}" for s in profiles)
    log = app.log()
    secrets = (
        SECRET_EMAIL,
        SECRET_LITERAL,
        SECRET_VALUE,
        SECRET_BEARER,
        SECRET_COOKIE_IN,
        SECRET_COOKIE_OUT,
        SECRET_QUERY,
        SECRET_DB_PASSWORD,
        SECRET_OTLP_HEADER,
    )
    for secret in secrets:
        assert secret not in received, f"{secret} reached the collector"
        assert secret not in profile_text and secret.encode() not in pushed, f"{secret} reached Pyroscope"
    for secret in (SECRET_DB_PASSWORD, SECRET_OTLP_HEADER):  # the settings dump (debug log) masks them
        assert secret not in log, f"{secret} is in the app's log"


def _listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name if hasattr(fd, "readlink") else ""
        except OSError:
            continue
        match = re.fullmatch(r"socket:\[(\d+)\]", str(target))
        if match:
            inodes.add(match.group(1))
    found = []
    for table, width in (("tcp", 8), ("tcp6", 32)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                address, port = local.split(":")
                found.append((_address(address, width), int(port, 16)))
    return found


def _address(hex_address: str, width: int) -> str:
    if width == 8:
        return ".".join(str(int(hex_address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return "::" if set(hex_address) == {"0"} else hex_address


def test_otelperf_opens_no_listening_socket_of_its_own(
    tmp_path: Path, collector: Collector, redis_url: str, launched_apps: list[App]
) -> None:
    pyroscope = ProfileReceiver().start()
    port = free_port()
    try:
        app = launch(
            uvicorn("signals_app:app", "--port", str(port)),
            tmp_path=tmp_path,
            port=port,
            env={
                "OTEL_SERVICE_NAME": "security-sockets",
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
                "OTELPERF_PYROSCOPE_ENDPOINT": pyroscope.endpoint,
                "OTELPERF_LOCAL_METRICS": "true",
                "REDIS_URL": redis_url,
                "DATABASE_URL": f"sqlite:///{tmp_path}/sockets.db",
            },
        ).wait_ready()
        launched_apps.append(app)
        for _ in range(5):
            httpx.get(f"{app.base_url}/healthz", timeout=5)
        sockets = _listening_sockets(app.process.pid)
    finally:
        pyroscope.stop()
    # The app's own port, bound by uvicorn where it was told (127.0.0.1); nothing else.
    assert sockets == [("127.0.0.1", port)], sockets
