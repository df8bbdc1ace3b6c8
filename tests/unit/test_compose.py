"""docker-compose.yml, checked statically (no Docker engine runs here).

- it parses against the Compose specification (``compose-spec``'s models, made strict: every key
  must be a field of the specification or an ``x-`` extension);
- every published port is bound to 127.0.0.1, every image is pinned, every mounted file exists;
- the services point at each other with the right names and ports (collector -> Tempo, Prometheus
  -> collector, Grafana -> Prometheus/Tempo/Pyroscope, demo -> collector/Pyroscope/Redis/PostgreSQL);
- Grafana's admin password comes from the environment; anonymous users only view.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_spec import ComposeSpecification
from compose_spec.models import Service

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())


def _fields(model: Any) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def specification_problems(compose: dict[str, Any]) -> list[str]:
    """Type errors from the specification's models, and keys that are not in the specification."""
    problems = []
    try:
        ComposeSpecification.model_validate(compose)
    except ValueError as exc:
        problems.append(str(exc).splitlines()[0])
    problems += [
        f"top-level key {key!r}"
        for key in compose
        if not key.startswith("x-") and key not in _fields(ComposeSpecification)
    ]
    for name, service in (compose.get("services") or {}).items():
        problems += [f"{name}: key {key!r}" for key in service if key not in _fields(Service)]
    return problems


def test_parses_against_the_compose_specification() -> None:
    assert specification_problems(COMPOSE) == []


def test_the_check_rejects_what_the_specification_does_not_allow() -> None:
    bad = {"services": {"app": {"image": "x:1", "portz": ["80:80"]}, "db": {"image": 5}}, "servicez": {}}
    problems = specification_problems(bad)
    assert any("portz" in problem for problem in problems)
    assert any("servicez" in problem for problem in problems)
    assert any("validation error" in problem for problem in problems)


@pytest.mark.parametrize("name", sorted(COMPOSE["services"]))
def test_ports_on_loopback_pinned_images_and_existing_mounts(name: str) -> None:
    service = COMPOSE["services"][name]
    for port in service.get("ports", []):
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    image = service.get("image", "")
    tag = image.rsplit(":", 1)[-1] if ":" in image else ""
    assert tag and tag != "latest", f"{name}: image {image!r} is not pinned"
    for volume in service.get("volumes", []):
        source = volume.split(":", 1)[0]
        if source.startswith("./"):
            assert (REPO / source).exists(), f"{name} mounts {source}, which does not exist"
    assert service.get("mem_limit"), f"{name} has no memory limit"


def test_dependencies_wait_for_health_where_a_healthcheck_exists() -> None:
    services = COMPOSE["services"]
    for name, service in services.items():
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            wanted = "service_healthy" if "healthcheck" in services[dependency] else "service_started"
            assert condition["condition"] == wanted, (name, dependency)


def test_services_point_at_each_other_with_the_right_names_and_ports() -> None:
    services = COMPOSE["services"]
    collector = (REPO / "collector-config" / "otelcol.yaml").read_text()
    assert "tempo:4317" in collector and "0.0.0.0:4317" in (REPO / "tempo" / "tempo.yaml").read_text()
    assert re.search(r"OTELCOL_PROMETHEUS_ENDPOINT:-0\.0\.0\.0:8889", collector)
    assert "otel-collector:8889" in (REPO / "prometheus" / "prometheus.yml").read_text()
    datasources = yaml.safe_load((REPO / "grafana/provisioning/datasources/datasources.yaml").read_text())
    urls = {source["uid"]: source["url"] for source in datasources["datasources"]}
    assert urls == {
        "prometheus": "http://prometheus:9090",
        "tempo": "http://tempo:3200",
        "pyroscope": "http://pyroscope:4040",
    }
    assert (
        "127.0.0.1:3200:3200" in services["tempo"]["ports"] and "127.0.0.1:4040:4040" in services["pyroscope"]["ports"]
    )
    env = COMPOSE["x-otelperf-env"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4317"
    assert env["OTELPERF_PYROSCOPE_ENDPOINT"] == "http://pyroscope:4040"
    assert env["REDIS_URL"].startswith("redis://redis:6379") and "@postgres:5432/" in env["DATABASE_URL"]
    assert "demo:8000" in " ".join(services["loadgen"]["command"])


def test_grafana_admin_password_from_the_environment_and_viewers_only() -> None:
    grafana = COMPOSE["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"


def test_the_dockerfile_copies_what_exists() -> None:
    for line in (REPO / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), source
