"""What every module of ``fastpaths`` declares: a probe, the decision taken from it, and the one
setting that turns every fast path off.

A fast path reads or feeds an SDK internal because the public API would copy, clean or recompute
something on every span or measurement. Its module's ``probe()`` checks, on a throwaway object of
the installed SDK, that the internal is there and behaves as the fast path expects, and returns a
``FastPath``. The decision (``Switch.state()``) is taken once, at the first use in the process,
from the probe's answer, unless ``OTELPERF_FAST_PATHS=false`` forces the fast path off; callers
then take the public path. A probe that raises counts as "off", with the exception as the reason.

A few internals have no public equivalent (rewriting an ended span, an exporter's temporality
preference, renewing providers in a forked child): their switches are not forcible. The setting
leaves them on, and their probe only tells whether the installed SDK offers them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FORCED", "FORCING_SETTING", "FastPath", "Switch", "force_off", "forced_off", "switches"]

FORCING_SETTING = "OTELPERF_FAST_PATHS"
FORCED = f"forced off by {FORCING_SETTING}=false"  # the reason of a fast path the setting turned off


@dataclass(frozen=True)
class FastPath:
    """One fast path's state: its name, whether it is used, and why (what it reads, or why not)."""

    name: str
    on: bool
    reason: str

    def __str__(self) -> str:
        return f"{self.name} {'on' if self.on else 'off'} ({self.reason})"


class _Forcing:
    __slots__ = ("off",)

    def __init__(self) -> None:
        self.off: bool | None = None  # None: not configured, read from the environment when needed


_forcing = _Forcing()
_switches: list[Switch] = []


def force_off(off: bool) -> None:
    """Set by the configurator from ``Settings.fast_paths``: decisions taken afterwards follow it
    (every switch is decided again at its next use; objects built before keep their path)."""
    _forcing.off = off
    for switch in _switches:
        switch.reset()


def forced_off() -> bool:
    """Whether ``OTELPERF_FAST_PATHS`` turns the fast paths off: as configured, else as the
    environment says (parsed by ``settings``; a bad value keeps the default, and the configurator
    reports it)."""
    if _forcing.off is None:
        from otelperf.settings import load_settings

        _forcing.off = not load_settings().fast_paths
    return _forcing.off


class Switch:
    """One fast path's decision: its probe's answer unless the setting forces it off, taken at the
    first ``state()`` and kept. ``decision`` is ``state().on`` once decided (``None`` before):
    what a per-span or per-measurement caller reads, an attribute load instead of a call."""

    __slots__ = ("_probe", "_probed", "_state", "decision", "forcible", "name")

    def __init__(self, name: str, probe: Callable[[], FastPath], *, forcible: bool = True) -> None:
        self.name = name
        self.forcible = forcible
        self._probe = probe
        self._probed: FastPath | None = None
        self._state: FastPath | None = None
        self.decision: bool | None = None
        _switches.append(self)

    def state(self) -> FastPath:
        state = self._state
        if state is None:
            state = self._state = self.would_be(forced_off())
            self.decision = state.on
        return state

    @property
    def on(self) -> bool:
        return self.state().on

    def decided(self) -> FastPath | None:
        """The state if it was decided in this process, without deciding it."""
        return self._state

    def reset(self) -> None:
        self._state = None
        self.decision = None

    def would_be(self, forced: bool) -> FastPath:
        """The state this fast path takes with the setting forcing it off or not (nothing decided)."""
        if self.forcible and forced:
            return FastPath(self.name, False, FORCED)
        return self.probed()

    def probed(self) -> FastPath:
        """The probe's answer, run once: whether the installed SDK allows the fast path."""
        probed = self._probed
        if probed is None:
            try:
                probed = self._probe()
            except Exception as exc:  # noqa: BLE001 - a probe that fails means the public path
                probed = FastPath(self.name, False, f"probe failed ({type(exc).__name__}: {exc})")
            self._probed = probed
        return probed


def switches() -> tuple[Switch, ...]:
    """Every switch created so far, in creation order."""
    return tuple(_switches)
