"""The service behind the HTTP API: the current ``ServingState``, swapped whole when a new day's
graph lands or a client's ``@champion`` moves; the landing log; the Prometheus metrics.

A request takes the current state once and keeps it to the end, so a swap never mixes two
models or two graphs in one request. The new state is loaded beside the old one, made current in
one assignment, and what only the old one used (scoring threads, feature contexts) is closed once
the requests that held it are done. When the day moves on, the previous day's landing folders are
closed (``_SUCCESS``), which is what the landing sensor waits for.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as day_time

import pyarrow as pa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from pixie_assets.core.clients import CLIENTS
from pixie_assets.core.settings import Settings
from pixie_assets.online.landing_log import LOGGED_TABLES, LandingLog, LogCounters
from pixie_assets.online.recommend import BadRequest, Query, Served, recommend
from pixie_assets.online.state import (
    ServingState,
    champions_of,
    close_state,
    load_state,
    newest_graph_day,
    retire,
)

log = logging.getLogger("pixie.online")

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.08, 0.12, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """The service's Prometheus metrics, in a registry of its own (one per service)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "pixie_request_seconds", "Time to serve a recommendation request, by client",
            ["client"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.requests = Counter(
            "pixie_requests", "Recommendation requests by client and HTTP status",
            ["client", "status"], registry=self.registry,
        )  # fmt: skip
        self.model = Gauge(
            "pixie_model_info", "The model version each client serves with (value 1)",
            ["client", "model_version"], registry=self.registry,
        )  # fmt: skip
        self.graph_day = Gauge(
            "pixie_graph_day_seconds", "The day of the graph in use, as a Unix time",
            registry=self.registry,
        )  # fmt: skip
        self.swaps = Counter(
            "pixie_state_swaps", "Times a new graph or model was swapped in", registry=self.registry
        )
        self.walk_steps = Counter(
            "pixie_walk_steps", "Random-walk steps taken, by client", ["client"],
            registry=self.registry,
        )  # fmt: skip

    def watch_landing_log(self, counters: LogCounters) -> None:
        """Export the landing log's own counters, read when /metrics is scraped."""
        self.registry.register(_LandingLogCollector(counters))

    def show_state(self, state: ServingState) -> None:
        self.model.clear()
        for name, client in state.clients.items():
            self.model.labels(name, client.model_version).set(1)
        midnight = datetime.combine(state.day, day_time(), tzinfo=UTC)
        self.graph_day.set(midnight.timestamp())


class _LandingLogCollector(Collector):
    """The landing log's counters as Prometheus counters, by table: rows written, rows shed on
    a full queue, rows whose micro-batch could not be written (each also logged as an error)."""

    FAMILIES = (
        ("pixie_log_rows_written", "Rows written to the landing folder", "rows"),
        ("pixie_log_rows_shed", "Rows not logged because the logging queue was full", "shed"),
        ("pixie_log_rows_failed", "Rows whose micro-batch could not be written", "failed"),
    )

    def __init__(self, counters: LogCounters) -> None:
        self.counters = counters

    def collect(self):
        for name, documentation, attribute in self.FAMILIES:
            family = CounterMetricFamily(name, documentation, labels=["table"])
            counted = getattr(self.counters, attribute)
            for table in LOGGED_TABLES:
                family.add_metric([table], counted[table])
            yield family


@dataclass(frozen=True)
class Refresh:
    swapped: bool
    day: str
    models: dict[str, str]


class Service:
    def __init__(
        self,
        settings: Settings,
        clients: list[str] | None = None,
        day: date | None = None,
        log_queue: int = 10_000,
        flush_seconds: float = 5.0,
        walk_steps: int | None = None,
    ) -> None:
        self.settings = settings
        self.walk_steps = walk_steps
        self.clients = list(clients or CLIENTS)
        self.pinned_day = day
        self.metrics = Metrics()
        self.landing = LandingLog(
            settings.landing_dir, max_queue=log_queue, flush_seconds=flush_seconds,
            on_error=lambda error: log.error("landing log: %s", error),
        )  # fmt: skip
        self.metrics.watch_landing_log(self.landing.counters)
        self._swap_lock = threading.Lock()
        self._state: ServingState | None = None
        self._holders: dict[int, int] = {}  # id(state) -> requests in flight
        self._retired: list[tuple[ServingState, list[Callable[[], None]]]] = []
        self._count_lock = threading.Lock()
        self.refresh()
        self._close_days_left_open()

    # --- state ---------------------------------------------------------------------------------

    @property
    def state(self) -> ServingState:
        assert self._state is not None
        return self._state

    def ready(self) -> bool:
        return self._state is not None and set(self._state.clients) == set(self.clients)

    def refresh(self) -> Refresh:
        """Load what changed (a newer graph day, a moved ``@champion``) beside the current
        state and swap it in; close the previous day's landing folders when the day moved."""
        with self._swap_lock:
            old = self._state
            day = self.pinned_day or newest_graph_day(self.settings)
            champions = champions_of(self.settings, self.clients)
            if old is not None and old.day == day and old.champions == champions:
                return Refresh(False, day.isoformat(), _models(old))
            new = load_state(
                self.settings, day, champions, old, log=log.info, walk_steps=self.walk_steps
            )
            self._state = new
            self.metrics.show_state(new)
            if old is not None:
                self.metrics.swaps.inc()
                with self._count_lock:
                    self._retired.append((old, retire(old, new)))
                self._close_retired()
                if old.day != new.day:
                    self.landing.close_day(old.day.isoformat(), tuple(self.clients))
            return Refresh(True, day.isoformat(), _models(new))

    def _close_days_left_open(self) -> None:
        """Close the earlier days a previous run of the service left open (stopped before the
        next day's graph was swapped in): the landing sensor waits for their ``_SUCCESS``."""
        for day in self.landing.open_days_before(self.state.day.isoformat(), tuple(self.clients)):
            log.info("closing %s, left open by an earlier run of the service", day)
            self.landing.close_day(day, tuple(self.clients))

    def _close_retired(self) -> None:
        """Close what only retired states used, once no request holds them."""
        with self._count_lock:
            keep, closes = [], []
            for state, closers in self._retired:
                if self._holders.get(id(state), 0) > 0:
                    keep.append((state, closers))
                else:
                    closes += closers
            self._retired = keep
        for close in closes:
            close()

    def _hold(self) -> ServingState:
        with self._count_lock:
            state = self.state
            self._holders[id(state)] = self._holders.get(id(state), 0) + 1
            return state

    def _release(self, state: ServingState) -> None:
        with self._count_lock:
            self._holders[id(state)] -= 1
            if self._holders[id(state)] == 0:
                del self._holders[id(state)]
        if self._retired:
            self._close_retired()

    # --- requests ------------------------------------------------------------------------------

    def serving_time(self, state: ServingState) -> datetime:
        """Now, on the serving day: the service serves the graph's day (a synthetic world's
        days are not the calendar's); the time of day is the wall clock's, in UTC."""
        now = datetime.now(UTC)
        return datetime.combine(state.day, now.time().replace(tzinfo=None))

    def recommend(
        self,
        client: str,
        user_id: int,
        query_pins: tuple[int, ...] | None = None,
        query_weights: tuple[float, ...] | None = None,
        k: int | None = None,
    ) -> Served:
        started = time.perf_counter()
        state = self._hold()
        status = "200"
        try:
            query = Query(
                client=client, user_id=int(user_id), request_id=new_request_id(client, state.day),
                ts=self.serving_time(state), query_pins=query_pins, query_weights=query_weights,
                k=k,
            )  # fmt: skip
            served = recommend(state, query)
            self.landing.offer("serving_log", served.day, client, served.serving_log)
            self.metrics.walk_steps.labels(client).inc(served.walk_steps)
            return served
        except BadRequest:
            status = "400"
            raise
        except Exception:
            status = "500"
            raise
        finally:
            self._release(state)
            known = client if client in self.clients else "unknown"
            self.metrics.requests.labels(known, status).inc()
            if status == "200":
                self.metrics.latency.labels(known).observe(time.perf_counter() - started)

    def log_rows(self, table: str, client: str, rows: pa.Table) -> bool:
        """Impressions or engagements the caller reports. Engagements are logged on the day they
        happen (the serving day); impressions on the day of the request they show, which is
        the day before when a request served before a day's swap is reported after it."""
        if client not in self.clients:
            raise BadRequest(f"unknown client {client!r}; served: {', '.join(self.clients)}")
        today = self.state.day.isoformat()
        if table != "impressions":
            return self.landing.offer(table, today, client, rows)
        days = [request_day(r, today) for r in rows["request_id"].to_pylist()]
        accepted = True
        for day in sorted(set(days)):
            mask = pa.array([d == day for d in days])
            accepted &= self.landing.offer(table, day, client, rows.filter(mask))
        return accepted

    def close(self) -> None:
        self.landing.stop()
        if self._state is not None:
            close_state(self._state)


def new_request_id(client: str, day: date) -> str:
    """``client:day:hex``: unique, and naming the day its impressions belong to."""
    return f"{client}:{day.isoformat()}:{uuid.uuid4().hex}"


def request_day(request_id: str, today: str) -> str:
    """The serving day a request id of ``new_request_id`` names; ``today`` for any other id
    (a caller's own) and for a day after today."""
    parts = request_id.split(":")
    if len(parts) == 3:
        try:
            day = date.fromisoformat(parts[1]).isoformat()
        except ValueError:
            return today
        return min(day, today)
    return today


def _models(state: ServingState | None) -> dict[str, str]:
    return {} if state is None else {n: c.model_version for n, c in state.clients.items()}


def refresh_forever(
    service: Service, every_seconds: float, stop: threading.Event,
    report: Callable[[BaseException], None] = lambda error: log.exception("refresh failed"),
) -> None:  # fmt: skip
    """Check for a new graph day or champion every ``every_seconds`` until ``stop`` is set; a
    failed refresh keeps the current state (and is reported)."""
    while not stop.wait(every_seconds):
        try:
            service.refresh()
        except Exception as error:  # noqa: BLE001 — serve on with what is loaded
            report(error)
