"""Where the CPU goes (bench.cpu_profile): py-spy's stacks read and grouped right, the idle window subtracted
right, the report's section from a real run (tests/data/cpu/: `python -m bench.cpu_profile --requests 2000
--paths /plaintext` on two variants), and one live run end to end when py-spy is installed; the framework apps
(flask, fastapi) grouped and chosen, and one short live run of fastapi when .venv-reference has it.

No layer is named here: the frames of the layer group come from bench.catalog, the rest from the fixture.
"""

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from helpers import ROOT

from bench import cpu_profile, flamegraph, measure, reference_servers
from bench.catalog import MODELS
from bench.cpu_profile import FRAMEWORK, SYSCALL_FRAME, Window
from bench.syscalls import variants
from reports import tables

FIXTURE = Path(__file__).resolve().parent / "data" / "cpu"
REPORT_RUN = FIXTURE.parent / "report-run"
THREAD = "thread (7329): Thread-3 (handle)"  # py-spy --threads: the thread, the root of every stack
BOOT = "Thread._bootstrap (threading.py:1002);Thread._bootstrap_inner (threading.py:1045);Thread.run (threading.py:982)"
REAL_STACKS = {  # stacks as py-spy writes them (taken from its raw files), and the group each belongs to
    f"{THREAD};{BOOT};Session.receive (serving/session.py:90);fast_head (http11/parser.py:66) 2": "http11",
    f"{THREAD};{BOOT};App.call (webapp/app.py:111);plaintext (webapp/routes.py:51) 1": "webapp",
    f"{THREAD};{BOOT};Session.frame (serving/session.py:145);__create_fn__.<locals>.__init__ (<string>:5) 1": "serving",
    "thread (9429): MainThread;BaseEventLoop._run_once (asyncio/base_events.py:1922);"
    "EpollSelector.select (selectors.py:480) 1": "stdlib layer",
    f"{THREAD};BaseHTTPRequestHandler.parse_request (http/server.py:346) 1": "stdlib layer",
    f"{THREAD};parse_headers (http/client.py:238);FeedParser._parsegen (email/feedparser.py:467) 3": "other stdlib",
    f"{THREAD};{BOOT};Session.receive (serving/session.py:90);{SYSCALL_FRAME} 27": "kernel",
    "thread (9429): MainThread 3": "other",
    "thread (4671): MainThread;_run_module_as_main (<frozen runpy>:198);_run_code (<frozen runpy>:88) 1": "other",
}


def rows() -> list[dict]:
    return json.loads((FIXTURE / "cpu.json").read_text())["rows"]


# --- the stacks --------------------------------------------------------------------------


@pytest.mark.parametrize("line, group", REAL_STACKS.items())
def test_a_stack_belongs_to_its_innermost_grouped_frame(line, group):
    (stack,) = cpu_profile.parse_raw(line)
    assert cpu_profile.group_of_stack(stack) == group


@pytest.mark.parametrize("layer", MODELS)
def test_a_layers_own_package_is_the_layer_group(layer):
    stack = (THREAD, f"handle ({layer}/server.py:29)", "__create_fn__.<locals>.__init__ (<string>:5)")
    assert cpu_profile.group_of_stack(stack) == "layer"


GUNICORN = 'process 15282:"gunicorn frameworks.flask_app:app --bind 127.0.0.1:54283";process 15284:"gunicorn"'
WORKER = (f"{GUNICORN};thread (15295): ThreadPoolExecutor-0_4;{BOOT};_worker (concurrent/futures/thread.py:83);"
          "_WorkItem.run (concurrent/futures/thread.py:58);ThreadWorker.handle (gunicorn/workers/gthread.py:553);"
          "ThreadWorker.handle_request (gunicorn/workers/gthread.py:771);Flask.__call__ (flask/app.py:1536)")
UVICORN = ('process 15537:"uvicorn frameworks.fastapi_app:app --header server:server-layers (fastapi)";'
           "thread (15537): MainThread;<module> (uvicorn:8);Command.__call__ (click/core.py:1653);"
           "Server.run (uvicorn/server.py:86);asyncio_run (uvicorn/_compat.py:30);Runner.run (asyncio/runners.py:118)")
FRAMEWORK_STACKS = {  # framework apps' stacks as py-spy writes them with --subprocesses (trimmed command lines)
    f"{WORKER};Flask.wsgi_app (flask/app.py:1510);RequestContext.push (flask/ctx.py:404) 1": "framework",
    f"{WORKER};Flask.wsgi_app (flask/app.py:1518);Flask.full_dispatch_request (flask/app.py:920);"
    "Flask.dispatch_request (flask/app.py:896) 1": "framework",
    f"{GUNICORN};thread (15290): ThreadPoolExecutor-0_2;{BOOT};_worker (concurrent/futures/thread.py:83);"
    "_WorkItem.run (concurrent/futures/thread.py:58);ThreadWorker.handle (gunicorn/workers/gthread.py:532) 2": "layer",
    f"{UVICORN};HttpToolsProtocol.data_received (uvicorn/protocols/http/httptools_impl.py:173) 28": "layer",
    f"{UVICORN};FastAPI.__call__ (fastapi/applications.py:1222);"
    "NativeTelemetry.enabled (fastapi/telemetry/_asgi.py:175) 1": "framework",
    f"{UVICORN} 822": "layer",  # uvloop's C loop: shown at the asyncio runner's line that started it (C_LOOP)
}
FRAMEWORK_FILES = ["frameworks/flask_app.py", "frameworks/fastapi_app.py", "flask/app.py", "werkzeug/routing/map.py",
                   "jinja2/environment.py", "itsdangerous/signer.py", "click/core.py", "blinker/base.py",
                   "fastapi/routing.py", "starlette/routing.py", "pydantic/main.py", "pydantic_core/core_schema.py",
                   "anyio/to_thread.py", "python_multipart/multipart.py", "multipart/__init__.py"]
SERVER_FILES = ["gunicorn/workers/gthread.py", "uvicorn/protocols/http/httptools_impl.py", "httptools/__init__.py",
                "uvloop/__init__.py", "h11/_connection.py"]


@pytest.mark.parametrize("file", FRAMEWORK_FILES)
def test_frameworks_and_their_libraries_are_the_framework_group(file):
    assert cpu_profile.group_of_file(file, framework=True) == cpu_profile.group_of_file(file) == "framework"


@pytest.mark.parametrize("file", SERVER_FILES)
def test_the_server_under_a_framework_app_is_its_layer(file):
    """In a framework app's row its server is the layer; in ours uvloop stays the stdlib layer's stand-in."""
    assert cpu_profile.group_of_file(file, framework=True) == "layer"
    assert cpu_profile.group_of_file(file) == ("stdlib layer" if file.startswith("uvloop/") else None)


@pytest.mark.parametrize("line, group", FRAMEWORK_STACKS.items())
def test_a_framework_apps_stack_belongs_to_its_innermost_grouped_frame(line, group):
    (stack,) = cpu_profile.parse_raw(line)
    assert cpu_profile.group_of_stack(stack, framework=True) == group
    assert cpu_profile.samples_by_group(Counter({stack: 2}), framework=True)[group] == 2


def test_the_framework_group_has_its_own_colour_after_webapp():
    assert list(cpu_profile.GROUPS).index("framework") == list(cpu_profile.GROUPS).index("webapp") + 1
    assert len(set(cpu_profile.GROUPS.values())) == len(cpu_profile.GROUPS)


def test_a_framework_librarys_send_is_no_system_call():
    """A blinker signal's or ASGI's send( is the framework's own work; gunicorn's sock.sendall( is the kernel's."""
    signal, asgi = "AppContext.push (flask/ctx.py:254)", "Response.__call__ (starlette/responses.py:171)"
    assert not cpu_profile.in_kernel_call(signal) and not cpu_profile.in_kernel_call(asgi)
    write = "write (gunicorn/util.py:348)"
    if cpu_profile.source_line("gunicorn/util.py", 348).strip() != "sock.sendall(data)":
        pytest.skip(".venv-reference has no gunicorn, or another one (bench.reference installs it)")
    assert cpu_profile.in_kernel_call(write)  # found under .venv-reference's site-packages


@pytest.mark.parametrize("frame", ["Condition.wait (threading.py:{})", "_worker (concurrent/futures/thread.py:{})"])
def test_a_thread_waiting_on_a_lock_or_its_pool_queue_is_in_a_system_call(frame):
    """A worker just woken from a futex is runnable, so py-spy counts it: it is the kernel's, not user time."""
    file = frame[frame.index("(") + 1:frame.index(":")]
    wanted = "waiter.acquire()" if file == "threading.py" else "work_item = work_queue.get(block=True)"
    line = next(number for number in range(1, 2000) if cpu_profile.source_line(file, number).strip() == wanted)
    assert cpu_profile.in_kernel_call(frame.format(line))
    assert not cpu_profile.in_kernel_call(frame.format(line + 1))  # the line after it is Python's own work


def test_uvloops_loop_is_the_layer_of_a_framework_row_only():
    """uvloop has no Python frame: its loop shows as asyncio.Runner.run's line, the server's in a framework row."""
    line = next(number for number in range(1, 300)
                if "self._loop.run_until_complete(task)" in cpu_profile.source_line("asyncio/runners.py", number))
    frame = f"Runner.run (asyncio/runners.py:{line})"
    assert cpu_profile.group_of_frame(frame, framework=True) == "layer"
    assert cpu_profile.group_of_frame(frame) == "stdlib layer"


def test_a_framework_app_is_a_variant_by_its_name():
    layer, model = variants()[0]
    assert cpu_profile.chosen("flask,fastapi") == [(FRAMEWORK, "flask"), (FRAMEWORK, "fastapi")]
    assert cpu_profile.chosen(f"fastapi, {layer}/{model}") == [(FRAMEWORK, "fastapi"), (layer, model)]
    assert [cpu_profile.variant_name(*variant) for variant in cpu_profile.chosen(f"flask,{layer}/{model}")] == [
        "flask", f"{layer}/{model}"]
    with pytest.raises(ValueError, match=r"unknown variant.*django.*a framework app: flask, fastapi"):
        cpu_profile.chosen("flask,django")


def test_without_the_reference_environment_the_framework_apps_are_left_out(monkeypatch, capsys):
    """By default they are left out with a line on stderr; named, they are a one-line refusal."""
    monkeypatch.setattr(reference_servers, "versions", lambda venv=reference_servers.VENV: None)
    assert cpu_profile.chosen(None) == variants()
    (line,) = capsys.readouterr().err.splitlines()
    assert "flask, fastapi left out" in line
    assert cpu_profile.unprofiled([(FRAMEWORK, "fastapi")]).startswith("fastapi: .venv-reference")
    monkeypatch.setattr(reference_servers, "versions", lambda venv=reference_servers.VENV: {"flask": "3"})
    assert cpu_profile.chosen(None) == [*variants(), (FRAMEWORK, "flask"), (FRAMEWORK, "fastapi")]
    assert cpu_profile.unprofiled([(FRAMEWORK, "fastapi")]) == ""


def test_raw_lines_are_read_with_their_counts():
    stacks = cpu_profile.parse_raw("\n".join(REAL_STACKS) + "\n\n")
    assert sum(stacks.values()) == sum(int(line.rsplit(" ", 1)[1]) for line in REAL_STACKS)
    assert all(stack[0].startswith("thread (") for stack in stacks)
    assert cpu_profile.parse_raw(cpu_profile.collapsed(stacks)) == stacks


def test_a_leaf_calling_the_selector_is_marked_in_a_system_call():
    """The stdlib's own selectors.py: the line of its poll call is in the kernel, the line after it is not."""
    source = (Path(sysconfig.get_paths()["stdlib"]) / "selectors.py").read_text().splitlines()
    line = next(number for number, text in enumerate(source, 1) if "self._selector.poll(" in text)
    waiting, after = (("loop", f"EpollSelector.select (selectors.py:{n})") for n in (line, line + 1))
    marked = cpu_profile.marked(Counter({waiting: 3, after: 1}))
    assert marked == Counter({(*waiting, SYSCALL_FRAME): 3, after: 1})
    assert cpu_profile.samples_by_group(marked)["kernel"] == 3


@pytest.mark.parametrize("row", rows(), ids=lambda row: row["variant"])
def test_the_fixture_stacks_give_its_rows_samples(row):
    """py-spy's raw file holds the row's samples; its stacks.txt, grouped again, gives the row's count per group."""
    raws = sorted((FIXTURE / row["stacks"]).parent.glob("round-*/py-spy.raw"))
    assert len(raws) == row["rounds"]  # the row's samples are every round's, pooled
    assert sum(sum(cpu_profile.parse_raw(raw.read_text()).values()) for raw in raws) == row["samples"]
    grouped = cpu_profile.samples_by_group(cpu_profile.parse_raw((FIXTURE / row["stacks"]).read_text()))
    assert set(row["samples_by_group"]) <= set(grouped)  # the fixture predates the framework group: it had none
    assert grouped == {group: row["samples_by_group"].get(group, 0) for group in grouped}
    assert sum(grouped.values()) == row["samples"]


# --- the arithmetic ----------------------------------------------------------------------


def test_a_row_is_the_medians_of_its_rounds_each_less_its_own_idle_window():
    idle = Window(0.0, 0.1, 1.0)  # 0.1 s of system time a second, idle
    rounds = [(Window(user, 0.6, 1.0), idle, Window(user, 0.7, 1.0)) for user in (1.0, 3.0, 2.0)]  # 1000 requests
    row = cpu_profile.row("a/b", "/", 1000, rounds, Counter())
    assert (row["user_us"], row["system_us"]) == (2000.0, 500.0)  # medians: user 1, 3, 2 ms; system 0.6 - 0.1
    assert row["cpu_us_range"] == [1500.0, 3500.0] and row["rounds"] == 3
    assert [r["user_us"] for r in row["per_round"]] == [1000.0, 3000.0, 2000.0]
    assert row["sampled_system_us"] == 600.0 and sum(row["groups"].values()) == row["cpu_us"]


def test_the_idle_window_is_scaled_to_the_loaded_one_and_subtracted():
    loaded, idle = Window(user_s=1.0, system_s=0.5, seconds=2.0), Window(user_s=0.1, system_s=0.05, seconds=1.0)
    assert cpu_profile.per_request_us(loaded, idle, 1000) == (800.0, 400.0)  # (1.0 - 2 × 0.1) s / 1000, ...
    assert cpu_profile.per_request_us(Window(0.01, 0.0, 1.0), idle, 1000) == (0.0, 0.0)  # never below zero


def test_the_kernel_is_the_system_time_and_the_user_time_follows_the_samples():
    samples = {"kernel": 90, "http11": 6, "webapp": 3, "serving": 1}
    groups = cpu_profile.split(50.0, 30.0, samples)
    assert groups["kernel"] == 30.0 and list(groups) == list(cpu_profile.GROUPS)
    assert (groups["http11"], groups["webapp"], groups["serving"]) == (30.0, 15.0, 5.0)
    assert sum(groups.values()) == pytest.approx(80.0)
    assert cpu_profile.split(50.0, 30.0, {"kernel": 4})["other"] == 50.0  # no user-side sample: unattributed


@pytest.mark.parametrize("row", rows(), ids=lambda row: row["variant"])
def test_each_rows_groups_sum_to_its_cpu(row):
    assert sum(row["groups"].values()) == pytest.approx(row["cpu_us"], abs=0.05)
    assert row["groups"]["kernel"] == row["system_us"]
    assert row["cpu_us"] == pytest.approx(row["user_us"] + row["system_us"])


def test_a_process_trees_cpu_counts_the_child_it_has_not_reaped():
    """gunicorn's worker is a child its master has not reaped: the tree's reading has its CPU, the master's not."""
    child = "import time; sum(range(10**7)); print('done', flush=True); time.sleep(60)"
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', "
                               f"{child!r}])"], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout and parent.stdout.readline() == "done\n"
        user, system = measure.tree_user_and_system(parent.pid)
        own_user, own_system = measure.user_and_system(parent.pid)
        assert user >= own_user + 0.05 and system >= own_system  # the child's sum, far more than a 10 ms tick
    finally:
        for pid in measure.descendants(parent.pid):
            os.kill(pid, signal.SIGKILL)
        parent.wait()


def test_a_flame_graph_has_a_titled_box_per_frame():
    stacks = cpu_profile.parse_raw("\n".join(REAL_STACKS))
    root = ET.fromstring(flamegraph.render(stacks, "a title", cpu_profile.colour))
    title, everything, *boxes = [element.text for element in root.iter("{http://www.w3.org/2000/svg}title")]
    prefixes = {stack[:depth] for stack in stacks for depth in range(1, len(stack) + 1)}  # a box each
    assert title == "a title" and everything.startswith(f"all ({sum(stacks.values())} samples")
    assert len(boxes) == len(prefixes) and {box.rsplit(" (", 1)[0] for box in boxes} == {p[-1] for p in prefixes}


# --- the report --------------------------------------------------------------------------


def test_a_cpu_profile_beside_the_run_gets_its_section(tmp_path):
    """cpu.json and its flame graphs in a bench run's folder: the chart, a row per variant and path, the
    computed sentence, and a relative link to each flame graph, which lies beside the page."""
    run = tmp_path / "run"
    shutil.copytree(REPORT_RUN, run)
    for file in [FIXTURE / "cpu.json", *FIXTURE.glob("flame-*.svg")]:
        shutil.copy(file, run)
    result = subprocess.run([sys.executable, "-m", "server_layers", "report", str(run)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    page = (run / "report.html").read_text()
    start = page.index('<section id="cpu">')
    section = page[start:page.index("</section>", start)]
    assert 'src="data:image/png;base64,' in section and (run / "cpu_groups.png").is_file()
    assert html.escape(tables.cpu_note(rows()), quote=True) in section
    links = re.findall(r'href="([^"]*)"', section)
    assert sorted(links) == sorted(row["flamegraph"] for row in rows())
    assert all((run / link).is_file() and "/" not in link for link in links)
    for row in rows():
        assert f"<td>{row['variant']}</td><td>{row['path']}</td>" in section


# --- live ----------------------------------------------------------------------------------


@pytest.mark.skipif(cpu_profile.py_spy() is None, reason="py-spy is not installed (the bench extra has it)")
def test_a_live_profile_of_one_variant(tmp_path, capsys):
    layer, model = variants()[0]
    assert cpu_profile.main(["--requests", "2000", "--paths", "/plaintext", "--variants", f"{layer}/{model}",
                             "--repeat", "2", "--out", str(tmp_path)]) == 0
    (row,) = json.loads((tmp_path / "cpu.json").read_text())["rows"]
    assert row["variant"] == f"{layer}/{model}" and row["requests"] == 2000 and row["samples"] > 0
    assert row["rounds"] == len(row["per_round"]) == 2  # the medians are of these rounds
    assert row["cpu_us_range"][0] <= row["cpu_us"] <= row["cpu_us_range"][1]
    assert row["user_us"] > 0 and sum(row["groups"].values()) == pytest.approx(row["cpu_us"], abs=0.05)
    assert ET.parse(tmp_path / row["flamegraph"]).getroot().tag.endswith("svg")
    assert sum(cpu_profile.parse_raw((tmp_path / row["stacks"]).read_text()).values()) == row["samples"]
    assert row["variant"] in capsys.readouterr().out


@pytest.mark.skipif(cpu_profile.py_spy() is None or reference_servers.versions() is None,
                    reason="py-spy or .venv-reference's frameworks are not installed")
def test_a_live_profile_of_a_framework_app(tmp_path):
    """FastAPI on uvicorn, briefly: its row's framework group has time, and the flame graph is coloured by it."""
    assert cpu_profile.main(["--requests", "2000", "--repeat", "1", "--paths", "/plaintext", "--variants", "fastapi",
                             "--out", str(tmp_path)]) == 0
    (row,) = json.loads((tmp_path / "cpu.json").read_text())["rows"]
    assert row["variant"] == "fastapi" and row["samples_by_group"]["framework"] > 0
    assert row["groups"]["framework"] > 0 and sum(row["groups"].values()) == pytest.approx(row["cpu_us"], abs=0.05)
    assert cpu_profile.GROUPS["framework"] in (tmp_path / row["flamegraph"]).read_text()
