"""``process.servers``: the wrappers report what a server is about to do, and never break it."""

from __future__ import annotations

import types
from typing import Any

import pytest

from otelperf.process import servers


class FakeSupervisor:
    processes_num = 3

    def __init__(self) -> None:
        self.ran = False

    def run(self) -> str:
        self.ran = True
        return "ran"


def _fake_module() -> types.ModuleType:
    module = types.ModuleType("fake_server")
    module.Multiprocess = FakeSupervisor  # type: ignore[attr-defined]
    return module


def test_the_supervisor_is_reported_before_its_workers_start(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, bool]] = []
    instance = FakeSupervisor()
    monkeypatch.setattr(servers, "_watchers", [(lambda reason: seen.append((reason, instance.ran)), seen.append)])
    module = _fake_module()
    servers._hook(servers.SUPERVISE, "fake_server", "Multiprocess", "run", servers._uvicorn_workers)(module)
    assert module.Multiprocess.run(instance) == "ran"
    assert seen == [("uvicorn supervisor of 3 workers (uvicorn.run)", False)]  # reported before run() ran


def test_a_failing_report_does_not_stop_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(reason: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(servers, "_watchers", [(broken, broken)])
    module = _fake_module()
    servers._hook(servers.SUPERVISE, "fake_server", "Multiprocess", "run", servers._uvicorn_workers)(module)
    instance = FakeSupervisor()
    assert module.Multiprocess.run(instance) == "ran" and instance.ran


def test_a_server_without_the_method_is_left_alone() -> None:
    module = types.ModuleType("fake_server")
    servers._hook(servers.SERVE, "fake_server", "Server", "startup", lambda _: "x")(module)  # no Server class
    assert not hasattr(module, "Server")


def test_watch_covers_uvicorn_and_gunicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real modules are wrapped where the servers call them (checked by name, not run)."""
    hooked: list[tuple[int, str, str, str]] = []
    monkeypatch.setattr(servers, "_watchers", [])
    monkeypatch.setattr(
        "wrapt.register_post_import_hook",
        lambda hook, name: hooked.append(next(h[:4] for h in servers._HOOKS if h[1] == name)),
    )
    servers.watch(lambda reason: None, lambda reason: None)
    servers.watch(lambda reason: None, lambda reason: None)  # a second watcher installs nothing more
    assert hooked == [hook[:4] for hook in servers._HOOKS]
    import gunicorn.arbiter
    import gunicorn.workers.base
    import uvicorn.server
    import uvicorn.supervisors.basereload
    import uvicorn.supervisors.multiprocess

    modules: dict[str, Any] = {
        "uvicorn.supervisors.multiprocess": uvicorn.supervisors.multiprocess,
        "uvicorn.supervisors.basereload": uvicorn.supervisors.basereload,
        "gunicorn.arbiter": gunicorn.arbiter,
        "uvicorn.server": uvicorn.server,
        "gunicorn.workers.base": gunicorn.workers.base,
    }
    for _, module_name, class_name, method in hooked:
        assert callable(getattr(getattr(modules[module_name], class_name), method)), (module_name, class_name)
