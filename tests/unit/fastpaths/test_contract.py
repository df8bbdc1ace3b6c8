"""A switch's decision: the setting forces every fast path off but no SDK contract, the environment
decides without the configurator, forcing decides each switch again, and a probe that raises turns
its fast path off. These tests set the switches themselves, so they run the same whether the run
forces the fast paths off or not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otelperf import fastpaths
from otelperf.fastpaths import contract, histograms, spans
from otelperf.fastpaths.contract import FORCED, FastPath, Switch


def test_the_setting_forces_every_fast_path_off_but_no_contract() -> None:
    for switch in fastpaths.FAST_PATHS:
        assert switch.would_be(True) == FastPath(switch.name, False, FORCED)
        assert switch.would_be(False) == switch.probed()
    for switch in fastpaths.CONTRACTS:
        assert switch.would_be(True).on


@pytest.fixture
def unconfigured() -> Iterator[None]:
    """The forcing as read from the environment (no configurator ran), restored afterwards."""
    saved = contract._forcing.off
    contract.force_off(False)
    contract._forcing.off = None
    yield
    contract.force_off(bool(saved))
    contract._forcing.off = saved


@pytest.mark.parametrize(("value", "forced"), [("false", True), ("0", True), ("true", False), ("maybe", False)])
def test_without_the_configurator_the_environment_decides(
    unconfigured: None, monkeypatch: pytest.MonkeyPatch, value: str, forced: bool
) -> None:
    monkeypatch.setenv("OTELPERF_FAST_PATHS", value)
    assert contract.forced_off() is forced
    assert histograms.SWITCH.state().on is not forced


def test_forcing_decides_every_switch_again(unconfigured: None) -> None:
    contract.force_off(False)
    assert spans.SWITCH.state().on
    contract.force_off(True)
    assert spans.SWITCH.decided() is None  # decided again at the next use
    assert spans.SWITCH.state() == FastPath("spans", False, FORCED) and spans.SWITCH.decision is False
    contract.force_off(False)
    assert spans.SWITCH.state().on and spans.SWITCH.decision is True


def test_a_probe_that_raises_turns_its_fast_path_off() -> None:
    def broken() -> FastPath:
        raise KeyError("moved")

    switch = Switch("broken", broken)
    contract._switches.remove(switch)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(contract._forcing, "off", False)
        assert switch.state() == FastPath("broken", False, "probe failed (KeyError: 'moved')")
