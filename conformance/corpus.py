"""The raw-request corpus: load the cases, send them to a live server, compare.

Client side only (stdlib sockets): it must never import a server package.
Run `python -m conformance.corpus HOST PORT [CASE_ID ...]` against a server.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oneline import OneLineParser

CASES_DIR = Path(__file__).with_name("cases")
THEN_VALUES = ("closed", "open")
CASE_KEYS = {"title", "spec", "request", "shut_write", "expect", "then", "unsure", "note"}
REQUIRED_KEYS = {"title", "spec", "request", "expect", "then"}
EXPECT_KEYS = {"status", "headers", "body", "echo", "head"}
PROBE = b"GET /plaintext HTTP/1.1\r\nHost: example.test\r\n\r\n"
PROBE_BODY = b"Hello, World!"
MAX_EXTRA = 10  # unexpected answers read before giving up on the probe's
MAX_LINE = 65536  # a response line longer than this is garbage
CLOSED_ERRORS = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


# --- the corpus ---------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One raw request (or several, pipelined) and the answers it must get."""

    id: str
    title: str
    spec: str
    request: bytes
    shut_write: bool
    expect: list[dict[str, Any]]
    then: str
    unsure: bool = False
    note: str = ""


def load_cases(directory: Path = CASES_DIR) -> list[Case]:
    """Every `*.json` case in `directory`, sorted by id; ValueError names a bad file."""
    return [load_case(path) for path in sorted(directory.glob("*.json"))]


def load_case(path: Path) -> Case:
    """One case file; ValueError (with the file name) when it is malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _case_from(path.stem, data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{path.name}: {exc}") from exc


def _case_from(case_id: str, data: dict[str, Any]) -> Case:
    _require(isinstance(data, dict), "not a JSON object")
    _require(data.keys() >= REQUIRED_KEYS, f"missing keys {sorted(REQUIRED_KEYS - data.keys())}")
    _require(data.keys() <= CASE_KEYS, f"unknown keys {sorted(data.keys() - CASE_KEYS)}")
    for key in ("title", "spec", "request", "note"):
        _require(isinstance(data.get(key, ""), str), f"{key!r} must be a string")
    for key in ("shut_write", "unsure"):
        _require(isinstance(data.get(key, False), bool), f"{key!r} must be true or false")
    _require(data["then"] in THEN_VALUES, f"'then' must be one of {THEN_VALUES}")
    _require(isinstance(data["expect"], list), "'expect' must be a list")
    for entry in data["expect"]:
        _check_expect_entry(entry)
    return Case(
        id=case_id,
        title=data["title"],
        spec=data["spec"],
        request=data["request"].encode("latin-1"),
        shut_write=data.get("shut_write", False),
        expect=data["expect"],
        then=data["then"],
        unsure=data.get("unsure", False),
        note=data.get("note", ""),
    )


def _check_expect_entry(entry: Any) -> None:
    _require(isinstance(entry, dict), "each 'expect' entry must be an object")
    _require(entry.keys() <= EXPECT_KEYS, f"unknown expect keys {sorted(entry.keys() - EXPECT_KEYS)}")
    _require(isinstance(entry.get("status"), int), "each 'expect' entry needs an integer 'status'")
    headers = entry.get("headers", {})
    _require(isinstance(headers, dict), "'headers' must be an object")
    for name, value in headers.items():
        _require(name == name.lower(), f"header name {name!r} must be lower-case")
        _require(isinstance(value, str), f"header {name!r} value must be a string")
    if "body" in entry:
        _require(isinstance(entry["body"], str), "'body' must be a string")
        entry["body"].encode("latin-1")
    _require(isinstance(entry.get("echo", {}), dict), "'echo' must be an object")
    _require(isinstance(entry.get("head", False), bool), "'head' must be true or false")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# --- reading responses ---------------------------------------------------------


@dataclass
class Answer:
    """One response as read off the wire (status 0: not an HTTP response)."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Observation:
    """What a server did with a case: its answers, then the connection's state."""

    answers: list[Answer]
    then: str  # "closed", "open" or "timeout"
    extra: list[Answer] = field(default_factory=list)  # answers nobody asked for


class Closed(Exception):
    """The peer closed or reset the connection before a whole response."""


class ResponseReader:
    """Incremental HTTP/1.1 response reader over any `recv(n) -> bytes`.

    Raises Closed on EOF or reset, TimeoutError when recv times out.
    """

    def __init__(self, recv: Callable[[int], bytes]) -> None:
        self._recv = recv
        self._buffer = bytearray()
        self.eof = False  # the peer closed or reset the connection

    def read_response(self, head: bool = False) -> Answer:
        """The next response; `head` says it answers a HEAD (no body)."""
        line = self._read_line()
        match = re.fullmatch(rb"HTTP/\d\.\d (\d{3})(?: (.*))?", line)
        if match is None:
            return Answer(0, f"not a status line: {line[:80]!r}", [], line + b"\n" + self._drain())
        status = int(match.group(1))
        headers = self._read_headers()
        body = b"" if head or _bodiless(status) else self._read_body(headers)
        return Answer(status, (match.group(2) or b"").decode("latin-1"), headers, body)

    def at_eof(self) -> bool:
        """True when the peer closes without sending anything more."""
        if self._buffer:
            return False
        try:
            return not self._fill()
        except Closed:
            return True

    def _read_headers(self) -> list[tuple[str, str]]:
        headers = []
        while line := self._read_line():
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip(" \t")))
        return headers

    def _read_body(self, headers: list[tuple[str, str]]) -> bytes:
        if _header(headers, "transfer-encoding").lower().endswith("chunked"):
            return self._read_chunked()
        length = _header(headers, "content-length")
        if length.isdigit():
            return self._read_exact(int(length))
        return self._drain()  # close-delimited

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while size := self._read_chunk_size():
            body += self._read_exact(size)
            self._read_line()
        while self._read_line():  # trailer section
            pass
        return bytes(body)

    def _read_chunk_size(self) -> int:
        line = self._read_line().split(b";")[0].strip()
        if not re.fullmatch(rb"[0-9a-fA-F]{1,16}", line):
            raise Closed(f"bad chunk size in a response: {line[:20]!r}")
        return int(line, 16)

    def _read_line(self) -> bytes:
        while (end := self._buffer.find(b"\n")) < 0:
            if len(self._buffer) > MAX_LINE or not self._fill():
                raise Closed("connection closed inside a response line")
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line.removesuffix(b"\r")

    def _read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise Closed("connection closed inside a response body")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _drain(self) -> bytes:
        """Everything until EOF or a timeout (for close-delimited bodies)."""
        try:
            while self._fill():
                pass
        except (Closed, TimeoutError):
            pass
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def _fill(self) -> bool:
        """Read more into the buffer; False on EOF."""
        try:
            data = self._recv(65536)
        except CLOSED_ERRORS as exc:
            self.eof = True
            raise Closed(str(exc)) from exc
        self._buffer += data
        self.eof = not data
        return bool(data)


def _bodiless(status: int) -> bool:
    return 100 <= status < 200 or status in (204, 304)


def _header(headers: list[tuple[str, str]], name: str) -> str:
    return ", ".join(value for key, value in headers if key.lower() == name)


# --- running a case -------------------------------------------------------------


def run_case(host: str, port: int, case: Case, timeout: float = 5.0) -> Observation:
    """Send the case's bytes to a live server and observe what it does."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        _send(sock, case.request)
        if case.shut_write:
            _shut_write(sock)
        reader = ResponseReader(sock.recv)
        answers, then = _read_expected(reader, case)
        if then is not None:
            return Observation(answers, then)
        if case.shut_write:
            return Observation(answers, *_await_close(reader))
        return Observation(answers, *_probe(sock, reader))


def _send(sock: socket.socket, data: bytes) -> bool:
    """sendall; False when the server has already closed (its answer may wait)."""
    try:
        sock.sendall(data)
        return True
    except (*CLOSED_ERRORS, TimeoutError):
        return False


def _shut_write(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # already reset: the reads will tell


def _read_expected(reader: ResponseReader, case: Case) -> tuple[list[Answer], str | None]:
    """Read one response per expected entry; a `then` if the reading had to stop."""
    answers: list[Answer] = []
    for entry in case.expect:
        try:
            answer = reader.read_response(head=entry.get("head", False))
        except Closed:
            return answers, "closed"
        except TimeoutError:
            return answers, "timeout"
        answers.append(answer)
        if answer.status == 0:  # garbage was drained to EOF or timeout
            return answers, _after_drain(reader)
    return answers, None


def _after_drain(reader: ResponseReader) -> str:
    return "closed" if reader.eof else "timeout"


def _await_close(reader: ResponseReader) -> tuple[str, list[Answer]]:
    """After a half-close: the server should close; anything else is extra."""
    extra: list[Answer] = []
    for _ in range(MAX_EXTRA):
        try:
            if reader.at_eof():
                return "closed", extra
            extra.append(reader.read_response())
        except Closed:
            return "closed", extra
        except TimeoutError:
            return "timeout", extra
    return "open", extra


def _probe(sock: socket.socket, reader: ResponseReader) -> tuple[str, list[Answer]]:
    """Is the connection still usable? Send GET /plaintext and look for its answer."""
    extra: list[Answer] = []
    if not _send(sock, PROBE):
        return "closed", extra
    for _ in range(MAX_EXTRA):
        try:
            answer = reader.read_response()
        except Closed:
            return "closed", extra
        except TimeoutError:
            return "timeout", extra
        if answer.status == 200 and answer.body == PROBE_BODY:
            return "open", extra
        extra.append(answer)
        if answer.status == 0:
            return _after_drain(reader), extra
    return "open", extra


# --- comparing ------------------------------------------------------------------


def normalise(obs: Observation) -> dict[str, Any]:
    """A JSON-able form of `obs` with only what may differ between layers masked."""
    result: dict[str, Any] = {"answers": [_normalise_answer(a) for a in obs.answers], "then": obs.then}
    if obs.extra:
        result["extra"] = [_normalise_answer(a) for a in obs.extra]
    return result


def _normalise_answer(answer: Answer) -> dict[str, Any]:
    headers = sorted((name.lower(), _mask(name.lower(), value)) for name, value in answer.headers)
    return {
        "status": answer.status,
        "reason": answer.reason,
        "headers": [list(pair) for pair in headers],
        "body": answer.body.decode("latin-1"),
    }


def _mask(name: str, value: str) -> str:
    if name == "date":
        return "<date>"
    if name == "server":
        return re.sub(r"server-layers \([^)]*\)", "server-layers (<layer>)", value)
    return value


def check(case: Case, obs: Observation) -> list[str]:
    """Every way `obs` differs from what `case` expects; [] when it matches."""
    problems = []
    if len(obs.answers) != len(case.expect):
        problems.append(f"expected {len(case.expect)} response(s), got {len(obs.answers)}")
    for index, (entry, answer) in enumerate(zip(case.expect, obs.answers, strict=False), 1):
        problems += [f"response {index}: {p}" for p in _check_answer(entry, answer)]
    problems += [f"unexpected extra response: {_summary(a)}" for a in obs.extra]
    if obs.then != case.then:
        problems.append(f"connection: expected {case.then}, got {obs.then}")
    return problems


def _check_answer(entry: dict[str, Any], answer: Answer) -> list[str]:
    if answer.status != entry["status"]:
        return [f"status {entry['status']} expected, got {_summary(answer)}"]
    problems = []
    for name, value in entry.get("headers", {}).items():
        got = _header(answer.headers, name)
        if got != value:
            problems.append(f"header {name}: expected {value!r}, got {got!r}")
    if "body" in entry and answer.body != entry["body"].encode("latin-1"):
        problems.append(f"body: expected {entry['body']!r}, got {_short(answer.body)}")
    if "echo" in entry:
        problems += _check_echo(entry["echo"], answer.body)
    return problems


def _check_echo(expected: dict[str, Any], body: bytes) -> list[str]:
    try:
        echo = json.loads(body)
    except ValueError:
        return [f"echo: body is not JSON: {_short(body)}"]
    if not isinstance(echo, dict):
        return [f"echo: body is not a JSON object: {_short(body)}"]
    return [
        f"echo {key}: expected {value!r}, got {echo.get(key, '<missing>')!r}"
        for key, value in expected.items()
        if echo.get(key) != value
    ]


def _summary(answer: Answer) -> str:
    return f"{answer.status} {answer.reason} {_short(answer.body)}"


def _short(data: bytes, limit: int = 80) -> str:
    return repr(data[:limit]) + ("..." if len(data) > limit else "")


# --- command line ---------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the corpus (or the named cases) against HOST:PORT; 1 if any case fails."""
    parser = OneLineParser(prog="python -m conformance.corpus", description=__doc__)
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("ids", nargs="*", help="case ids to run (default: all)")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per read (default 5)")
    parser.add_argument("--json", action="store_true", help="print the normalised observation of failures")
    args = parser.parse_args(argv)
    cases = [c for c in load_cases() if not args.ids or c.id in args.ids]
    failed = sum(not _report(args, case) for case in cases)
    print(f"{len(cases) - failed}/{len(cases)} passed")
    return 1 if failed else 0


def _report(args: argparse.Namespace, case: Case) -> bool:
    obs = run_case(args.host, args.port, case, args.timeout)
    problems = check(case, obs)
    mark = " (unsure)" if case.unsure else ""
    print(f"{case.id}: {'FAIL' if problems else 'PASS'}{mark}{': ' if problems else ''}{'; '.join(problems)}")
    if problems and args.json:
        print(json.dumps(normalise(obs), indent=2)[:2000])
    sys.stdout.flush()
    return not problems


if __name__ == "__main__":
    sys.exit(main())
