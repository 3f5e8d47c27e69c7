"""A tiny Prometheus text-format registry (counters, gauges, histograms) for the gateway."""

from __future__ import annotations

import threading
from collections.abc import Callable

LabelKey = tuple[tuple[str, str], ...]


def _fmt_labels(labels: LabelKey, extra: tuple[tuple[str, str], ...] = ()) -> str:
    """Render ``{a="b",...}`` or an empty string."""
    items = labels + extra
    if not items:
        return ""
    esc = [(k, v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")) for k, v in items]
    return "{" + ",".join(f'{k}="{v}"' for k, v in esc) + "}"


class Counter:
    """A monotonically increasing counter with labels."""

    def __init__(self, name: str, help_text: str) -> None:
        """Create an empty counter."""
        self.name, self.help = name, help_text
        self._values: dict[LabelKey, float] = {}
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to the series named by ``labels``."""
        key = tuple(sorted(labels.items()))
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def render(self) -> list[str]:
        """Prometheus exposition lines."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for key, val in sorted(self._values.items()):
            lines.append(f"{self.name}{_fmt_labels(key)} {val:g}")
        return lines


class Histogram:
    """A histogram with fixed buckets (seconds)."""

    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]) -> None:
        """Create an empty histogram."""
        self.name, self.help, self.buckets = name, help_text, buckets
        self._counts = [0] * len(buckets)
        self._sum = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def observe(self, value: float) -> None:
        """Record one observation."""
        with self._lock:
            self._sum += value
            self._count += 1
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    self._counts[i] += 1

    def render(self) -> list[str]:
        """Prometheus exposition lines."""
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for bound, count in zip(self.buckets, self._counts, strict=True):
            lines.append(f'{self.name}_bucket{{le="{bound:g}"}} {count}')
        lines.append(f'{self.name}_bucket{{le="+Inf"}} {self._count}')
        lines.append(f"{self.name}_sum {self._sum:.6f}")
        lines.append(f"{self.name}_count {self._count}")
        return lines


class Metrics:
    """The gateway's metrics; gauges are computed at scrape time."""

    def __init__(self) -> None:
        """Create the gateway's metric families."""
        self.requests = Counter("tthc_gateway_http_requests_total", "HTTP requests by route and status.")
        self.messages = Counter(
            "tthc_gateway_messages_total", "Messages by channel and direction (in/out)."
        )
        self.errors = Counter("tthc_gateway_errors_total", "Errors by kind.")
        self.rasa_latency = Histogram(
            "tthc_gateway_rasa_latency_seconds",
            "Latency of Rasa REST webhook calls.",
            (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0),
        )
        self.gauges: dict[str, tuple[str, Callable[[], dict[str, float]]]] = {}

    def gauge(self, name: str, help_text: str, fn: Callable[[], dict[str, float]]) -> None:
        """Register a gauge whose labelled values (keyed by one label value) ``fn`` returns."""
        self.gauges[name] = (help_text, fn)

    def render(self) -> str:
        """Render the full exposition text."""
        lines: list[str] = []
        for fam in (self.requests, self.messages, self.errors):
            lines += fam.render()
        lines += self.rasa_latency.render()
        for name, (help_text, fn) in self.gauges.items():
            values = fn()
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for label, val in sorted(values.items()):
                lines.append(f'{name}{{channel="{label}"}} {val:g}')
        return "\n".join(lines) + "\n"
