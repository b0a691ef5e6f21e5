"""Prometheus metrics of one node, across all its worker processes.

granian runs several worker processes and any of them may answer a scrape,
so per-process counters would jump between scrapes. ``ledger serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory before the workers start;
prometheus_client then keeps each worker's samples in files there and
:func:`render` adds them up (counters and histograms summed over workers).
Without that variable, as under the test client, the metrics are this
process's. Projection lag is not a stored sample at all: it is read from the
read model when scraped, so it is never stale and needs no cross-process
aggregation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.storage_faults import storage_fault
from projections.models import Lag

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from request start to the end of the response, by route template.",
    ["method", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
EVENTS_APPENDED = Counter(
    "ledger_events_appended",
    "Events this node appended to the log, by ledger command.",
    ["command"],
)
STORAGE_FAULTS = Counter(
    "ledger_storage_faults",
    "Requests answered 503 storage-unavailable, by cause (busy, full, "
    "read-only, failing, unreachable).",
    ["cause"],
)


_requests: dict[tuple[str, str, int], Any] = {}
_latency: dict[tuple[str, str], Any] = {}


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Counts one answered request and its latency.

    The labelled children are kept here, since looking them up through
    ``labels()`` takes a lock and costs more than the increment itself.
    """
    key = (method, route, status)
    counter = _requests.get(key)
    if counter is None:
        counter = _requests[key] = REQUESTS.labels(method, route, str(status))
    counter.inc()
    timer = _latency.get(key[:2])
    if timer is None:
        timer = _latency[key[:2]] = LATENCY.labels(method, route)
    timer.observe(seconds)


class LagCollector(Collector):
    """Reads head, projected position and lag at scrape time."""

    def __init__(self, lag: Callable[[], Lag]) -> None:
        self._lag = lag

    def collect(self) -> Iterator[Metric]:
        try:
            lag = self._lag()
        except Exception as error:
            if storage_fault(error) is None:
                raise
            return  # the head cannot be read now; the other metrics still can
        for name, doc, value in (
            (
                "ledger_head_position",
                "Position of the newest event in the log.",
                lag.head,
            ),
            (
                "ledger_projected_position",
                "Position this node's read model reflects.",
                lag.projected,
            ),
            (
                "ledger_projection_lag_events",
                "Events appended to the log but not yet in this node's read model.",
                lag.lag,
            ),
        ):
            yield GaugeMetricFamily(name, doc, value=value)


def render(lag: Callable[[], Lag]) -> bytes:
    """The Prometheus text exposition of this node's metrics."""
    if os.environ.get(MULTIPROC_ENV):
        shared = CollectorRegistry()
        MultiProcessCollector(shared)
        text = generate_latest(shared)
    else:
        text = generate_latest(REGISTRY)
    live = CollectorRegistry()
    live.register(LagCollector(lag))
    return text + generate_latest(live)
