"""Prometheus samples read back in tests: scrape before, act, scrape after, assert the deltas.

A test reads the same text a Prometheus server would (`/metrics` of a process, or this process's
registry), so a metric renamed or relabelled breaks the test as it would break an alert.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Scrape:
    """One scrape's samples, by name and labels."""

    samples: dict[tuple[str, Labels], float]

    def total(self, name: str, **labels: str) -> float:
        """The sum of `name`'s samples whose labels include `labels` (0 when there are none)."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.samples.items()
            if sample == name and wanted <= set(sample_labels)
        )

    def label_values(self, name: str, label: str) -> set[str]:
        return {
            dict(sample_labels).get(label, "")
            for (sample, sample_labels) in self.samples
            if sample == name
        }

    def __add__(self, other: Scrape) -> Scrape:
        merged = dict(self.samples)
        for key, value in other.samples.items():
            merged[key] = merged.get(key, 0.0) + value
        return Scrape(merged)


def parse(text: str) -> Scrape:
    samples: dict[tuple[str, Labels], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return Scrape(samples)


def scrape_registry() -> Scrape:
    """This process's metrics, as its /metrics would serve them."""
    return parse(generate_latest(REGISTRY).decode())


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - a test's loopback URL
        body: bytes = response.read()
    return body.decode()


async def scrape(*base_urls: str) -> Scrape:
    """The metrics of the processes at `base_urls` (their ops ports), summed sample by sample:
    one service's api and worker both relay, so its published count is their sum."""
    texts: Iterable[str] = await asyncio.gather(
        *(asyncio.to_thread(_get, f"{url.rstrip('/')}/metrics") for url in base_urls)
    )
    total = Scrape({})
    for text in texts:
        total = total + parse(text)
    return total
