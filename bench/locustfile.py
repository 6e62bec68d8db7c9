"""Locust scenarios for server-layers (BENCH §1); usable on its own:

    locust -f bench/locustfile.py --host http://127.0.0.1:8000            # web UI, pick a user class
    locust -f bench/locustfile.py --host http://127.0.0.1:8000 --headless -u 8 -r 8 -t 10s PlaintextUser

Every response is checked: a wrong answer is a failure, not throughput. Every
response time of a correct answer also goes into an HDR histogram (microseconds);
with $SERVER_LAYERS_RECORD_DIR set, the counts and the histogram are written
there when Locust quits (a master merges its workers' first). Never import
this module in a server's process: locust monkey-patches the standard library.
"""

import json
import os
import secrets

from hdrh.histogram import HdrHistogram
from locust import FastHttpUser, constant, constant_throughput, events, task
from locust.runners import WorkerRunner

from bench.scenarios import RATE_ENV, RECORD_ENV, SCENARIOS

HISTOGRAM = HdrHistogram(1, 60_000_000, 3)  # 1 µs .. 60 s, 3 significant digits
COUNTS = {"requests": 0, "failures": 0}  # every request this process saw (Locust's CSV can lag behind)
REPORT_KEY = "server_layers"


@events.request.add_listener
def record(response_time, exception, **_):
    COUNTS["requests"] += 1
    if exception is None:
        HISTOGRAM.record_value(max(1, round(response_time * 1000)))
    else:
        COUNTS["failures"] += 1


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
        record = {**COUNTS, "histogram": HISTOGRAM.encode().decode("ascii")}
        with open(os.path.join(folder, f"record-{os.getpid()}.json"), "w") as file:
            json.dump(record, file)


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
    """The scenario steps, each validating its answer."""

    def plaintext(self) -> None:
        with self.client.get("/plaintext", catch_response=True) as r:
            expect(r, 200, lambda r: r.content == b"Hello, World!")

    def page(self) -> None:
        with self.client.get("/", catch_response=True) as r:
            expect(r, 200, lambda r: b"<h1>Wow, Python Server</h1>" in r.content)
        with self.client.get("/test.jpg", catch_response=True) as r:
            expect(r, 200, lambda r: r.content[:3] == b"\xff\xd8\xff" and r.headers.get("content-type") == "image/jpeg")

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
