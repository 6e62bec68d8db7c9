"""The CGI gateway (SPEC §7, RFC 3875): `/cgi-bin/NAME[/EXTRA][?QUERY]` runs one script per request.

Written once beside the routes, served by every layer. It blocks while the script runs: a layer with an
event loop runs `Deferred.run` off its loop (the app hands it a Deferred, never the answer itself).
"""

import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import IO, cast
from urllib.parse import unquote_to_bytes

from http11 import Headers, Origin, Request, Response, error_response
from http11.grammar import is_token

CGI_DIR = (Path(__file__).parent / "cgi-bin").resolve()
DEFAULT_TIMEOUT_S = 10.0
MAX_OUTPUT = 8 * 1024 * 1024  # more than this on stdout: 502
PATH = "/usr/local/bin:/usr/bin:/bin"
DROPPED = {"connection", "transfer-encoding", "content-length"}  # the server frames the answer itself
NEVER_PASSED = {"proxy", "authorization", "content-length", "content-type"}  # httpoxy; credentials; sent apart
SCRIPT = re.compile(r"/cgi-bin/(?P<name>[^/?]*)(?P<extra>/[^?]*)?(?:\?(?P<query>.*))?", re.S)
READ_SIZE = 65536


@dataclass(frozen=True)
class Gateway:
    """Where the scripts are and how long each may run (--cgi-dir, --cgi-timeout)."""

    folder: Path = CGI_DIR
    timeout_s: float = DEFAULT_TIMEOUT_S

    def script(self, name: str) -> Path | None:
        """The script NAME names: a regular executable file directly inside the folder, or None (404)."""
        if not name or name.startswith(".") or "/" in name or "\0" in name:
            return None
        path = self.folder / name
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if real.parent != self.folder.resolve() or not real.is_file() or not os.access(real, os.X_OK):
            return None
        return path


class Deferred:
    """An answer that takes time: `run()` blocks until the Response (never raises: a failure is an error answer)."""

    __slots__ = ("work",)

    def __init__(self, work: Callable[[], Response]) -> None:
        self.work = work

    def run(self) -> Response:
        return self.work()


def target_parts(request: Request) -> tuple[str, str, str] | None:
    """(name, decoded extra path, query as sent), or None when the target is not a script's (404)."""
    match = SCRIPT.fullmatch(request.path)
    if match is None or "%2f" in request.path.partition("?")[0].lower():
        return None
    try:
        name = unquote_to_bytes(match["name"]).decode("utf-8")
        extra = unquote_to_bytes(match["extra"] or "").decode("utf-8")
    except UnicodeDecodeError:
        return None
    if ".." in name or ".." in extra or "\0" in extra:
        return None
    return name, extra, match["query"] or ""


def meta_variables(request: Request, name: str, extra: str, query: str) -> dict[str, str]:
    """RFC 3875 §4.1, and nothing inherited from the server: SPEC §7's list."""
    origin = cast(Origin, request.origin)  # set by every layer before the app sees the request
    local_host, local_port = origin.local()[:2]
    remote_host, remote_port = origin.remote[:2]
    env: dict[str, str] = {
        "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_SOFTWARE": origin.software,
        "SERVER_NAME": host_name(request.header("host")) or local_host,
        "SERVER_PORT": str(local_port), "SERVER_PROTOCOL": request.version, "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": f"/cgi-bin/{name}", "PATH_INFO": extra, "QUERY_STRING": query,
        "REMOTE_ADDR": remote_host, "REMOTE_PORT": str(remote_port), "PATH": PATH,
    }
    if request.body or request.header("content-length") or request.header("transfer-encoding"):
        env["CONTENT_LENGTH"] = str(len(request.body))
        content_type = request.header("content-type")
        if content_type is not None:
            env["CONTENT_TYPE"] = content_type
    for field, values in request.fields.items():
        if field in NEVER_PASSED or "_" in field:
            continue
        env["HTTP_" + field.upper().replace("-", "_")] = ", ".join(values)
    return env


def host_name(host: str | None) -> str:
    """The name part of a Host field: `[::1]:8000` -> `::1`, `example.test:80` -> `example.test`; '' if none."""
    if not host:
        return ""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.partition(":")[0]


def run_script(path: Path, env: dict[str, str], body: bytes, timeout_s: float) -> Response:
    """Run the script with `body` on stdin; its CGI answer, or 502 (it failed) / 504 (it ran too long)."""
    try:
        process = subprocess.Popen([str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                   cwd=path.parent, start_new_session=True, close_fds=True)
    except OSError:
        return error_response(HTTPStatus.BAD_GATEWAY)
    try:
        output, status = exchange(process, body, time.monotonic() + timeout_s)
    finally:
        kill_group(process)
    if status is not None:
        return error_response(status)
    if process.returncode != 0:
        return error_response(HTTPStatus.BAD_GATEWAY)
    return parse_output(output)


def exchange(process: subprocess.Popen[bytes], body: bytes, deadline: float) -> tuple[bytes, HTTPStatus | None]:
    """Feed stdin and collect stdout until EOF: (stdout, None), or (partial, 502 too much / 504 too late)."""
    output, pending = bytearray(), memoryview(body)
    stdin, stdout = cast(IO[bytes], process.stdin), cast(IO[bytes], process.stdout)  # both PIPE (run_script)
    with selectors.DefaultSelector() as selector:
        selector.register(stdout, selectors.EVENT_READ)
        if pending:
            os.set_blocking(stdin.fileno(), False)
            selector.register(stdin, selectors.EVENT_WRITE)
        else:
            stdin.close()
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(output), HTTPStatus.GATEWAY_TIMEOUT
            for key, _ in selector.select(left):
                if key.fileobj is stdin:
                    pending = feed(stdin, pending, selector)
                    continue
                data = os.read(stdout.fileno(), READ_SIZE)
                if not data:
                    selector.unregister(stdout)
                output += data
                if len(output) > MAX_OUTPUT:
                    return bytes(output), HTTPStatus.BAD_GATEWAY
    try:
        process.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return bytes(output), HTTPStatus.GATEWAY_TIMEOUT
    return bytes(output), None


def feed(stdin: IO[bytes], pending: memoryview, selector: selectors.BaseSelector) -> memoryview:
    """Write what the pipe takes; close stdin once the body is all written (or the script stopped reading)."""
    try:
        pending = pending[os.write(stdin.fileno(), pending):]
    except BlockingIOError:
        return pending
    except OSError:  # the script closed its stdin: it does not want the rest
        pending = pending[len(pending):]
    if not pending:
        selector.unregister(stdin)
        stdin.close()
    return pending


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """The script's whole process group goes, finished or not: no process is left behind."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None and not pipe.closed:
            pipe.close()


def parse_output(output: bytes) -> Response:
    """A CGI response (RFC 3875 §6): header lines, a blank line, the body; 502 when it is not one."""
    head, separator, body = split_head(output)
    if not separator:
        return error_response(HTTPStatus.BAD_GATEWAY)
    fields: Headers = []
    status: HTTPStatus | None = None
    for line in head.split(b"\n"):
        name, colon, value = line.removesuffix(b"\r").partition(b":")
        text_name = name.decode("latin-1")
        if not colon or not is_token(name) or b"\r" in value or b"\0" in value:
            return error_response(HTTPStatus.BAD_GATEWAY)
        text_value = value.decode("latin-1").strip(" \t")
        if text_name.lower() == "status":
            status = status_of(text_value)
            if status is None:
                return error_response(HTTPStatus.BAD_GATEWAY)
        elif text_name.lower() not in DROPPED:
            fields.append((text_name, text_value))
    names = {name.lower() for name, _ in fields}
    if not names & {"content-type", "location"}:
        return error_response(HTTPStatus.BAD_GATEWAY)
    if status is None:
        status = HTTPStatus.FOUND if "location" in names else HTTPStatus.OK
    return Response(status, fields, body if status >= 200 and status not in (204, 304) else b"")


def split_head(output: bytes) -> tuple[bytes, bool, bytes]:
    """(header lines, found the blank line, body): the first empty line ends the head (LF or CRLF)."""
    match = re.search(rb"\r?\n\r?\n", output)
    if match is None:
        return output, False, b""
    return output[: match.start()], True, output[match.end():]


def status_of(text: str) -> HTTPStatus | None:
    """`Status: CODE REASON`: a code http.HTTPStatus knows, 200 to 599 (the reason is ours, as on every answer)."""
    code = text.partition(" ")[0]
    if not re.fullmatch(r"[2-5][0-9][0-9]", code):
        return None
    try:
        return HTTPStatus(int(code))
    except ValueError:
        return None


def answer(gateway: Gateway, request: Request) -> Response | Deferred:
    """SPEC §7: 404 for anything but a script of the folder; else the script's run, deferred."""
    parts = target_parts(request)
    if parts is None or (path := gateway.script(parts[0])) is None:
        return error_response(HTTPStatus.NOT_FOUND)
    env = meta_variables(request, *parts)
    return Deferred(lambda: run_script(path, env, request.body, gateway.timeout_s))
