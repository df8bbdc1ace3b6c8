"""Reads rule files: the catalog shipped in the package, then the user's file over it.

Strict like Prometheus' own rule loader: unknown keys, wrong types, unknown metrics, impossible
thresholds and template fields that do not exist are all errors, and every error of a file is
reported at once, each naming the file, the rule and the field. A user file may add rules, replace
fields of a catalog rule (by ``id``) or switch one off (``enabled: false``).
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml

from otelperf.rules._names import PROMETHEUS_NAMES
from otelperf.rules.model import CATEGORIES, Measure, Rule, RuleError, Term, Thresholds
from otelperf.semconv import DASHBOARD_UIDS

__all__ = ["TEMPLATE_FIELDS", "load_catalog", "load_rules"]

TEMPLATE_FIELDS = frozenset({"value", "worst", "worst_value", "good", "warn", "bad", "title"})
# ``{worst_labels[<attribute of by>]}``: one attribute of the worst group (a route, a statement).
LABEL_FIELD = "worst_labels"
_RULE_KEYS: dict[str, type | tuple[type, ...]] = {
    "id": str,
    "category": str,
    "title": str,
    "measure": dict,
    "by": list,
    "score_on": str,
    "unit": str,
    "thresholds": dict,
    "weight": (int, float),
    "priority": int,
    "recommendation": str,
    "why": str,
    "dashboard": str,
    "profile_link": bool,
    "enabled": bool,
}
_REQUIRED = ("category", "title", "measure", "unit", "thresholds", "weight", "priority", "recommendation", "why")
_UNITS = ("s", "ratio", "per_request", "per_s", "per_hour", "score")
_TERM_KEYS = {"metric", "field", "where", "aggregation", "match_on"}


class _Errors:
    def __init__(self, source: str) -> None:
        self.source = source
        self.messages: list[str] = []

    def add(self, rule_id: str, field: str, problem: str) -> None:
        self.messages.append(f"{self.source}: rule {rule_id!r}, field {field!r}: {problem}")


def load_catalog() -> dict[str, Rule]:
    """The rules shipped with otelperf (``otelperf/rules/catalog/*.yaml``)."""
    rules: dict[str, Rule] = {}
    folder = resources.files("otelperf.rules") / "catalog"
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".yaml"):
            for rule in _parse_file(entry.read_text(encoding="utf-8"), f"catalog/{entry.name}", {}):
                rules[rule.id] = rule
    return rules


def load_rules(user_file: str | Path | None = None) -> list[Rule]:
    """The catalog, with ``user_file`` (if any) applied over it. Raises ``RuleError``."""
    rules = load_catalog()
    if user_file:
        path = Path(user_file)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(f"{path}: cannot read the rule file ({exc.strerror or exc})") from None
        raw_by_id = {rule_id: _as_raw(rule) for rule_id, rule in rules.items()}
        for rule in _parse_file(text, str(path), raw_by_id):
            rules[rule.id] = rule
        for rule_id in _disabled_ids(text):
            rules.pop(rule_id, None)
    return list(rules.values())


def _disabled_ids(text: str) -> list[str]:
    document = yaml.safe_load(text) or {}
    return [
        str(entry["id"])
        for entry in document.get("rules", [])
        if isinstance(entry, dict) and entry.get("enabled") is False and "id" in entry
    ]


def _parse_file(text: str, source: str, base: Mapping[str, dict[str, Any]]) -> list[Rule]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise RuleError(f"{source}: not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(document, dict) or set(document) != {"rules"} or not isinstance(document["rules"], list):
        raise RuleError(f"{source}: expected a mapping with one key, 'rules', holding a list of rules")
    errors = _Errors(source)
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, entry in enumerate(document["rules"]):
        if not isinstance(entry, dict):
            errors.add(f"#{index + 1}", "-", "a rule must be a mapping")
            continue
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not rule_id.replace("-", "").replace("_", "").isalnum():
            errors.add(f"#{index + 1}", "id", "required: letters, digits, '-' or '_'")
            continue
        if rule_id in seen:
            errors.add(rule_id, "id", "defined twice in this file")
            continue
        seen.add(rule_id)
        if entry.get("enabled") is False:
            continue
        merged = {**base.get(rule_id, {}), **entry}
        rule = _build_rule(merged, errors, source)
        if rule is not None:
            rules.append(rule)
    if errors.messages:
        raise RuleError("\n".join(errors.messages))
    return rules


def _build_rule(raw: dict[str, Any], errors: _Errors, source: str) -> Rule | None:
    rule_id: str = raw["id"]
    before = len(errors.messages)
    for key in raw.keys() - _RULE_KEYS.keys():
        errors.add(rule_id, key, f"unknown key (known: {', '.join(sorted(_RULE_KEYS))})")
    unusable = False  # a missing or mistyped field: the checks below would trip over it
    for key, value in raw.items():
        expected = _RULE_KEYS.get(key)
        if expected is not None and (
            not isinstance(value, expected) or (expected == (int, float) and isinstance(value, bool))
        ):
            errors.add(rule_id, key, f"expected {_type_name(expected)}, got {type(value).__name__}")
            unusable = True
    for key in _REQUIRED:
        if key not in raw:
            errors.add(rule_id, key, "required")
            unusable = True
    if unusable:
        return None
    if raw["category"] not in CATEGORIES:
        errors.add(rule_id, "category", f"{raw['category']!r} is not one of {', '.join(CATEGORIES)}")
    if raw["unit"] not in _UNITS:
        errors.add(rule_id, "unit", f"{raw['unit']!r} is not one of {', '.join(_UNITS)}")
    if raw["weight"] <= 0:
        errors.add(rule_id, "weight", "must be > 0")
    if not 1 <= raw["priority"] <= 5:
        errors.add(rule_id, "priority", "must be 1 (fix first) to 5")
    by = raw.get("by", [])
    if raw.get("score_on", "all") not in ("all", "worst"):
        errors.add(rule_id, "score_on", "must be all (the service-wide value) or worst (the worst group of by)")
    elif raw.get("score_on") == "worst" and not by:
        errors.add(rule_id, "score_on", "worst needs groups: list attributes in by")
    if raw.get("dashboard", "") and raw["dashboard"] not in _dashboard_uids():
        errors.add(rule_id, "dashboard", f"{raw['dashboard']!r} is not one of {', '.join(sorted(_dashboard_uids()))}")
    if not all(isinstance(item, str) and item for item in by):
        errors.add(rule_id, "by", "must be a list of attribute names")
    thresholds = _thresholds(raw["thresholds"], rule_id, errors)
    measure = _measure(raw["measure"], rule_id, errors)
    for side in ("numerator", "denominator"):
        term = getattr(measure, side, None)
        if term is not None and term.match_on is not None and not set(term.match_on) < set(by):
            errors.add(rule_id, f"measure.{side}.match_on", "must name some (not all) of the attributes in by")
    for template_field in ("recommendation", "why"):
        _check_template(raw[template_field], rule_id, template_field, errors, by)
    if len(errors.messages) > before or thresholds is None or measure is None:
        return None
    return Rule(
        id=rule_id,
        category=raw["category"],
        title=raw["title"],
        measure=measure,
        unit=raw["unit"],
        thresholds=thresholds,
        weight=float(raw["weight"]),
        priority=raw["priority"],
        recommendation=raw["recommendation"].strip(),
        why=raw["why"].strip(),
        by=tuple(by),
        score_on=raw.get("score_on", "all"),
        dashboard=raw.get("dashboard", ""),
        profile_link=raw.get("profile_link", False),
        source=source,
    )


def _thresholds(raw: dict[str, Any], rule_id: str, errors: _Errors) -> Thresholds | None:
    values: dict[str, float] = {}
    for key in ("good", "warn", "bad"):
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            errors.add(rule_id, f"thresholds.{key}", "required: a finite number")
        else:
            values[key] = float(value)
    for key in set(raw) - {"good", "warn", "bad"}:
        errors.add(rule_id, f"thresholds.{key}", "unknown key (known: good, warn, bad)")
    if len(values) < 3:
        return None
    good, warn, bad = values["good"], values["warn"], values["bad"]
    if not (good < warn < bad or good > warn > bad):
        errors.add(rule_id, "thresholds", f"good, warn, bad must be strictly ordered (got {good}, {warn}, {bad})")
        return None
    return Thresholds(good, warn, bad)


# A measure key's validator: (raw value, rule id, field path, errors) -> the Measure field's value,
# or None after adding an error.
_Check = Callable[[Any, str, str, _Errors], Any]


@dataclass(frozen=True)
class _Key:
    """One key of a measure kind: the ``Measure`` field it fills, its validator, its default when
    the file leaves it out (``_NO_DEFAULT``: a required key, validated as absent; ``None``: left
    out, unchecked), and how the field reads back in file form (``_as_raw``)."""

    name: str
    field: str
    check: _Check
    default: Any
    to_raw: Callable[[Any], Any] = lambda value: value


_NO_DEFAULT = object()


def _measure(raw: dict[str, Any], rule_id: str, errors: _Errors) -> Measure | None:
    kind = raw.get("kind")
    if kind not in _MEASURES:
        errors.add(rule_id, "measure.kind", f"{kind!r} is not one of {', '.join(_MEASURES)}")
        return None
    keys = _MEASURES[kind]
    allowed = {key.name for key in keys} | {"kind"}
    for name in set(raw) - allowed:
        errors.add(rule_id, f"measure.{name}", f"unknown key for kind {kind} (known: {', '.join(sorted(allowed))})")
    before = len(errors.messages)
    values: dict[str, Any] = {}
    for key in keys:
        value = raw.get(key.name, None if key.default is _NO_DEFAULT else key.default)
        if value is None and key.default is None:
            continue
        values[key.field] = key.check(value, rule_id, f"measure.{key.name}", errors)
    if len(errors.messages) > before:
        return None
    return Measure(kind=kind, **values)


def _expr(raw: Any, rule_id: str, field: str, errors: _Errors) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        errors.add(rule_id, field, "required: a PromQL expression ($selector, $window, $by expand)")
        return None
    return raw.strip()


def _boolean(raw: Any, rule_id: str, field: str, errors: _Errors) -> bool | None:
    if not isinstance(raw, bool):
        errors.add(rule_id, field, "expected true or false")
        return None
    return raw


def _quantile(raw: Any, rule_id: str, field: str, errors: _Errors) -> float | None:
    if not isinstance(raw, float) or not 0 < raw < 1:
        errors.add(rule_id, field, "must be a number between 0 and 1")
        return None
    return raw


def _apdex_t(raw: Any, rule_id: str, field: str, errors: _Errors) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        errors.add(rule_id, field, "must be a positive number of seconds (T and 4T are bucket bounds)")
        return None
    return float(raw)


def _bound(raw: Any, rule_id: str, field: str, errors: _Errors) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
        errors.add(rule_id, field, "required: a positive number of seconds (a bucket bound)")
        return None
    return float(raw)


def _share_of(raw: Any, rule_id: str, field: str, errors: _Errors) -> str | None:
    if raw not in ("count", "time"):
        errors.add(rule_id, field, "must be count (of the observations) or time (of their sum)")
        return None
    return cast(str, raw)


def _min_history(raw: Any, rule_id: str, field: str, errors: _Errors) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
        errors.add(rule_id, field, "must be a number of seconds >= 0")
        return None
    return float(raw)


def _where_raw(where: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return dict(where)


def _term_raw(term: Term) -> dict[str, Any]:
    raw = {"metric": term.metric, "field": term.field, "where": dict(term.where), "aggregation": term.aggregation}
    if term.match_on is not None:
        raw["match_on"] = list(term.match_on)
    return raw


def _dashboard_uids() -> set[str]:
    return set(DASHBOARD_UIDS.values())


def _term(raw: Any, rule_id: str, field: str, errors: _Errors) -> Term | None:
    if not isinstance(raw, dict):
        errors.add(rule_id, field, "required: a mapping with metric and field")
        return None
    for key in set(raw) - _TERM_KEYS:
        errors.add(rule_id, f"{field}.{key}", f"unknown key (known: {', '.join(sorted(_TERM_KEYS))})")
    metric = _metric(raw.get("metric"), rule_id, f"{field}.metric", errors)
    term_field = raw.get("field")
    if term_field not in ("count", "sum", "rate", "gauge"):
        errors.add(rule_id, f"{field}.field", "must be count, sum (histograms), rate (counters) or gauge")
    aggregation = raw.get("aggregation", "sum")
    if aggregation not in ("sum", "avg", "max"):
        errors.add(rule_id, f"{field}.aggregation", "must be sum, avg or max")
    where = _where(raw.get("where", {}), rule_id, f"{field}.where", errors)
    match_on = raw.get("match_on")
    if match_on is not None and (
        not isinstance(match_on, list) or not all(isinstance(item, str) and item for item in match_on)
    ):
        errors.add(rule_id, f"{field}.match_on", "must be a list of attribute names (some of by)")
        match_on = None
    if not metric or term_field not in ("count", "sum", "rate", "gauge"):
        return None
    return Term(
        metric=metric,
        field=term_field,
        where=where,
        aggregation=aggregation,
        match_on=tuple(match_on) if match_on is not None else None,
    )


def _metric(raw: Any, rule_id: str, field: str, errors: _Errors) -> str:
    if raw not in PROMETHEUS_NAMES:
        errors.add(
            rule_id,
            field,
            f"{raw!r} is not a metric otelperf knows (use kind: promql for others; known: "
            f"{', '.join(sorted(PROMETHEUS_NAMES))})",
        )
        return ""
    return cast(str, raw)


def _where(raw: Any, rule_id: str, field: str, errors: _Errors) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        errors.add(rule_id, field, "must map attribute names to regular expressions (strings)")
        return ()
    return tuple(sorted(raw.items()))


_METRIC = _Key("metric", "metric", _metric, _NO_DEFAULT)
_WHERE = _Key("where", "where", _where, {}, _where_raw)
_MEASURES: dict[str, tuple[_Key, ...]] = {
    "quantile": (_METRIC, _WHERE, _Key("quantile", "quantile", _quantile, 0.95)),
    "apdex": (_METRIC, _WHERE, _Key("t", "apdex_t", _apdex_t, 0.1)),
    "share_above": (
        _METRIC,
        _WHERE,
        _Key("bound", "bound", _bound, _NO_DEFAULT),
        _Key("of", "share_of", _share_of, "count"),
    ),
    "ratio": (
        _Key("numerator", "numerator", _term, _NO_DEFAULT, _term_raw),
        _Key("denominator", "denominator", _term, None, _term_raw),
        _Key("missing_numerator_is_zero", "missing_numerator_is_zero", _boolean, False),
    ),
    "trend": (
        _METRIC,
        _WHERE,
        _Key("relative", "relative", _boolean, False),
        _Key("min_history", "min_history_s", _min_history, 0),
    ),
    "promql": (_Key("expr", "promql", _expr, _NO_DEFAULT),),
}
"""Each measure kind's keys, in the order they are checked: what the loader accepts for that kind."""


def _check_template(text: str, rule_id: str, field: str, errors: _Errors, by: list[str]) -> None:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        errors.add(rule_id, field, f"not a valid template ({exc}); write literal braces as {{{{ }}}}")
        return
    for name in [name for name in names if name.startswith(f"{LABEL_FIELD}[")]:
        names.discard(name)
        if not name.endswith("]") or name[len(LABEL_FIELD) + 1 : -1] not in by:
            errors.add(rule_id, field, f"{{{name}}}: {LABEL_FIELD}[...] takes an attribute of by ({', '.join(by)})")
    unknown = names - TEMPLATE_FIELDS
    if unknown:
        errors.add(
            rule_id, field, f"unknown template field(s) {sorted(unknown)} (known: {', '.join(sorted(TEMPLATE_FIELDS))})"
        )


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {str: "text", dict: "a mapping", list: "a list", int: "an integer", float: "a number", bool: "true/false"}
    kinds: Iterable[type] = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(names.get(kind, kind.__name__) for kind in kinds)


def _as_raw(rule: Rule) -> dict[str, Any]:
    """A loaded rule back in file form, so a user file can replace single fields of it."""
    measure = rule.measure
    raw_measure: dict[str, Any] = {"kind": measure.kind}
    for key in _MEASURES[measure.kind]:
        value = getattr(measure, key.field)
        if value is not None:
            raw_measure[key.name] = key.to_raw(value)
    return {
        "id": rule.id,
        "category": rule.category,
        "title": rule.title,
        "measure": raw_measure,
        "by": list(rule.by),
        "score_on": rule.score_on,
        "unit": rule.unit,
        "thresholds": {"good": rule.thresholds.good, "warn": rule.thresholds.warn, "bad": rule.thresholds.bad},
        "weight": rule.weight,
        "priority": rule.priority,
        "recommendation": rule.recommendation,
        "why": rule.why,
        "dashboard": rule.dashboard,
        "profile_link": rule.profile_link,
    }
