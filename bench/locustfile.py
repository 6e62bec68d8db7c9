"""Locust scenarios for server-layers (BENCH §1); usable on its own:

    locust -f bench/locustfile.py --host http://127.0.0.1:8000            # web UI, pick a user class
    locust -f bench/locustfile.py --host http://127.0.0.1:8000 --headless -u 8 -r 8 -t 10s PlaintextUser

Every response is checked: a wrong answer is a failure, not throughput. Every
response time of a correct answer also goes into an HDR histogram (microseconds);
with $SERVER_LAYERS_RECORD_DIR set, the counts and the histogram are written
there when Locust quits (a master merges its workers' first).

With $SERVER_LAYERS_TARGETS and $SERVER_LAYERS_PHASES set (one process, no workers),
the run is multiplexed: the users pace each target in turn, phase by phase
(bench.scenarios.phase_target), from SETTLE_S after the last user was spawned; each
request is counted, with its latency, in the phase it started in, and Locust quits
after the last phase. Never import this module in a server's process: locust
monkey-patches the standard library.
"""

import json
import os
import random
import secrets
import time

import gevent
from hdrh.histogram import HdrHistogram
from locust import FastHttpUser, constant, constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.runners import WorkerRunner

from bench.scenarios import GUARD_S, PHASES_ENV, RATE_ENV, RECORD_ENV, SCENARIOS, TARGETS_ENV, phase_target

HISTOGRAM = HdrHistogram(1, 60_000_000, 3)  # 1 µs .. 60 s, 3 significant digits
COUNTS = {"requests": 0, "failures": 0}  # every request this process saw (Locust's CSV can lag behind)
REPORT_KEY = "server_layers"
SETTLE_S = 0.5  # after the last user is spawned, before the first phase
TARGETS = os.environ.get(TARGETS_ENV, "").split()
PHASE_S, ROUNDS = (float(v) for v in os.environ[PHASES_ENV].split(",")) if os.environ.get(PHASES_ENV) else (0, 0)
PHASE_COUNT = int(ROUNDS + 1) * len(TARGETS)  # the warm-up round, then ROUNDS
SPREAD_S = 1 / float(os.environ[RATE_ENV]) if os.environ.get(RATE_ENV) else 0.0  # one pacing interval
SCHEDULE = {"start": None}  # wall-clock time phase 0 starts
PHASES: dict[int, dict] = {}  # phase -> {"requests", "failures", "histogram"}


@events.request.add_listener
def record(response_time, exception, start_time=None, **_):
    COUNTS["requests"] += 1
    phase = phase_of(start_time)
    if phase is not None:
        counts = PHASES.setdefault(phase, {"requests": 0, "failures": 0, "histogram": HdrHistogram(1, 60_000_000, 3)})
        counts["requests"] += 1
    if exception is None:
        HISTOGRAM.record_value(max(1, round(response_time * 1000)))
        if phase is not None:
            counts["histogram"].record_value(max(1, round(response_time * 1000)))
    else:
        COUNTS["failures"] += 1
        if phase is not None:
            counts["failures"] += 1


def phase_of(when: float | None) -> int | None:
    """The multiplexed phase a request that started at `when` belongs to; None outside the phases."""
    if SCHEDULE["start"] is None or when is None or when < SCHEDULE["start"]:
        return None
    phase = int((when - SCHEDULE["start"]) // PHASE_S)
    return phase if phase < PHASE_COUNT else None


@events.spawning_complete.add_listener
def start_phases(**_):
    """Once every user runs: phase 0 starts SETTLE_S later, and Locust quits after the last phase."""
    if TARGETS and SCHEDULE["start"] is None:
        SCHEDULE["start"] = time.time() + SETTLE_S
        runner = ENVIRONMENT["runner"]
        gevent.spawn_later(SETTLE_S + PHASE_COUNT * PHASE_S + GUARD_S, runner.quit)


ENVIRONMENT = {"runner": None}


@events.init.add_listener
def keep_runner(environment, **_):
    ENVIRONMENT["runner"] = environment.runner


@events.report_to_master.add_listener
def send_to_master(client_id, data, **_):
    """A worker ships what it recorded since its last report (every few seconds, and a last time at stop)."""
    data[REPORT_KEY] = {**COUNTS, "histogram": HISTOGRAM.encode().decode("ascii")}
    HISTOGRAM.reset()
    COUNTS.update(requests=0, failures=0)


@events.worker_report.add_listener
def collect_from_worker(client_id, data, **_):
    """The master merges every worker's counts and histograms, local or remote alike."""
    report = data.get(REPORT_KEY)
    if report:
        HISTOGRAM.decode_and_add(report["histogram"])
        COUNTS["requests"] += report["requests"]
        COUNTS["failures"] += report["failures"]


@events.quitting.add_listener
def dump(environment, **_):
    """The standalone process or the master writes the whole record for the runner."""
    folder = os.environ.get(RECORD_ENV)
    if folder and not isinstance(environment.runner, WorkerRunner):
        record = {**COUNTS, "histogram": HISTOGRAM.encode().decode("ascii"), "start": SCHEDULE["start"],
                  "phases": {phase: {**counts, "histogram": counts["histogram"].encode().decode("ascii")}
                             for phase, counts in PHASES.items()}}
        with open(os.path.join(folder, f"record-{os.getpid()}.json"), "w") as file:
            json.dump(record, file)


def session_like(base_url: str, user) -> FastHttpSession:
    """A client like the user's own (FastHttpUser.__init__), for another target."""
    return FastHttpSession(base_url=base_url, request_event=user.environment.events.request, user=user, network_timeout=user.network_timeout,
                           connection_timeout=user.connection_timeout, max_redirects=user.max_redirects,
                           max_retries=user.max_retries, insecure=user.insecure, concurrency=user.concurrency,
                           client_pool=user.client_pool, ssl_context_factory=user.ssl_context_factory,
                           headers=user.default_headers, proxy_host=user.proxy_host, proxy_port=user.proxy_port)


def pacing(scenario: str):
    """constant(0) unless the runner asks for a fixed request rate per user."""
    rate = os.environ.get(RATE_ENV)
    if not rate:
        return constant(0)
    return constant_throughput(float(rate) / SCENARIOS[scenario][1])


def expect(response, status: int, check) -> None:
    """Fail the request unless it has `status` and `check(response)` holds."""
    if response.status_code != status:
        response.failure(f"status {response.status_code}, expected {status}")
    elif not check(response):
        response.failure("wrong content")
    else:
        response.success()


class Checks:
    """The scenario steps, each validating its answer; in a multiplexed run, each aimed at the
    phase's target first."""

    clients: list = []

    def on_start(self) -> None:
        """A multiplexed run gets a client (keep-alive connections) per target."""
        self.clients = [session_like(url, self) for url in TARGETS]
        self.warming = 0

    def aim(self) -> None:
        """Point self.client at the current phase's target; wait out a phase's guard; before the first
        phase, take the targets in turn so every connection is open when the phases start."""
        if not self.clients:
            return
        while True:
            start, now = SCHEDULE["start"], time.time()
            if start is None or now < start:
                self.warming = (self.warming + 1) % len(self.clients)
                self.client = self.clients[self.warming]
                return
            phase, into = divmod(now - start, PHASE_S)
            if phase >= PHASE_COUNT:
                gevent.sleep(1)  # the run is over; Locust quits
            elif into > PHASE_S - GUARD_S:  # wake a little after the next phase starts, users apart
                gevent.sleep(PHASE_S - into + random.uniform(0, SPREAD_S))
            else:
                self.client = self.clients[phase_target(int(phase), len(self.clients))[1]]
                return

    def plaintext(self) -> None:
        self.aim()
        with self.client.get("/plaintext", catch_response=True) as r:
            expect(r, 200, lambda r: r.content == b"Hello, World!")

    def page(self) -> None:
        self.aim()
        with self.client.get("/", catch_response=True) as r:
            expect(r, 200, lambda r: b"<h1>Wow, Python Server</h1>" in r.content)
        with self.client.get("/test.jpg", catch_response=True) as r:
            expect(r, 200, lambda r: r.content[:3] == b"\xff\xd8\xff" and r.headers.get("content-type") == "image/jpeg")

    def guestbook(self) -> None:
        self.aim()
        text = f"load {secrets.token_hex(6)}"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        with self.client.post(
            "/messages", data=f"text={text}", headers=form, allow_redirects=False, catch_response=True
        ) as r:
            expect(r, 303, lambda r: r.headers.get("location") == "/")
        with self.client.get("/messages?limit=20", name="/messages?limit=20", catch_response=True) as r:
            expect(r, 200, lambda r: "messages" in json.loads(r.content))


class PlaintextUser(Checks, FastHttpUser):
    wait_time = pacing("plaintext")

    @task
    def get_plaintext(self) -> None:
        self.plaintext()


class PageUser(Checks, FastHttpUser):
    wait_time = pacing("page")

    @task
    def load_page(self) -> None:
        self.page()


class GuestbookUser(Checks, FastHttpUser):
    wait_time = pacing("guestbook")

    @task
    def sign_guestbook(self) -> None:
        self.guestbook()


class MixedUser(Checks, FastHttpUser):
    wait_time = pacing("mixed")

    @task(6)
    def mixed_plaintext(self) -> None:
        self.plaintext()

    @task(3)
    def mixed_page(self) -> None:
        self.page()

    @task(1)
    def mixed_guestbook(self) -> None:
        self.guestbook()
