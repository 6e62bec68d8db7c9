"""SPEC §7: the CGI gateway on every layer and model, with real scripts in a real folder.

The folder is made here: the shipped scripts, and scripts that fail in each way the contract names.
"""

import base64
import json
import shutil
from pathlib import Path

import pytest
from helpers import CONCURRENT_VARIANTS, header, wait_for

from conformance.corpus import ResponseReader
from webapp.cgi import CGI_DIR

TIMEOUT_S = 1.0  # --cgi-timeout of the servers here: the sleeping script outlives it
SCRIPTS = {
    "fails.sh": "echo 'Content-Type: text/plain'; echo; echo partial; echo 'fails.sh: oops' >&2; exit 3",
    "garbage.sh": "printf 'this is not a header line\\n\\nbody'",
    "nothing.sh": "exit 0",
    "no-type.sh": "printf 'X-Only: 1\\n\\nbody'",
    "huge.sh": "printf 'Content-Type: text/plain\\n\\n'; head -c 9437184 /dev/zero",
    "sleeps.sh": "sleep 60 & echo $! >> sleeps.sh.pid; wait",
    "status.sh": "printf 'Status: 418 I am a teapot\\r\\nContent-Type: text/plain\\r\\nX-Script: yes\\r\\n"
                 "Connection: close\\r\\nContent-Length: 99\\r\\n\\r\\nshort and stout'",
    "redirect.sh": "printf 'Location: /elsewhere\\n\\n'",
    "waits.sh": "i=0; while [ ! -e go ] && [ $i -lt 300 ]; do sleep 0.02; i=$((i+1)); done; "
                "printf 'Content-Type: text/plain\\n\\nwaited'",
    ".hidden.sh": "printf 'Content-Type: text/plain\\n\\nhidden'",
}


def make_folder(folder: Path) -> Path:
    folder.mkdir()
    for name in ("hello.sh", "env.py"):
        shutil.copy2(CGI_DIR / name, folder / name)
    for name, body in SCRIPTS.items():
        (folder / name).write_text(f"#!/bin/sh\necho $$ > {name}.pid\n{body}\n")  # who ran, to check none is left
        (folder / name).chmod(0o755)
    (folder / "not-executable.sh").write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\nran'\n")
    (folder / "not-executable.sh").chmod(0o644)
    (folder / "a-folder").mkdir()
    outside = folder.parent / "outside.sh"
    outside.write_text("#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\noutside'\n")
    outside.chmod(0o755)
    (folder / "link-out.sh").symlink_to(outside)
    (folder / "link-in.sh").symlink_to(folder / "hello.sh")
    return folder


@pytest.fixture(scope="module")
def cgi(variant, start_server, tmp_path_factory):
    folder = make_folder(tmp_path_factory.mktemp("cgi") / "cgi-bin")
    with start_server(variant, "--cgi-dir", str(folder), "--cgi-timeout", str(TIMEOUT_S)) as running:
        running.folder = folder
        yield running


def env_of(answer) -> tuple[dict, bytes]:
    assert answer.status == 200 and header(answer, "content-type") == "application/json", answer
    value = json.loads(answer.body)
    return value["env"], base64.b64decode(value["stdin_base64"])


def exchange_on(cgi, raw: bytes) -> tuple[object, tuple]:
    """One request on a new connection: the answer, and the client's own address."""
    with cgi.connect() as sock:
        sock.sendall(raw)
        return ResponseReader(sock.recv).read_response(), sock.getsockname()


# --- the meta-variables ----------------------------------------------------------------------------


def test_get_with_a_query_and_path_info_gets_exactly_the_meta_variables(cgi):
    raw = b"GET /cgi-bin/env.py/extra/a%20b?x=1&y=%20 HTTP/1.1\r\nHost: example.test:8080\r\nX-Thing: 1\r\n\r\n"
    answer, client = exchange_on(cgi, raw)
    env, stdin = env_of(answer)
    assert env == {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": header(answer, "server"), "SERVER_NAME": "example.test",
        "SERVER_PORT": str(cgi.port), "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "/cgi-bin/env.py", "PATH_INFO": "/extra/a b", "QUERY_STRING": "x=1&y=%20",
        "REMOTE_ADDR": client[0], "REMOTE_PORT": str(client[1]), "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HTTP_HOST": "example.test:8080", "HTTP_X_THING": "1",
    }
    assert stdin == b""


def test_post_with_content_length_passes_the_body_on_stdin(cgi):
    body = b"text=hello&n=\xff"
    raw = (b"POST /cgi-bin/env.py HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    env, stdin = env_of(exchange_on(cgi, raw)[0])
    assert stdin == body and env["CONTENT_LENGTH"] == str(len(body))
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded" and env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["REQUEST_METHOD"] == "POST" and env["PATH_INFO"] == "" and env["QUERY_STRING"] == ""
    assert "HTTP_CONTENT_LENGTH" not in env and "HTTP_CONTENT_TYPE" not in env


def test_a_chunked_body_is_decoded_and_its_length_given(cgi):
    raw = (b"POST /cgi-bin/env.py HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n")
    env, stdin = env_of(exchange_on(cgi, raw)[0])
    assert stdin == b"hello world" and env["CONTENT_LENGTH"] == "11" and env["CONTENT_TYPE"] == "text/plain"
    assert "HTTP_TRANSFER_ENCODING" in env  # a field like any other; the framing is the server's


def test_repeated_fields_are_joined_and_dangerous_ones_never_passed(cgi):
    raw = (b"GET /cgi-bin/env.py HTTP/1.1\r\nHost: a\r\nX-Many: one\r\nAccept: a/b\r\nX-Many: two\r\n"
           b"Proxy: http://evil.example:666/\r\nAuthorization: Basic c2VjcmV0\r\nX_Alias: aliased\r\n\r\n")
    env, _ = env_of(exchange_on(cgi, raw)[0])
    assert env["HTTP_X_MANY"] == "one, two" and env["HTTP_ACCEPT"] == "a/b"
    assert "HTTP_PROXY" not in env  # httpoxy, CVE-2016-5385
    assert not {"HTTP_AUTHORIZATION", "HTTP_X_ALIAS"} & set(env)
    assert not any(name.startswith("HTTP_PROXY") or "evil" in value for name, value in env.items())


# --- which files run ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [
    "/cgi-bin/../cgi-bin/hello.sh", "/cgi-bin/%2e%2e/cgi-bin/hello.sh", "/cgi-bin/.%2e/outside.sh",
    "/cgi-bin/%2E%2E%2Foutside.sh", "/cgi-bin/a-folder%2fhello.sh", "/cgi-bin/link-out.sh", "/cgi-bin/.hidden.sh",
    "/cgi-bin/not-executable.sh", "/cgi-bin/a-folder", "/cgi-bin/a-folder/", "/cgi-bin/", "/cgi-bin/nonesuch",
    "/cgi-bin/hello.sh/..", "/cgi-bin/env.py/%2e%2e/x",
])
def test_only_executable_files_directly_in_the_folder_run(cgi, target):
    assert cgi.get(target).status == 404


def test_a_symlink_that_stays_in_the_folder_runs(cgi):
    answer = cgi.get("/cgi-bin/link-in.sh")
    assert (answer.status, answer.body) == (200, b"Hello, World!")


def test_other_methods_are_405_with_allow(cgi):
    for method in ("PUT", "DELETE", "OPTIONS", "PATCH"):
        answer = cgi.get("/cgi-bin/hello.sh", method=method)
        assert answer.status == 405 and header(answer, "allow") == "GET, HEAD, POST", method


# --- the script's answer -------------------------------------------------------------------------------


def test_head_runs_the_script_and_sends_no_body(cgi):
    answer = cgi.get("/cgi-bin/hello.sh", method="HEAD")
    assert answer.status == 200 and header(answer, "content-length") == "13" and answer.body == b""


def test_status_and_fields_are_passed_and_the_framing_is_the_servers(cgi):
    answer = cgi.get("/cgi-bin/status.sh")
    assert answer.status == 418 and answer.body == b"short and stout" and header(answer, "x-script") == "yes"
    assert header(answer, "content-length") == str(len(b"short and stout"))  # not the script's 99
    assert header(answer, "connection") == "close"  # ours (the request said close), not passed from the script
    assert header(answer, "server") and header(answer, "date")


def test_location_without_status_is_302(cgi):
    answer = cgi.get("/cgi-bin/redirect.sh")
    assert answer.status == 302 and header(answer, "location") == "/elsewhere"


@pytest.mark.parametrize("script", ["fails.sh", "garbage.sh", "nothing.sh", "no-type.sh", "huge.sh"])
def test_a_script_that_fails_gets_502_and_leaves_no_process(cgi, script):
    (cgi.folder / f"{script}.pid").unlink(missing_ok=True)
    answer = cgi.get(f"/cgi-bin/{script}")
    assert (answer.status, answer.body) == (502, b"502 Bad Gateway\n")
    assert cgi.get("/plaintext").status == 200
    pid = int((cgi.folder / f"{script}.pid").read_text())
    assert wait_for(lambda: not alive(pid))


def test_a_scripts_stderr_goes_to_the_servers(cgi):
    assert cgi.get("/cgi-bin/fails.sh").status == 502
    assert wait_for(lambda: "fails.sh: oops" in cgi.stderr())


def test_a_script_past_the_timeout_is_killed_with_its_group_and_gets_504(cgi):
    pid_file = cgi.folder / "sleeps.sh.pid"
    pid_file.unlink(missing_ok=True)
    answer = cgi.get("/cgi-bin/sleeps.sh")
    assert (answer.status, answer.body) == (504, b"504 Gateway Timeout\n")
    pids = [int(line) for line in pid_file.read_text().split()]
    assert len(pids) == 2 and wait_for(lambda: not any(alive(pid) for pid in pids))  # the script and its child


def alive(pid: int) -> bool:
    """True while `pid` runs (a zombie waiting for its parent to reap it no longer runs)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_a_cgi_answer_and_the_request_after_it_are_answered_in_order(cgi):
    raw = (b"GET /cgi-bin/hello.sh HTTP/1.1\r\nHost: a\r\n\r\nGET /cgi-bin/env.py HTTP/1.1\r\nHost: a\r\n\r\n"
           b"GET /time HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    first, second, third = cgi.exchange(raw, count=3)
    assert first.body == b"Hello, World!" and env_of(second)[0]["SCRIPT_NAME"] == "/cgi-bin/env.py"
    assert third.status == 200 and third.body.endswith(b"Z")


# --- no loop blocked ------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=CONCURRENT_VARIANTS,
                ids=[f"{layer}-{model}" for layer, model in CONCURRENT_VARIANTS])
def concurrent_cgi(request, start_server, tmp_path_factory):
    folder = make_folder(tmp_path_factory.mktemp("cgi") / "cgi-bin")
    with start_server(request.param, "--cgi-dir", str(folder)) as running:
        running.folder = folder
        yield running


def test_a_running_script_does_not_hold_up_other_connections(concurrent_cgi):
    """waits.sh runs until the test says go: /plaintext on another connection must be answered first."""
    (concurrent_cgi.folder / "go").unlink(missing_ok=True)
    with concurrent_cgi.connect() as waiting:
        waiting.sendall(b"GET /cgi-bin/waits.sh HTTP/1.1\r\nHost: a\r\n\r\n")
        answer = concurrent_cgi.get("/plaintext")
        waiting.setblocking(False)
        try:
            early = waiting.recv(1)
        except BlockingIOError:
            early = None
        waiting.setblocking(True)
        (concurrent_cgi.folder / "go").touch()
        late = ResponseReader(waiting.recv).read_response()
    assert answer.status == 200 and early is None  # answered while the script still ran
    assert (late.status, late.body) == (200, b"waited")
