"""Webhook delivery benchmark: modelyard against MLflow, from a registry change to its receipt.

modelyard and a real ``mlflow server`` run one after the other, each with one worker and a fresh
database of the same kind (a SQLite file, or with --backend postgres a fresh PostgreSQL
database). A receiver in this process (``http.server.ThreadingHTTPServer`` on 127.0.0.1, HTTP/1.1
keep-alive, answering 200 with an empty body) is subscribed through the official client
(``MlflowClient.create_webhook``, event ``model_version_tag.set``, with a secret). Every change is
a ``POST /api/2.0/mlflow/model-versions/set-tag`` sent raw with httpx, the same for both servers,
on version 1 of one registered model; each tag value is unique, so each delivery names the request
that caused it.

- set-tag latency: N sequential set-tag calls (after 10 warm-ups) before any webhook exists, then
  the same calls with the webhook subscribed (those of the next measure): p50 and p99 of the
  request itself, and the server's CPU per call. For reference, N ``registered-models/set-tag``
  calls, a comparable write that publishes no event on either server.
- event to receipt: N sequential set-tag calls (after 10 warm-ups), each waiting until its
  delivery has arrived: p50, p90, p99 and max of (receipt time - request start), and the server's
  CPU per event. modelyard delivers from its in-server worker (the default); MLflow from its
  in-process thread pool.
- throughput: a burst of M set-tag calls from 8 client threads (each thread its own tag key),
  nobody waiting, then the time until every delivery has arrived: deliveries/s from the start of
  the burst to the last receipt, the burst's own requests/s, how long deliveries went on after the
  burst, and the server's CPU per delivery (request and delivery together).
- separate workers (modelyard only): the same burst against a server run with
  MODELYARD_WORKER_IN_SERVER=false, so the events wait in the database; then 1 (and, on a fresh
  database, 2) ``modelyard worker`` processes start: time from their start to the first and the
  last receipt, deliveries/s, and the CPU of the worker processes.

Every delivery is checked with code written here, independently of either server: its
``X-MLflow-Signature`` must be ``v1,`` + base64 HMAC-SHA256 (keyed with the secret) of
``"{X-MLflow-Delivery-Id}.{X-MLflow-Timestamp}.{body}"`` with a timestamp within 300 s, its body
must be the ``model_version_tag.set`` event of the request (name, version, key, value), no
delivery id may arrive twice, and every value sent must arrive exactly once (and nothing else).
A failed check is shown in red and the target is then not met, however fast.

Targets for modelyard (1 worker): p50 event-to-receipt latency <= MLflow's, and deliveries/s
>= MLflow's. No exit code reflects them. MLflow's deliveries live in the memory of the process
that made the change (lost if it restarts, 3 retries within seconds); modelyard's are written to
the database in the change's transaction first.

MLflow is started with MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS=true and
MLFLOW_WEBHOOK_ALLOWED_SCHEMES=http,https (to reach the receiver on 127.0.0.1), a fixed
MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY, and MLFLOW_WEBHOOK_CACHE_TTL=2 (its per-process cache of the
webhook list, 60 s by default, would otherwise keep the empty list of the first measure for a
minute); modelyard with MODELYARD_WEBHOOK_ALLOWED_NETWORKS=127.0.0.1/32 and a fixed
MODELYARD_SECRET_KEY. Everything else is each server's default.

Run from the repository root:

    .venv/bin/python benchmarks/delivery.py                  # full, SQLite: about 2.5 minutes
    .venv/bin/python benchmarks/delivery.py --quick          # smaller sizes: about 2 minutes
    .venv/bin/python benchmarks/delivery.py --backend postgres --json results.json
    .venv/bin/python benchmarks/delivery.py --servers modelyard --worker-processes none --quick

With --backend postgres, MLflow needs psycopg2: psycopg2-binary is installed into this Python's
environment when it is missing.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, cast

# First: _harness sets the mlflow client's environment (CLIENT_ENV) before mlflow is imported.
from _harness import (
    HOST,
    Databases,
    LatencyResult,
    Measure,
    MlflowRest,
    Outcome,
    Result,
    Results,
    ServerProcess,
    StartupError,
    Target,
    add_pg_url_option,
    argument_parser,
    console,
    cpu_spent,
    ensure_psycopg2,
    fresh_databases,
    launch_server,
    machine_at_start,
    new_run,
    note_not_measured,
    parse_checking_servers,
    percentile,
    print_report,
    record_end_of_run,
    results_document,
    run_measures,
    server_command,
    stop,
    timed,
    tree_cpu_seconds,
    write_json,
)

# isort: split
import mlflow
import psycopg
from cryptography.fernet import Fernet
from rich.markup import escape

MODEL = "bench-model"
VERSION = "1"
EVENT = "model_version_tag.set"
SECRET = "bench-secret-4f1c2a9e"  # the webhook's signing secret
SIGNATURE_TOLERANCE_S = 300  # what MLflow's documented receivers accept
LATENCY_WAIT_S = 10.0  # a delivery not there by then is counted lost
LOST_IN_A_ROW = 3  # the latency measure stops after this many lost deliveries in a row
STALL_S = 30.0  # a burst's deliveries are given up after this long without a new one
DUPLICATE_GRACE_S = 1.0  # after the last expected delivery: a duplicate would arrive by now
MLFLOW_CACHE_TTL_S = 2
POLL_S = 0.01
MLFLOW_ENV = {
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_CACHE_TTL": str(MLFLOW_CACHE_TTL_S),
}
MODELYARD_ENV = {"MODELYARD_WEBHOOK_ALLOWED_NETWORKS": f"{HOST}/32"}
DURABILITY_NOTE = (
    "Durability differs: MLflow hands each delivery to a thread pool in the process that made the "
    "change, after the change is committed (lost if that process stops; 3 retries within "
    "seconds); modelyard writes the event in the change's own transaction and its deliveries "
    "and attempts to the database, so they survive a restart (8 attempts over minutes)."
)


@dataclass(frozen=True)
class Workload:
    latency_events: int
    burst: int
    burst_threads: int = 8
    warmups: int = 10


FULL = Workload(latency_events=300, burst=2000)
QUICK = Workload(latency_events=100, burst=500)


# --- the receiver -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One request the receiver got: when (perf_counter and wall clock), its headers, its body,
    and the tag value of its payload (None when the body is not such an event)."""

    at: float
    wall: float
    delivery_id: str
    timestamp: str
    signature: str
    attempt: str
    body: bytes
    value: str | None


def tag_value(body: bytes) -> str | None:
    try:
        value = json.loads(body)["data"]["value"]
    except (ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


class Receiver:
    """Records every request it gets; a tag value's phase is its prefix before ``:``."""

    def __init__(self) -> None:
        self.arrivals: list[Arrival] = []
        self.first_seen: dict[str, float] = {}  # the first receipt of each tag value
        self.counts: Counter[str] = Counter()  # distinct values received, by phase
        self._changed = threading.Condition()
        self._server: _Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://{HOST}:{self._server.server_address[1]}/hook"

    def start(self) -> Receiver:
        self._server = _Server((HOST, 0), _Handler)
        self._server.receiver = self
        threading.Thread(target=self._server.serve_forever, name="receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def record(self, at: float, wall: float, headers: Message, body: bytes) -> None:
        value = tag_value(body)
        arrival = Arrival(
            at,
            wall,
            headers.get("X-MLflow-Delivery-Id", ""),
            headers.get("X-MLflow-Timestamp", ""),
            headers.get("X-MLflow-Signature", ""),
            headers.get("X-Modelyard-Attempt", ""),
            body,
            value,
        )
        with self._changed:
            self.arrivals.append(arrival)
            if value is not None and value not in self.first_seen:
                self.first_seen[value] = at
                self.counts[value.split(":", 1)[0]] += 1
            self._changed.notify_all()

    def wait_for(self, value: str, timeout: float) -> float | None:
        """The receipt time of ``value``, or None when it has not arrived within ``timeout``."""
        with self._changed:
            self._changed.wait_for(lambda: value in self.first_seen, timeout)
            return self.first_seen.get(value)

    def wait_for_phase(
        self, phase: str, count: int, on_first: Callable[[], None] | None = None
    ) -> bool:
        """Until ``count`` distinct values of ``phase`` have arrived (True), or none has for
        ``STALL_S`` (False). ``on_first`` runs when the first one is seen."""
        seen, progress_at = 0, time.monotonic()
        while seen < count:
            time.sleep(POLL_S)
            now_seen = self.counts[phase]
            if now_seen and not seen and on_first is not None:
                on_first()
            if now_seen > seen:
                seen, progress_at = now_seen, time.monotonic()
            elif time.monotonic() - progress_at > STALL_S:
                return False
        return True

    def since(self, start: int) -> list[Arrival]:
        with self._changed:
            return self.arrivals[start:]

    def mark(self) -> int:
        """Where the next arrival will be: the start of a phase's slice of the arrivals."""
        with self._changed:
            return len(self.arrivals)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the delivering servers open up to 10 connections at once
    receiver: Receiver


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as both servers' HTTP clients expect
    timeout = 120  # an idle kept-alive connection's thread ends after this

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at, wall = time.perf_counter(), time.time()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        cast(_Server, self.server).receiver.record(at, wall, self.headers, body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


# --- checking every delivery --------------------------------------------------------------------


def signature_ok(secret: str, arrival: Arrival) -> bool:
    """MLflow's recipe, written here independently of both servers: ``v1,`` then the base64
    HMAC-SHA256, keyed with the secret, of ``{delivery id}.{timestamp}.{body}``; a timestamp
    more than 300 s from the receipt is refused, as MLflow's documented receivers do."""
    try:
        sent_at = int(arrival.timestamp)
        signed = f"{arrival.delivery_id}.{arrival.timestamp}.{arrival.body.decode()}"
    except (ValueError, UnicodeDecodeError):
        return False
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    fresh = abs(arrival.wall - sent_at) <= SIGNATURE_TOLERANCE_S
    return fresh and hmac.compare_digest(expected.encode(), arrival.signature.encode())


def payload_ok(arrival: Arrival, key: str) -> bool:
    """The body is the ``model_version_tag.set`` event of the request that set this value."""
    try:
        document = json.loads(arrival.body)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    data = {"name": MODEL, "version": VERSION, "key": key, "value": arrival.value}
    return bool(
        document.get("entity") == "model_version_tag"
        and document.get("action") == "set"
        and document.get("data") == data
    )


@dataclass
class Checks:
    """What arrived in one measure against what was sent (``expected``: tag value to key)."""

    expected: int
    received: int
    bad_signatures: int = 0
    wrong_payloads: int = 0
    duplicate_ids: int = 0
    repeated_values: int = 0
    missing: int = 0
    unexpected: int = 0
    retried: int = 0  # arrivals with X-Modelyard-Attempt > 1 (not a failure by itself)
    examples: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not (
            self.bad_signatures
            or self.wrong_payloads
            or self.duplicate_ids
            or self.repeated_values
            or self.missing
            or self.unexpected
        )

    def cell(self) -> str:
        if self.ok():
            retried = f", {self.retried} retried" if self.retried else ""
            return f"all {self.expected:,} once, signed{retried}"
        problems = {
            "bad signatures": self.bad_signatures,
            "wrong payloads": self.wrong_payloads,
            "duplicate ids": self.duplicate_ids,
            "values twice": self.repeated_values,
            "missing": self.missing,
            "unexpected": self.unexpected,
        }
        return "[red]" + ", ".join(f"{n:,} {what}" for what, n in problems.items() if n)


def check(
    arrivals: Sequence[Arrival],
    expected: Mapping[str, str],
    secret: str,
    uncertain: frozenset[str] = frozenset(),
) -> Checks:
    """Every arrival of a measure's slice; ``uncertain`` values (their request failed) may
    arrive once or not at all."""
    checks = Checks(expected=len(expected), received=len(arrivals))

    def problem(counter: str, text: str) -> None:
        setattr(checks, counter, getattr(checks, counter) + 1)
        if len(checks.examples) < 5:
            checks.examples.append(text)

    ids = Counter(arrival.delivery_id for arrival in arrivals)
    values = Counter(arrival.value for arrival in arrivals)
    for arrival in arrivals:
        label = f"delivery {arrival.delivery_id or '(no id)'} value {arrival.value!r}"
        if not signature_ok(secret, arrival):
            problem("bad_signatures", f"{label}: signature {arrival.signature!r} does not verify")
        if arrival.value is not None and arrival.value in expected:
            if not payload_ok(arrival, expected[arrival.value]):
                problem("wrong_payloads", f"{label}: body {arrival.body[:200]!r}")
        elif arrival.value not in uncertain:
            problem("unexpected", f"{label}: not sent in this measure, body {arrival.body[:200]!r}")
        if arrival.attempt not in ("", "1"):
            checks.retried += 1
    for delivery_id, count in ids.items():
        if count > 1:
            for _ in range(count - 1):
                problem("duplicate_ids", f"delivery id {delivery_id} arrived {count} times")
    for value, count in values.items():
        distinct = {a.delivery_id for a in arrivals if a.value == value}
        if count > 1 and len(distinct) > 1:
            problem("repeated_values", f"value {value!r} arrived under {len(distinct)} ids")
    for value in expected:
        if value not in values:
            problem("missing", f"value {value!r} never arrived")
    return checks


def report_checks(label: str, checks: Checks) -> None:
    for example in checks.examples:
        console.print(f"[red]{escape(label)}: {escape(example)}")


# --- results ------------------------------------------------------------------------------------


@dataclass
class SetTagResult(LatencyResult):
    """The set-tag request itself: ``p50_ms`` with the webhook subscribed, ``plain_*`` before
    any webhook existed, ``reference_*`` a registered-model tag (no event on either server)."""

    server: str
    calls: int
    plain_p50_ms: float
    plain_p99_ms: float
    p50_ms: float
    p99_ms: float
    reference_p50_ms: float
    plain_server_cpu_ms_per_call: float
    reference_server_cpu_ms_per_call: float

    def columns(self) -> dict[str, str]:
        return {
            "p50 ms, no webhook": f"{self.plain_p50_ms:.2f}",
            "p99 ms, no webhook": f"{self.plain_p99_ms:.2f}",
            "p50 ms, webhook": f"{self.p50_ms:.2f}",
            "p99 ms, webhook": f"{self.p99_ms:.2f}",
            "server CPU ms/call, no webhook": f"{self.plain_server_cpu_ms_per_call:.2f}",
            "model tag p50 ms": f"{self.reference_p50_ms:.2f}",
            "model tag server CPU ms/call": f"{self.reference_server_cpu_ms_per_call:.2f}",
        }


@dataclass
class ReceiptResult(LatencyResult):
    server: str
    events: int
    received: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    request_p50_ms: float
    server_cpu_ms_per_event: float
    checks: Checks

    def answers_right(self) -> bool:
        return self.checks.ok()

    def columns(self) -> dict[str, str]:
        return {
            "p50 ms": f"{self.p50_ms:.2f}",
            "p90 ms": f"{self.p90_ms:.2f}",
            "p99 ms": f"{self.p99_ms:.2f}",
            "max ms": f"{self.max_ms:.1f}",
            "request p50 ms": f"{self.request_p50_ms:.2f}",
            "server CPU ms/event": f"{self.server_cpu_ms_per_event:.2f}",
            "checks": self.checks.cell(),
        }


@dataclass
class ThroughputResult(Result):
    server: str
    deliveries: int
    threads: int
    http_errors: int
    seconds: float  # from the start of the burst to the last receipt
    deliveries_per_s: float
    burst_seconds: float
    requests_per_s: float
    after_burst_s: float  # from the end of the burst to the last receipt
    server_cpu_ms_per_delivery: float
    client_cpu_ms_per_delivery: float  # this process: the client threads and the receiver
    checks: Checks
    HIGHER_IS_BETTER: ClassVar = True

    def headline(self) -> float:
        return self.deliveries_per_s

    def answers_right(self) -> bool:
        return self.checks.ok()

    def columns(self) -> dict[str, str]:
        errors = f"[red]{self.http_errors}" if self.http_errors else "0"
        return {
            "deliveries/s": f"{self.deliveries_per_s:,.0f}",
            "all delivered s": f"{self.seconds:.2f}",
            "burst requests/s": f"{self.requests_per_s:,.0f}",
            "after the burst s": f"{self.after_burst_s:.2f}",
            "server CPU ms/delivery": f"{self.server_cpu_ms_per_delivery:.2f}",
            "HTTP errors": errors,
            "checks": self.checks.cell(),
        }


@dataclass
class WorkersResult(Result):
    server: str
    worker_processes: int
    deliveries: int
    burst_requests_per_s: float
    burst_server_cpu_ms_per_request: float
    delivered_before_workers: int
    first_receipt_s: float  # from the workers' start
    seconds: float  # from the workers' start to the last receipt
    deliveries_per_s: float
    steady_deliveries_per_s: float  # from the first receipt to the last
    worker_cpu_s: float
    worker_cpu_ms_per_delivery: float
    worker_cpu_ms_per_delivery_after_first: float
    server_cpu_s: float  # while the workers delivered
    checks: Checks
    HIGHER_IS_BETTER: ClassVar = True

    def headline(self) -> float:
        return self.deliveries_per_s

    def answers_right(self) -> bool:
        return self.checks.ok() and not self.delivered_before_workers

    def columns(self) -> dict[str, str]:
        early = self.delivered_before_workers
        return {
            "deliveries/s": f"{self.deliveries_per_s:,.0f}",
            "first receipt s": f"{self.first_receipt_s:.2f}",
            "all delivered s": f"{self.seconds:.2f}",
            "/s after the first": f"{self.steady_deliveries_per_s:,.0f}",
            "worker CPU s": f"{self.worker_cpu_s:.2f}",
            "worker CPU ms/delivery": f"{self.worker_cpu_ms_per_delivery:.2f}",
            "after the first": f"{self.worker_cpu_ms_per_delivery_after_first:.2f}",
            "burst requests/s": f"{self.burst_requests_per_s:,.0f}",
            "checks": self.checks.cell() + (f" [red]{early} before the workers" if early else ""),
        }


MEASURES = (
    Measure(
        "event_to_receipt",
        "event to receipt, one set-tag at a time waiting for its delivery (ratio on p50)",
        Target("p50 <= MLflow's", speedup=1),
    ),
    Measure(
        "set_tag",
        "the set-tag request itself, without and with a webhook subscribed (ratio on p50 with)",
        Target("none"),
    ),
    Measure(
        "throughput",
        "throughput: a burst of set-tag calls, then until every delivery has arrived",
        Target(">= MLflow", speedup=1),
    ),
    Measure(
        "separate_workers",
        "modelyard with MODELYARD_WORKER_IN_SERVER=false: `modelyard worker` processes started "
        "after the burst",
        Target("none"),
    ),
)


# --- servers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryServer:
    """modelyard or MLflow with one worker; ``worker_processes`` > 0: modelyard with its
    in-server worker off and that many ``modelyard worker`` processes delivering."""

    key: str
    label: str
    product: str
    worker_processes: int = 0

    @property
    def workers(self) -> int:
        return 1

    def command(self, port: int, backend_store_uri: str, artifacts_destination: str) -> list[str]:
        return server_command(self.product, port, backend_store_uri, artifacts_destination, 1)

    def env(self, fernet_key: str) -> dict[str, str]:
        if self.product == "mlflow":
            return {**MLFLOW_ENV, "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": fernet_key}
        env = {**MODELYARD_ENV, "MODELYARD_SECRET_KEY": fernet_key}
        if self.worker_processes:
            env["MODELYARD_WORKER_IN_SERVER"] = "false"
        return env


MODELYARD = DeliveryServer("modelyard", "modelyard (1 worker)", "modelyard")
MLFLOW = DeliveryServer("mlflow", "MLflow (1 worker)", "mlflow")
SERVERS = {"modelyard": MODELYARD, "mlflow": MLFLOW}


def separate_workers(count: int) -> DeliveryServer:
    plural = "process" if count == 1 else "processes"
    label = f"modelyard + {count} worker {plural}"
    return DeliveryServer(f"modelyard-{count}-worker", label, "modelyard", count)


# --- REST calls made without the mlflow client ------------------------------------------------


class Rest(MlflowRest):
    def set_tag(self, key: str, value: str) -> None:
        self.post(
            "/model-versions/set-tag",
            {"name": MODEL, "version": VERSION, "key": key, "value": value},
        )

    def try_set_tag(self, key: str, value: str) -> bool:
        body = {"name": MODEL, "version": VERSION, "key": key, "value": value}
        return self.http.post("/model-versions/set-tag", json=body).status_code == 200

    def set_model_tag(self, key: str, value: str) -> None:
        self.post("/registered-models/set-tag", {"name": MODEL, "key": key, "value": value})


# --- measures -----------------------------------------------------------------------------------


@dataclass
class Session:
    """One server under test, its receiver, and what was set up on it."""

    config: DeliveryServer
    server: ServerProcess
    client: mlflow.MlflowClient
    rest: Rest
    receiver: Receiver
    w: Workload
    database_uri: str
    workdir: Path
    fernet_key: str
    has_model: bool = False
    has_webhook: bool = False
    plain: list[float] = field(default_factory=list)
    plain_cpu_ms: float = 0.0
    reference: list[float] = field(default_factory=list)
    reference_cpu_ms: float = 0.0
    with_webhook: list[float] = field(default_factory=list)

    def ensure_model(self) -> None:
        """A registered model with version 1 (an ``s3://`` source and a real run: no storage
        is touched)."""
        if not self.has_model:
            run_id = new_run(self.client, "delivery-bench")
            self.rest.post("/registered-models/create", {"name": MODEL})
            body = {"name": MODEL, "source": "s3://bench/model", "run_id": run_id}
            self.rest.post("/model-versions/create", body)
            self.has_model = True

    def ensure_webhook(self) -> None:
        if not self.has_webhook:
            self.client.create_webhook(
                name="delivery-bench", url=self.receiver.url, events=[EVENT], secret=SECRET
            )
            self.has_webhook = True
            if self.config.product == "mlflow":
                time.sleep(MLFLOW_CACHE_TTL_S + 0.5)  # its cached empty list runs out


def counter() -> Callable[[], int]:
    numbers = iter(range(1_000_000_000))
    return functools.partial(next, numbers)


def measure_event_to_receipt(s: Session) -> ReceiptResult:
    """Set-tag calls before the webhook exists (for the set_tag measure), then with it, each
    waiting for its delivery."""
    w, rest, receiver = s.w, s.rest, s.receiver
    s.ensure_model()
    start = receiver.mark()
    plain = counter()
    with cpu_spent(s.server) as cpu:
        s.plain = timed(
            lambda: rest.set_tag("plain", f"plain:{plain()}"), w.latency_events, w.warmups
        )
    s.plain_cpu_ms = 1000 * cpu.server / (w.latency_events + w.warmups)
    s.ensure_webhook()
    expected: dict[str, str] = {}
    for i in range(w.warmups):
        expected[f"warmup:{i}"] = "latency"
        rest.set_tag("latency", f"warmup:{i}")
        receiver.wait_for(f"warmup:{i}", LATENCY_WAIT_S)
    requests, receipts, lost_in_a_row = [], [], 0
    with cpu_spent(s.server) as cpu:
        for i in range(w.latency_events):
            value = f"latency:{i}"
            expected[value] = "latency"
            before = time.perf_counter()
            rest.set_tag("latency", value)
            requests.append(time.perf_counter() - before)
            received = receiver.wait_for(value, LATENCY_WAIT_S)
            if received is None:
                lost_in_a_row += 1
                console.print(f"[red]{s.config.label}: {value} not delivered in {LATENCY_WAIT_S} s")
                if lost_in_a_row >= LOST_IN_A_ROW:
                    raise RuntimeError(f"{LOST_IN_A_ROW} deliveries in a row did not arrive")
                continue
            lost_in_a_row = 0
            receipts.append(received - before)
    s.with_webhook = requests
    time.sleep(DUPLICATE_GRACE_S)
    checks = check(receiver.since(start), expected, SECRET)
    report_checks(s.config.label, checks)
    return ReceiptResult(
        server=s.config.key,
        events=w.latency_events,
        received=len(receipts),
        p50_ms=1000 * percentile(receipts, 0.5),
        p90_ms=1000 * percentile(receipts, 0.9),
        p99_ms=1000 * percentile(receipts, 0.99),
        max_ms=1000 * max(receipts),
        request_p50_ms=1000 * percentile(requests, 0.5),
        server_cpu_ms_per_event=1000 * cpu.server / w.latency_events,
        checks=checks,
    )


def measure_set_tag(s: Session) -> SetTagResult:
    """The set-tag latencies of the previous measure, and the registered-model tag reference."""
    if not s.plain or not s.with_webhook:
        raise RuntimeError("the event-to-receipt measure did not get far enough")
    reference = counter()
    with cpu_spent(s.server) as cpu:
        s.reference = timed(
            lambda: s.rest.set_model_tag("reference", f"v{reference()}"),
            s.w.latency_events,
            s.w.warmups,
        )
    return SetTagResult(
        server=s.config.key,
        calls=s.w.latency_events,
        plain_p50_ms=1000 * percentile(s.plain, 0.5),
        plain_p99_ms=1000 * percentile(s.plain, 0.99),
        p50_ms=1000 * percentile(s.with_webhook, 0.5),
        p99_ms=1000 * percentile(s.with_webhook, 0.99),
        reference_p50_ms=1000 * percentile(s.reference, 0.5),
        plain_server_cpu_ms_per_call=s.plain_cpu_ms,
        reference_server_cpu_ms_per_call=1000 * cpu.server / (s.w.latency_events + s.w.warmups),
    )


@dataclass
class Burst:
    expected: dict[str, str]  # tag value to key, for the requests that succeeded
    failed: frozenset[str]  # values whose request did not answer 200
    started: float
    seconds: float


def burst(s: Session, phase: str) -> Burst:
    """``w.burst`` set-tag calls from ``w.burst_threads`` threads, each with its own key."""
    w = s.w
    failed: list[str] = []

    def send(thread: int) -> None:
        for i in range(thread, w.burst, w.burst_threads):
            if not s.rest.try_set_tag(f"{phase}-{thread}", f"{phase}:{i}"):
                failed.append(f"{phase}:{i}")

    started = time.perf_counter()
    with ThreadPoolExecutor(w.burst_threads) as pool:
        list(pool.map(send, range(w.burst_threads)))
    seconds = time.perf_counter() - started
    expected = {
        f"{phase}:{i}": f"{phase}-{i % w.burst_threads}"
        for i in range(w.burst)
        if f"{phase}:{i}" not in failed
    }
    return Burst(expected, frozenset(failed), started, seconds)


def last_receipt(receiver: Receiver, values: Sequence[str]) -> float:
    return max(receiver.first_seen[v] for v in values if v in receiver.first_seen)


def measure_throughput(s: Session) -> ThroughputResult:
    w, receiver = s.w, s.receiver
    s.ensure_model()
    s.ensure_webhook()
    start = receiver.mark()
    with cpu_spent(s.server) as cpu:
        sent = burst(s, "burst")
        complete = receiver.wait_for_phase("burst", len(sent.expected))
    if not complete:
        console.print(f"[red]{s.config.label}: deliveries stopped arriving for {STALL_S:.0f} s")
    time.sleep(DUPLICATE_GRACE_S)
    checks = check(receiver.since(start), sent.expected, SECRET, sent.failed)
    report_checks(s.config.label, checks)
    seconds = last_receipt(receiver, list(sent.expected)) - sent.started
    return ThroughputResult(
        server=s.config.key,
        deliveries=len(sent.expected),
        threads=w.burst_threads,
        http_errors=len(sent.failed),
        seconds=seconds,
        deliveries_per_s=receiver.counts["burst"] / seconds,
        burst_seconds=sent.seconds,
        requests_per_s=w.burst / sent.seconds,
        after_burst_s=max(0.0, seconds - sent.seconds),
        server_cpu_ms_per_delivery=1000 * cpu.server / max(1, len(sent.expected)),
        client_cpu_ms_per_delivery=1000 * cpu.client / max(1, len(sent.expected)),
        checks=checks,
    )


@contextlib.contextmanager
def worker_processes(s: Session, count: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``modelyard worker`` processes on the session's database, each in its own
    process group, stopped (the whole group) on the way out."""
    env = {**os.environ, **s.config.env(s.fernet_key)}
    started: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(count):
            command = [
                sys.executable, "-m", "modelyard", "worker", "--name", f"bench-worker-{i}",
                "--backend-store-uri", s.database_uri,
            ]  # fmt: skip
            with (s.workdir / f"worker-{i}.log").open("wb") as log:  # the child keeps its copy
                started.append(
                    subprocess.Popen(
                        command,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL,
                        start_new_session=True,
                        env=env,
                    )
                )
        yield started
    finally:
        for process in started:
            stop(process)


def workers_cpu(processes: Sequence[subprocess.Popen[bytes]]) -> float:
    return sum(tree_cpu_seconds(p.pid) for p in processes)


def measure_separate_workers(s: Session) -> WorkersResult:
    """The burst with no worker running, then ``worker_processes`` workers started."""
    count, receiver = s.config.worker_processes, s.receiver
    s.ensure_model()
    s.ensure_webhook()
    start = receiver.mark()
    with cpu_spent(s.server) as burst_cpu:
        sent = burst(s, "queued")
    time.sleep(DUPLICATE_GRACE_S)
    before_workers = receiver.counts["queued"]
    at_first: list[float] = []
    with worker_processes(s, count) as processes:
        started = time.perf_counter()
        server_before = s.server.cpu_seconds()

        def first_seen() -> None:
            at_first.append(workers_cpu(processes))

        complete = receiver.wait_for_phase("queued", len(sent.expected), first_seen)
        server_cpu = s.server.cpu_seconds() - server_before
        time.sleep(DUPLICATE_GRACE_S)
        exited = [p.args for p in processes if p.poll() is not None]
        worker_cpu = workers_cpu(processes)
    if exited:
        raise RuntimeError(f"a worker exited while delivering: {exited}")
    if not complete:
        console.print(f"[red]{s.config.label}: deliveries stopped arriving for {STALL_S:.0f} s")
    checks = check(receiver.since(start), sent.expected, SECRET, sent.failed)
    report_checks(s.config.label, checks)
    values = [v for v in sent.expected if v in receiver.first_seen]
    first = min(receiver.first_seen[v] for v in values) - started
    seconds = last_receipt(receiver, values) - started
    delivered = receiver.counts["queued"]
    after_first = (worker_cpu - at_first[0]) if at_first else worker_cpu
    return WorkersResult(
        server=s.config.key,
        worker_processes=count,
        deliveries=len(sent.expected),
        burst_requests_per_s=s.w.burst / sent.seconds,
        burst_server_cpu_ms_per_request=1000 * burst_cpu.server / s.w.burst,
        delivered_before_workers=before_workers,
        first_receipt_s=first,
        seconds=seconds,
        deliveries_per_s=delivered / seconds,
        steady_deliveries_per_s=(delivered - 1) / max(1e-9, seconds - first),
        worker_cpu_s=worker_cpu,
        worker_cpu_ms_per_delivery=1000 * worker_cpu / max(1, delivered),
        worker_cpu_ms_per_delivery_after_first=1000 * after_first / max(1, delivered - 1),
        server_cpu_s=server_cpu,
        checks=checks,
    )


IN_SERVER_PHASES: tuple[tuple[str, Callable[[Session], Outcome]], ...] = (
    ("event_to_receipt", measure_event_to_receipt),
    ("set_tag", measure_set_tag),
    ("throughput", measure_throughput),
)
SEPARATE_WORKER_PHASES: tuple[tuple[str, Callable[[Session], Outcome]], ...] = (
    ("separate_workers", measure_separate_workers),
)


# --- orchestration ------------------------------------------------------------------------------


def late_arrivals(s: Session, start: int) -> None:
    """Whatever arrived after the last measure's checks: nothing should have."""
    late = s.receiver.since(start)
    if late:
        values = ", ".join(repr(a.value) for a in late[:5])
        console.print(f"[red]{s.config.label}: {len(late)} deliveries arrived late: {values}")


def benchmark_server(
    config: DeliveryServer,
    databases: Databases,
    workdir: Path,
    w: Workload,
    results: Results,
    fernet_key: str,
) -> None:
    workdir.mkdir()
    receiver = Receiver().start()
    try:
        database_uri = databases.uri(config, workdir)
        env = config.env(fernet_key)
        artifacts = str(workdir / "artifacts")
        with launch_server(config, database_uri, artifacts, workdir, env) as server:
            client = mlflow.MlflowClient(tracking_uri=server.url, registry_uri=server.url)
            rest = Rest(server.url, max_connections=w.burst_threads)
            session = Session(
                config, server, client, rest, receiver, w, database_uri, workdir, fernet_key
            )
            phases = SEPARATE_WORKER_PHASES if config.worker_processes else IN_SERVER_PHASES
            with contextlib.closing(rest):
                steps = [(measure, functools.partial(run, session)) for measure, run in phases]
                run_measures(config, server, steps, results)
                end = receiver.mark()
                time.sleep(DUPLICATE_GRACE_S)
                late_arrivals(session, end)
    except (StartupError, psycopg.Error, OSError) as exc:
        note_not_measured(results, config.label, exc)
    finally:
        receiver.stop()


def server_configs(
    selected: list[str], worker_counts: list[int], backend: str, results: Results
) -> list[DeliveryServer]:
    configs = []
    for key in selected:
        if key == "mlflow" and backend == "postgres" and not ensure_psycopg2(results.notes):
            continue
        configs.append(SERVERS[key])
    return configs + [separate_workers(count) for count in worker_counts]


def source_state() -> str:
    """The commit measured, and whether src/ had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} + uncommitted changes to {len(changed)} files in src/" if changed else commit


# --- report -------------------------------------------------------------------------------------


def measure_titles(w: Workload) -> dict[str, str]:
    sizes = {
        "event_to_receipt": f"{w.latency_events} events after {w.warmups} warm-up",
        "set_tag": f"{w.latency_events} calls each",
        "throughput": f"{w.burst:,} set-tag calls from {w.burst_threads} threads",
        "separate_workers": f"{w.burst:,} queued deliveries, a fresh database each",
    }
    return {measure.key: f"{measure.title} ({sizes[measure.key]})" for measure in MEASURES}


TARGETS_NOTE = (
    "A target is not met when a check failed (a signature that does not verify, a wrong body, "
    "a delivery id twice, a value missing, twice or unexpected), however fast. No ceiling: the "
    "client does not bound these figures."
)


# --- main ---------------------------------------------------------------------------------------


def parse_worker_counts(parser: argparse.ArgumentParser, text: str) -> list[int]:
    if text in ("", "none", "0"):
        return []
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        parser.error(f"--worker-processes: not a list of numbers: {text}")
    if any(count < 1 for count in counts):
        parser.error("--worker-processes: counts start at 1")
    return list(dict.fromkeys(counts))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argument_parser(__doc__, "delivery.py")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about 2 minutes")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--servers", default="modelyard,mlflow", help="comma-separated subset of modelyard,mlflow"
    )
    parser.add_argument(
        "--worker-processes",
        default="1,2",
        help="`modelyard worker` process counts measured with MODELYARD_WORKER_IN_SERVER=false, "
        "comma-separated; 'none' skips them",
    )
    add_pg_url_option(parser)
    args = parse_checking_servers(parser, argv, SERVERS)
    args.worker_counts = parse_worker_counts(parser, args.worker_processes)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workload = QUICK if args.quick else FULL
    results = Results()
    databases = fresh_databases(args.backend, args.pg_url, name_prefix="bench_delivery")
    root = Path(tempfile.mkdtemp(prefix="modelyard-delivery-bench-"))
    fernet_key = Fernet.generate_key().decode()
    started = time.perf_counter()
    try:
        info = machine_at_start(
            {"backend": databases.describe(), "modelyard source": source_state()}
        )
        selected = list(dict.fromkeys(args.servers.split(",")))
        configs = server_configs(selected, args.worker_counts, args.backend, results)
        for config in configs:
            benchmark_server(config, databases, root / config.key, workload, results, fernet_key)
    finally:
        databases.close()
        shutil.rmtree(root, ignore_errors=True)
    results.notes.append(DURABILITY_NOTE)
    record_end_of_run(info, started)
    titles = measure_titles(workload)
    print_report(info, results, MEASURES, configs, titles, TARGETS_NOTE, errors_below_table=True)
    if args.json:
        document = results_document(info, asdict(workload), configs, results, MEASURES)
        write_json(args.json, document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
