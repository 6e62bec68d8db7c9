"""Locust scenarios for server-layers (BENCH §1); usable on its own:

    locust -f bench/locustfile.py --host http://127.0.0.1:8000            # web UI, pick a user class
    locust -f bench/locustfile.py --host http://127.0.0.1:8000 --headless -u 8 -r 8 -t 10s PlaintextUser

Every response is checked: a wrong answer is a failure, not throughput. Every
response time of a correct answer also goes into an HDR histogram (microseconds);
with $SERVER_LAYERS_RECORD_DIR set, the counts and the histogram are written
there when Locust quits (a master merges its workers' first).

With $SERVER_LAYERS_TARGETS and $SERVER_LAYERS_WINDOWS set (one process, no workers),
the users are shared out evenly over the targets, all loaded at once, each user pacing
its own target; from SETTLE_S after the last user was spawned, each request is counted,
with its latency, per target and per window of time it started in (window 0 is a
warm-up), and Locust quits after the last window. Never import this module in a
server's process: locust monkey-patches the standard library.
"""

import itertools
import json
import os
import random
import secrets
import time
from typing import TYPE_CHECKING, TypedDict, cast

import gevent
from hdrh.histogram import HdrHistogram
from locust import FastHttpUser, constant, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.runners import Runner, WorkerRunner

from bench.scenarios import RATE_ENV, RECORD_ENV, SCENARIOS, TARGETS_ENV, WINDOWS_ENV

HISTOGRAM = HdrHistogram(1, 60_000_000, 3)  # 1 µs .. 60 s, 3 significant digits
COUNTS = {"requests": 0, "failures": 0, "histogram": HISTOGRAM}  # every request this process saw (Locust's CSV can lag)
REPORT_KEY = "server_layers"
SETTLE_S = 0.5  # after the last user is spawned, before window 0
TARGETS = os.environ.get(TARGETS_ENV, "").split()
WINDOW_S, WINDOWS = (float(v) for v in os.environ[WINDOWS_ENV].split(",")) if os.environ.get(WINDOWS_ENV) else (0, 0)


class Shared(TypedDict):
    start: float | None  # when window 0 starts (wall clock)
    runner: Runner | None  # the runner, to quit it (set at init, before any user spawns)


SHARED: Shared = {"start": None, "runner": None}
TURNS = itertools.count()  # the next user's turn: user k paces TARGETS[k % len(TARGETS)]
WINDOWED: dict[str, dict] = {}  # "target window" -> {"requests", "failures", "histogram"}


@events.request.add_listener
def record(response_time, exception, start_time=None, url="", **_):
    key = window_key(start_time, url)
    if key and key not in WINDOWED:
        WINDOWED[key] = tally()
    for counts in [COUNTS, WINDOWED[key]] if key else [COUNTS]:
        counts["requests"] += 1
        if exception is None:
            counts["histogram"].record_value(max(1, round(response_time * 1000)))
        else:
            counts["failures"] += 1


def tally() -> dict:
    return {"requests": 0, "failures": 0, "histogram": HdrHistogram(1, 60_000_000, 3)}


def window_key(when: float | None, url: str) -> str | None:
    """"TARGET WINDOW" of a request that started at `when` on `url`; None outside the windows."""
    start = SHARED["start"]
    if start is None or when is None or when < start or (window := int((when - start) // WINDOW_S)) > WINDOWS:
        return None
    target = next((i for i, base in enumerate(TARGETS) if url.startswith(base.rstrip("/") + "/")), None)
    return None if target is None else f"{target} {window}"


@events.init.add_listener
def keep_runner(environment, **_):
    SHARED["runner"] = environment.runner


@events.spawning_complete.add_listener
def open_windows(**_):
    """Once every user runs: window 0 starts SETTLE_S later; Locust quits after the last window."""
    if TARGETS and SHARED["start"] is None:
        SHARED["start"] = time.time() + SETTLE_S
        gevent.spawn_later(SETTLE_S + (WINDOWS + 1) * WINDOW_S, cast(Runner, SHARED["runner"]).quit)


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
        record = {**COUNTS, "histogram": HISTOGRAM.encode().decode("ascii"), "start": SHARED["start"],
                  "windows": {key: {**counts, "histogram": counts["histogram"].encode().decode("ascii")}
                              for key, counts in WINDOWED.items()}}
        with open(os.path.join(folder, f"record-{os.getpid()}.json"), "w") as file:
            json.dump(record, file)


def pacing(scenario: str):
    """constant(0) unless the runner asks for a fixed request rate per user; then Poisson arrivals at that rate."""
    rate = os.environ.get(RATE_ENV)
    if not rate:
        return constant(0)
    return poisson_throughput(float(rate) / SCENARIOS[scenario][1])


def poisson_throughput(tasks_per_s: float):
    """A wait_time that starts the user's tasks as a Poisson process of rate `tasks_per_s` (each start an
    exponential gap after the one before; a task that overran only delays the next one's start).

    Not Locust's constant_throughput: a fixed period makes every user's requests fall at the same
    phase all run long, and where they fall beside the other users' (of this server and of the others
    on its core) decides what each request costs; a new run draws new phases. Four runs of compare's
    Locust pass, fresh servers each: with constant_throughput raw_socket/selectors cost 0.88-0.99x
    raw_socket/threaded and the p50 moved from 1.9 to 3.5 ms; with these random gaps, 1.00-1.04x and
    1.05-1.11 ms."""
    def wait_time(user) -> float:
        now = time.monotonic()
        user.next_start = max(getattr(user, "next_start", now), now - 1 / tasks_per_s) + random.expovariate(tasks_per_s)
        return max(0.0, user.next_start - now)
    return wait_time


def expect(response, status: int, check) -> None:
    """Fail the request unless it has `status` and `check(response)` holds."""
    if response.status_code != status:
        response.failure(f"status {response.status_code}, expected {status}")
    elif not check(response):
        response.failure("wrong content")
    else:
        response.success()


if TYPE_CHECKING:
    CheckedUser = FastHttpUser  # what Checks is mixed into: every user class below is (Checks, FastHttpUser)
else:
    CheckedUser = object  # at run time a plain mixin, so that Locust never takes Checks for a user class


class Checks(CheckedUser):
    """The scenario steps, each validating its answer."""

    def on_start(self) -> None:
        """With shared targets, this user paces its turn's target (keep-alive, like its own client)."""
        if TARGETS:
            base_url = TARGETS[next(TURNS) % len(TARGETS)]
            self.client = FastHttpSession(
                base_url=base_url, request_event=self.environment.events.request, user=self,
                network_timeout=self.network_timeout, connection_timeout=self.connection_timeout,
                max_redirects=self.max_redirects, max_retries=self.max_retries, insecure=self.insecure,
                concurrency=self.concurrency, client_pool=self.client_pool,
                ssl_context_factory=self.ssl_context_factory, headers=self.default_headers,
                proxy_host=self.proxy_host, proxy_port=self.proxy_port)

    def plaintext(self) -> None:
        with self.client.get("/plaintext", catch_response=True) as r:
            expect(r, 200, lambda r: r.content == b"Hello, World!")

    def page(self) -> None:
        with self.client.get("/", catch_response=True) as r:
            expect(r, 200, lambda r: b"<h1>Wow, Python Server</h1>" in r.content)
        with self.client.get("/test.jpg", catch_response=True) as r:
            expect(r, 200, lambda r: r.content[:3] == b"\xff\xd8\xff" and r.headers.get("content-type") == "image/jpeg")

    def cgi_hello(self) -> None:
        with self.client.get("/cgi-bin/hello.sh", catch_response=True) as r:
            expect(r, 200, lambda r: r.content == b"Hello, World!")

    def cgi_env(self) -> None:
        with self.client.get("/cgi-bin/env.py?load=1", name="/cgi-bin/env.py", catch_response=True) as r:
            expect(r, 200, lambda r: json.loads(r.content)["env"].get("QUERY_STRING") == "load=1")

    def guestbook(self) -> None:
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


class CgiHelloUser(Checks, FastHttpUser):
    wait_time = pacing("cgi-hello")

    @task
    def get_hello_script(self) -> None:
        self.cgi_hello()


class CgiEnvUser(Checks, FastHttpUser):
    wait_time = pacing("cgi-env")

    @task
    def get_env_script(self) -> None:
        self.cgi_env()


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
