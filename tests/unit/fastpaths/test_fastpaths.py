"""The registry of fast paths and SDK contracts: every probe accepts the pinned SDK, and their states
read as one line (the startup line's and ``otelperf doctor``'s)."""

from __future__ import annotations

import pytest

from otelperf import fastpaths
from otelperf.fastpaths.contract import FORCED, FastPath, Switch

ALL = (*fastpaths.FAST_PATHS, *fastpaths.CONTRACTS)


@pytest.mark.parametrize("switch", ALL, ids=lambda switch: switch.name)
def test_every_probe_accepts_the_installed_sdk(switch: Switch) -> None:
    """``pyproject.toml`` pins the SDK these fast paths were written for: an SDK release that breaks
    one fails here, and in a user's process that fast path is off with this reason."""
    state = switch._probe()
    assert state == FastPath(switch.name, True, state.reason), state


def test_states_and_their_one_line_description() -> None:
    on = [FastPath("histograms", True, "r"), FastPath("spans", True, "r")]
    assert fastpaths.describe(on) == "fast paths on: histograms, spans"
    one_off = [on[0], FastPath("spans", False, "ReadableSpan changed")]
    assert fastpaths.describe(one_off) == "fast paths on: histograms; off: spans (ReadableSpan changed)"
    forced = [FastPath("histograms", False, FORCED), FastPath("grpc_export", False, fastpaths.NOT_USED)]
    assert fastpaths.describe(forced) == "fast paths off (OTELPERF_FAST_PATHS=false)"
    unused = [on[0], FastPath("grpc_export", False, fastpaths.NOT_USED)]
    assert fastpaths.describe(unused) == "fast paths on: histograms"
    doctor = fastpaths.states(frozenset({"grpc_export"}), forced_off=True)
    assert [state.name for state in doctor] == [switch.name for switch in fastpaths.FAST_PATHS]
    assert all(state.reason == FORCED for state in doctor if state.name != "grpc_export")
