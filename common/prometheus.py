"""Prometheus text exposition format 0.0.4, written by hand: one home for HELP/TYPE lines, label
escaping and number formatting (the edge's and the fleet manager's `GET /metrics`).

No client library: our metrics are a few counters the services keep anyway and gauges read on
each scrape, so a registry of collectors would only add a second copy of the state. A service
builds a list of `Metric`s per scrape and `render`s it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MetricKind = Literal["counter", "gauge", "untyped"]

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@dataclass(frozen=True)
class Sample:
    """One line of a metric: its value under one set of labels (none for a plain metric)."""

    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Metric:
    name: str
    kind: MetricKind
    help: str
    samples: tuple[Sample, ...]

    def __post_init__(self) -> None:
        # Names are ours, never a client's: a bad one is a bug, caught by the first test scrape.
        if not _METRIC_NAME.match(self.name):
            raise ValueError(f"not a Prometheus metric name: {self.name!r}")
        for sample in self.samples:
            for label in sample.labels:
                if not _LABEL_NAME.match(label) or label.startswith("__"):
                    raise ValueError(f"not a Prometheus label name: {label!r}")

    @classmethod
    def single(cls, name: str, kind: MetricKind, help: str, value: float) -> Metric:
        """A metric with one unlabelled sample."""
        return cls(name, kind, help, (Sample(value),))

    @classmethod
    def labelled(
        cls, name: str, kind: MetricKind, help: str, label: str, values: Mapping[str, float]
    ) -> Metric:
        """One sample per value of one label (in the mapping's order)."""
        return cls(name, kind, help,
                   tuple(Sample(v, {label: key}) for key, v in values.items()))


def format_value(value: float) -> str:
    """Integers without a decimal point, others to three decimals (seconds to the millisecond,
    which is what our gauges need), and the format's spellings of NaN and the infinities."""
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return str(int(number)) if number.is_integer() else f"{number:.3f}"


def escape_label_value(value: str) -> str:
    """Backslash, double quote and line feed, escaped as the format requires."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    """HELP text escapes backslash and line feed (a quote is literal there)."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _sample_line(name: str, sample: Sample) -> str:
    if not sample.labels:
        return f"{name} {format_value(sample.value)}"
    labels = ",".join(f'{key}="{escape_label_value(value)}"'
                      for key, value in sample.labels.items())
    return f"{name}{{{labels}}} {format_value(sample.value)}"


def render(metrics: Iterable[Metric]) -> str:
    """The exposition text: per metric its HELP and TYPE lines, then its samples; one final
    line feed, as the format requires."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} {metric.kind}")
        lines.extend(_sample_line(metric.name, sample) for sample in metric.samples)
    return "\n".join(lines) + "\n" if lines else ""
