"""Every setting, fuzzed: otelperf never raises into the app and always says what it did.

In-process, hypothesis throws arbitrary text (and the classic troublemakers: NaN, infinities,
huge exponents, empty strings, half URLs) at every variable ``load_settings`` reads. Then a few of
those environments start a real app under ``opentelemetry-instrument``: it must run its work,
exit 0, and log exactly one "invalid setting" line per rejected value, naming it.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otelperf.settings import SETTINGS, load_settings
from tests.e2e.rig import BIN

SPECS = {spec.env: spec for spec in SETTINGS}
TROUBLE = [
    "", " ", "nan", "NaN", "inf", "-inf", "1e309", "-1", "0", "0.0", "1", "3601", "999999999999",
    "true", "FALSE", "yes", "maybe", "http://", "http://[::1", "http://localhost:99999", "localhost:4317",
    "grpc", "http/protobuf", "otlp,console", "none", "console", "parentbased_always_on", "DEBUG", "ünïcödé",
    "a=b,c", "\t", "0x10", "1_000",
]  # fmt: skip
values = st.one_of(
    st.sampled_from(TROUBLE),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40),
    st.integers(min_value=-(10**12), max_value=10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
environments = st.dictionaries(st.sampled_from(sorted(SPECS)), values, max_size=10)


@given(env=environments)
@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_environment_loads_and_each_rejection_names_variable_value_and_fallback(env: dict[str, str]) -> None:
    loaded = load_settings(env)
    rejected = {problem.env for problem in loaded.problems}
    for problem in loaded.problems:
        spec = SPECS[problem.env]
        text = str(problem)
        assert text.startswith(f"{problem.env}=") and f"using {spec.default!r} instead" in text, text
        assert getattr(loaded, spec.attr) == spec.default, (problem.env, getattr(loaded, spec.attr))
        if spec.secret:
            assert env[problem.env] not in text or len(env[problem.env]) < 3, "a secret was echoed"
    for name, raw in env.items():
        if name not in rejected and raw.strip():
            # Accepted values parse to what the setting holds (no silent reinterpretation to a default).
            assert getattr(loaded, SPECS[name].attr) == SPECS[name].parse(raw)


APP = textwrap.dedent(
    """
    import asyncio, concurrent.futures, sqlalchemy
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT 1")).scalar()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert pool.submit(sum, [1, 2]).result() == 3
    async def main():
        return await asyncio.to_thread(lambda: 42)
    assert asyncio.run(main()) == 42
    print("app finished its work")
    """
)


@given(env=st.dictionaries(st.sampled_from(sorted(SPECS)), st.sampled_from(TROUBLE), min_size=3, max_size=8))
@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
def test_an_app_under_a_fuzzed_environment_runs_and_logs_each_rejection(env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    base = {
        "PATH": "/usr/bin:/bin",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
        "OTELPERF_SHUTDOWN_TIMEOUT": "1",
    }
    result = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), str(BIN / "python"), str(script)],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "app finished its work" in result.stdout, output
    assert "Traceback" not in output, output
    expected = load_settings({**base, **env})
    if not expected.active:
        return  # OTELPERF_ENABLED=false / OTEL_SDK_DISABLED=true: nothing loads, nothing to say
    for problem in expected.problems:
        lines = [line for line in output.splitlines() if f"invalid setting: {problem.env}=" in line]
        assert len(lines) == 1, (problem.env, output)
