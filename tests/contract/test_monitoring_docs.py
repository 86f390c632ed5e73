"""Metrics, alert rules, their unit tests and docs/operations.md stay in step: every metric the
code registers is documented, every alert reads metrics that exist, has a runbook section and a
promtool test that sees it fire."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "operations.md").read_text()
RULES = yaml.safe_load((ROOT / "monitoring" / "alerts.yml").read_text())
TESTS = yaml.safe_load((ROOT / "monitoring" / "alerts.test.yml").read_text())
OURS = ("http_", "service_", "events_", "notify_", "media_", "search_", "portfolio_")
METRIC = re.compile(r"\b((?:" + "|".join(OURS) + r")[a-z_]+|up)\b")
MODULES = (
    "events.telemetry",
    "servicekit.http",
    "notify.metrics",
    "search.metrics",
    "media.handlers.processing",
    "portfolio.cache",
)


def registered() -> set[str]:
    for module in MODULES:
        importlib.import_module(module)
    names = set()
    for family in REGISTRY.collect():
        name = family.name + ("_total" if family.type == "counter" else "")
        if name.startswith(OURS):
            names.add(name)
    return names


def alerts() -> list[dict[str, Any]]:
    return [rule for group in RULES["groups"] for rule in group["rules"]]


def test_every_metric_is_documented() -> None:
    missing = sorted(name for name in registered() if f"`{name}`" not in DOCS)
    assert missing == [], f"add to docs/operations.md: {missing}"


def test_every_alert_reads_metrics_that_exist() -> None:
    known = registered() | {"up"}
    for rule in alerts():
        used = set(METRIC.findall(rule["expr"]))
        base = {re.sub(r"_(count|sum|bucket)$", "", name) for name in used}
        assert base <= known, f"{rule['alert']} reads unknown metrics: {sorted(base - known)}"


def test_every_alert_has_a_runbook_section_and_a_test_that_fires_it() -> None:
    fired = {
        case["alertname"]
        for test in TESTS["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    for rule in alerts():
        name = rule["alert"]
        assert f"#### {name}\n" in DOCS, f"docs/operations.md has no section for {name}"
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{name.lower()}"
        assert name in fired, f"monitoring/alerts.test.yml never sees {name} fire"
