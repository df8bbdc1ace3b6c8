"""The collector killed for 60 s under load, then restarted: the app never notices.

The demo service runs under steady load (4 clients) against its own collector. After 10 s the
collector is killed; 60 s later a new one starts on the same ports. Required: no failed request
at any time, resident memory bounded while telemetry cannot leave (reported), telemetry flowing
again after the restart, and the drop accounted for in one "recovered; N dropped" line per signal.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.e2e.rig import App, Collector, launch_demo, wait_until
from tests.reliability.load import Load

OUTAGE_S = 60.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_collector_outage_under_load(collector_bin: str, tmp_path: Path, launched_apps: list[App]) -> None:
    first = Collector(collector_bin, tmp_path / "before").start()
    service = "outage-demo"
    app = launch_demo(
        tmp_path, service, first.endpoint, OTEL_METRIC_EXPORT_INTERVAL="1000", OTEL_BSP_SCHEDULE_DELAY="200"
    )
    launched_apps.append(app)
    load = Load(app.base_url).start()
    second: Collector | None = None
    try:
        time.sleep(10)
        wait_until(lambda: first.telemetry.spans(service), 10, "spans before the outage")
        rss = [_rss_mib(app.process.pid)]
        first.stop()
        outage_started, requests_before = time.monotonic(), load.done
        while time.monotonic() - outage_started < OUTAGE_S:
            time.sleep(10)
            rss.append(_rss_mib(app.process.pid))
        served_during = load.done - requests_before
        second = Collector(
            collector_bin,
            tmp_path / "after",
            grpc_port=first.grpc_port,
            http_port=first.http_port,
            health_port=first.health_port,
        ).start()
        after = second.telemetry  # a new output folder: everything in it arrived after the restart
        resumed = wait_until(
            lambda: after.spans(service), 45, "spans after the restart (back-off is at most 30 s)", interval_s=1
        )
        wait_until(lambda: after.points(service), 45, "metrics after the restart", interval_s=1)
        time.sleep(3)
        rss.append(_rss_mib(app.process.pid))
    finally:
        load.stop()
        if second is not None:
            second.stop()
        first.stop()
    app.terminate()
    print(
        f"\n{load.done} requests, {served_during} during the {OUTAGE_S:.0f} s outage, {len(load.failures)} failed; "
        f"RSS every 10 s from the outage on: {', '.join(f'{value:.1f}' for value in rss)} MiB; "
        f"{len(resumed)} spans after the restart"
    )
    assert not load.failures, load.failures[:10]
    assert served_during > 100, served_during
    # Bounded: the span queue (2048) and the metric state are fixed-size; nothing accumulates.
    assert max(rss) - rss[0] < 40, rss
    assert rss[-2] - rss[2] < 10, rss  # flat once the export queue is full
    lines = app.otelperf_lines()
    for signal in ("traces", "metrics"):
        recovered = [line for line in lines if f"{signal} export to" in line and "recovered" in line]
        assert len(recovered) == 1, lines
        dropped = int(recovered[0].split("; ", 1)[1].split()[0])
        assert dropped > 0, lines
    assert "Traceback" not in app.log()
