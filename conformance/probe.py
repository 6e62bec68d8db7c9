"""`server-layers probe`: the conformance matrix (BENCH §4), every corpus case on every server.

`probe(servers, cases)` sends each case to each server at HOST:PORT (one thread
per server, its cases one after another, so an iterative server is never asked
to serve two clients at once) and returns the matrix: per case x server the
status lines (or nothing: "closed", "timed out"), the state afterwards, /echo's
view of the request, the problems against the contract (corpus.check) and
whether the answer differs from the other servers (corpus.normalise), as
records (conformance.matrix). The command starts the layers itself (`python -m
LAYER --port 0`, as the tests do), stops them with SIGTERM, and writes
conformance.json (conformance.matrix writes it): data only; reports.matrix
renders it (server_layers.probe is the command that does both). Client side
only: it never imports a server package, a report or locust.
"""

import argparse
import dataclasses
import hashlib
import json
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from bench.catalog import MODELS
from bench.process import ServerProcess, layer_command
from bench.reference_servers import Target, ensure_venv, frameworks, production, start, stock
from oneline import OneLineParser

from .corpus import Case, Observation, check, load_cases, normalise, run_case
from .matrix import FILE_NAME, Cell, Echo, Matrix, ReferenceCounts, Row, Server, Totals, write_matrix

ECHO_KEYS = ("method", "target", "version", "headers", "body_base64")


class ProbeError(ValueError):
    """What cannot be probed as asked (an unknown layer or case, a bad --server); the command says it in one line."""


THEN_WORDS = {"closed": "closed", "open": "open", "timeout": "timed out"}
REQUEST_SHOWN = 400  # characters of a case's request kept in conformance.json


# --- the matrix ------------------------------------------------------------------------


class Progress:
    """"probe: 1200/2000 answers" on stderr as the answers come in (at most every half second), then the total."""

    EVERY_S = 0.5

    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total, self.done, self.stream = total, 0, stream
        self.lock, self.shown = threading.Lock(), 0.0
        self.inline = stream.isatty()

    def tick(self) -> None:
        with self.lock:
            self.done += 1
            now = time.monotonic()
            if now - self.shown >= self.EVERY_S or self.done == self.total:
                self.shown = now
                end = "\n" if self.done == self.total or not self.inline else ""
                print(f"{chr(13) if self.inline else ''}probe: {self.done}/{self.total} answers", end=end,
                      file=self.stream, flush=True)


def probe(servers: dict[str, tuple[str, int]], cases: list[Case], timeout: float = 5.0,
          progress: Progress | None = None, references: frozenset[str] = frozenset()) -> Matrix:
    """Every case on every server (name -> (host, port)); the matrix. The servers named in `references` are
    reference columns: probed alike, never the majority a cell diverges from, never counted in the totals
    (their own counts are in totals.references)."""
    started = utc_now()
    tick = progress.tick if progress else lambda: None
    with ThreadPoolExecutor(max_workers=max(1, len(servers))) as pool:
        futures = {name: pool.submit(observe_all, host, port, cases, timeout, tick)
                   for name, (host, port) in servers.items()}
        observations = {name: future.result() for name, future in futures.items()}
    rows = [row(case, {name: observations[name][i] for name in servers}, references) for i, case in enumerate(cases)]
    return Matrix(started=started, finished=utc_now(), timeout_s=timeout,
                  servers={name: Server(address=f"{host}:{port}", reference=name in references)
                           for name, (host, port) in servers.items()},
                  rows=tuple(rows), totals=totals(rows, [name for name in servers if name not in references],
                                                  references))


def observe_all(host: str, port: int, cases: list[Case], timeout: float, tick=lambda: None) -> list[Observation | str]:
    """The observation of each case, in order; a string when the case could not even connect."""
    results: list[Observation | str] = []
    for case in cases:
        try:
            results.append(run_case(host, port, case, timeout))
        except OSError as exc:
            results.append(f"could not connect: {exc}")
        tick()
    return results


def row(case: Case, observations: dict[str, Observation | str], references: frozenset[str] = frozenset()) -> Row:
    """One case: what it sends and expects, and a cell per server with its flags."""
    cells = mark_divergence({name: cell(case, obs) for name, obs in observations.items()}, references)
    request = case.request.decode("latin-1")
    if len(request) > REQUEST_SHOWN:
        request = request[:REQUEST_SHOWN] + f"… ({len(case.request)} bytes in all)"
    return Row(id=case.id, title=case.title, spec=case.spec, unsure=case.unsure, note=case.note, request=request,
               expected=outcome([str(e["status"]) for e in case.expect], case.then), cells=cells)


def cell(case: Case, obs: Observation | str) -> Cell:
    """One server's answer to one case, not yet compared with the others' (mark_divergence)."""
    if isinstance(obs, str):
        return Cell(responses=(), extra=(), then="error", outcome=obs, problems=(obs,), substance=True,
                    fingerprint=obs)
    normalised = normalise(obs)
    problems = check(case, obs)
    return Cell(
        responses=tuple(status_line(a.status, a.reason) for a in obs.answers),
        extra=tuple(status_line(a.status, a.reason) for a in obs.extra),
        then=obs.then,
        outcome=outcome([str(a.status) if a.status else "not HTTP" for a in obs.answers + obs.extra], obs.then),
        problems=tuple(problems),
        substance=any(in_substance(case, problem) for problem in problems),
        fingerprint=hashlib.sha256(json.dumps(normalised, sort_keys=True).encode()).hexdigest()[:16],
        echo=tuple(echo_view(a.body) for a in obs.answers) if b"/echo" in case.request else None)


def status_line(status: int, reason: str) -> str:
    return f"{status} {reason}".strip() if status else f"not HTTP: {reason}"


def outcome(statuses: list[str], then: str) -> str:
    """"400 · closed", "100 + 200 · open", "closed" (no answer) or "timed out"."""
    then_word = THEN_WORDS.get(then, then)
    return f"{' + '.join(statuses)} · {then_word}" if statuses else then_word


def echo_view(body: bytes) -> Echo | None:
    """What /echo says it parsed (method, target, version, headers, body_base64), or None."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    if not (isinstance(parsed, dict) and "method" in parsed):
        return None
    return Echo.from_json({key: parsed.get(key) for key in ECHO_KEYS})


def mark_divergence(cells: Mapping[str, Cell], references: frozenset[str] = frozenset()) -> dict[str, Cell]:
    """The cells again, each flagged when its normalised answer is not the reference one.

    The reference is the answer most of the project's servers gave (reference columns
    never vote unless there is nothing else); on a tie, the one that meets the
    contract, then the first server's. A lone server never diverges.
    """
    groups: dict[str, list[str]] = {}
    voters = [name for name in cells if name not in references] or list(cells)
    for name in voters:
        groups.setdefault(cells[name].fingerprint or "", []).append(name)
    order = list(cells)
    reference = max(groups.values(), key=lambda names: (
        len(names), all(not cells[n].problems for n in names), -order.index(names[0])))
    marked = {}
    for name, entry in cells.items():  # a reference column is judged by the contract only (its Server differs)
        diverges = name not in references and entry.fingerprint != cells[reference[0]].fingerprint
        marked[name] = dataclasses.replace(entry, diverges=diverges, differs_from=tuple(reference) if diverges else ())
    return marked


def totals(rows: Sequence[Row], counted: list[str], references: frozenset[str] = frozenset()) -> Totals:
    """The project's servers (`counted`) in the totals; each reference column's own counts beside them."""
    cells = [r.cells[name] for r in rows for name in counted]
    return Totals(
        cases=len(rows),
        servers=len(counted),
        cells=len(cells),
        contract=sum(bool(c.problems) for c in cells),
        diverging=sum(c.diverges for c in cells),
        cases_flagged=sum(any(r.cells[n].problems or r.cells[n].diverges for n in counted) for r in rows),
        unsure=sum(bool(r.unsure) for r in rows),
        references={name: ReferenceCounts(contract=sum(bool(r.cells[name].problems) for r in rows),
                                          substance=sum(bool(r.cells[name].substance) for r in rows))
                    for name in (rows[0].cells if rows else []) if name in references},
    )


def in_substance(case: Case, problem: str) -> bool:
    """A difference in what was answered (status, how many answers, the connection, what /echo saw, a success's
    body or fields), not only in the form SPEC fixes for an error answer (its body's text, a field's value)."""
    match = re.match(r"response (\d+): (body|header)\b", problem)
    if not match:
        return True
    index = int(match[1]) - 1
    return not (index < len(case.expect) and case.expect[index]["status"] >= 400)


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- servers as processes ----------------------------------------------------------------


def file_name(name: str) -> str:
    """A server's name as a file name: "stock http.server" -> "stock_http.server"."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def start_all(commands: dict[str, list[str]], folder: Path, references: Sequence[Target] = ()) -> list[ServerProcess]:
    """Start every server of `commands` at once and wait for each, then the reference servers one after another
    (bench.reference_servers); stop them all if one fails."""
    launched = [ServerProcess(command, folder / f"{file_name(name)}.stderr", name=name)
                for name, command in commands.items()]
    try:
        for server in launched:
            server.wait_ready()
        for target in references:
            launched.append(start(target, folder / file_name(target.name)))
    except RuntimeError:
        for server in launched:
            server.stop()
        raise
    return launched


def exit_status(server: ServerProcess) -> int | None:
    usage = server.stop()
    return usage.status if usage else None


def run(commands: dict[str, list[str]], addresses: dict[str, tuple[str, int]], cases: list[Case],
        timeout: float = 5.0, show_progress: bool = True, references: Sequence[Target] = ()) -> Matrix:
    """Start the servers of `commands` and the reference servers, probe them beside the already running
    `addresses`, stop them. The reference servers are the matrix's reference columns, at its right."""
    with tempfile.TemporaryDirectory(prefix="probe-") as scratch:
        launched = start_all(commands, Path(scratch), references)
        try:
            servers = {s.name: (s.host, s.port) for s in launched} | addresses
            progress = Progress(len(cases) * len(servers)) if show_progress else None
            names = [*commands, *addresses, *(t.name for t in references)]
            matrix = probe({name: servers[name] for name in names}, cases, timeout, progress,
                           frozenset(t.name for t in references))
        finally:
            statuses = {s.name: exit_status(s) for s in launched}
        stopped = {s.name: dataclasses.replace(matrix.servers[s.name], command=shlex.join(s.command),
                                               exit_status=statuses[s.name], tracebacks=s.stderr().count("Traceback"))
                   for s in launched}
    return dataclasses.replace(matrix, servers={name: stopped.get(name, info) for name, info in matrix.servers.items()})


# --- the command ---------------------------------------------------------------------------


EXAMPLES = """examples:
  server-layers probe                                        # every layer and model: results/probe-<UTC>/
  server-layers probe --layers raw_socket,http_server_impl --models threaded --cases host-empty,te-gzip
  server-layers probe --out results/RUN                       # beside a bench run, for its report
  server-layers probe --server mine=127.0.0.1:8080 --layers http_server_impl --models threaded
  server-layers probe --launch "fake=python tests/data/obsfold_proxy.py --upstream 127.0.0.1:8000"
exit status: 0 when every cell meets the contract and agrees with the others, 1 otherwise, 2 on bad input.
"""


def comma_list(text: str) -> list[str]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise ValueError(text)
    return values


comma_list.__name__ = "comma-separated list"


def parser() -> OneLineParser:
    p = OneLineParser(prog="server-layers probe", description="The raw-request corpus on every layer and model, "
                      "side by side: the conformance matrix (BENCH.md §4).", epilog=EXAMPLES,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, help="output folder (default results/probe-<UTC stamp>)")
    p.add_argument("--layers", type=comma_list, help=f"comma list of {', '.join(MODELS)} (default: all, "
                   "or none when --server/--launch is given)")
    p.add_argument("--models", type=comma_list, help="comma list (default: every model of each layer)")
    p.add_argument("--cases", type=comma_list, help="comma list of case ids (default: the whole corpus)")
    p.add_argument("--server", action="append", default=[], metavar="NAME=HOST:PORT",
                   help="also probe a server that is already running (repeatable)")
    p.add_argument("--launch", action="append", default=[], metavar="NAME=COMMAND",
                   help="also start COMMAND (from the repository root), which must print "
                        "'listening on http://HOST:PORT' (repeatable)")
    p.add_argument("--reference", action="store_true", help="also the reference columns: the same app on stock "
                   "http.server, uvicorn and gunicorn (installed into .venv-reference on first use); shown as such, "
                   "never counted in the totals or the exit status")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for each answer (default 5)")
    p.add_argument("--force", action="store_true", help="overwrite a conformance.json already in --out")
    return p


def every_layer(scratch: Path, layers: list[str] | None = None, models: list[str] | None = None,
                others: bool = False) -> dict[str, list[str]]:
    """The command of each chosen layer x model (default: every one; none when `others` are probed instead), its
    data in `scratch`; ProbeError for a layer or model that does not exist."""
    layers = layers or ([] if others else list(MODELS))
    unknown = [layer for layer in layers if layer not in MODELS]
    if unknown:
        raise ProbeError(f"unknown layer {unknown[0]!r} (choose from {', '.join(MODELS)})")
    pairs = [(layer, model) for layer in layers for model in MODELS[layer] if not models or model in models]
    if layers and not pairs:
        raise ProbeError(f"no layer among {','.join(layers)} has model {','.join(models or [])}")
    return {f"{layer}/{model}": layer_command(layer, model, scratch / f"{layer}-{model}") for layer, model in pairs}


def reference_targets(wanted: bool, required: bool = True) -> list[Target]:
    """Stock http.server, uvicorn, gunicorn and granian serving the app, and the framework apps (Flask on gunicorn,
    FastAPI on uvicorn), when `wanted` (installing their environment). When it cannot be installed: ProbeError, or
    (not `required`) a warning and stock http.server alone."""
    if not wanted:
        return []
    try:
        ensure_venv(log=lambda line: print(line, file=sys.stderr))
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        if required:
            raise ProbeError(f"the reference environment could not be installed: {exc}") from exc
        print(f"warning: no uvicorn or gunicorn column: the reference environment could not be installed ({exc})",
              file=sys.stderr)
        return [stock()]
    return [stock(), *production(), *frameworks()]


def named(items: list[str], what: str) -> dict[str, str]:
    result = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ProbeError(f"{what} needs NAME=VALUE, got {item!r}")
        result[name.strip()] = value.strip()
    return result


def addresses(args: argparse.Namespace) -> dict[str, tuple[str, int]]:
    result = {}
    for name, value in named(args.server, "--server").items():
        match = re.fullmatch(r"\[?([^\]]+?)\]?:(\d{1,5})", value)
        if not match:
            raise ProbeError(f"--server {name}: {value!r} is not HOST:PORT")
        result[name] = (match[1], int(match[2]))
    return result


def pick_cases(ids: list[str] | None) -> list[Case]:
    cases = load_cases()
    if not ids:
        return cases
    known = {case.id: case for case in cases}
    missing = [i for i in ids if i not in known]
    if missing:
        raise ProbeError(f"no case {missing[0]!r} in conformance/cases")
    return [known[i] for i in ids]


def write_data(matrix: Matrix, out: Path) -> Path:
    """conformance.json in `out` (conformance.matrix.write_matrix): the matrix as data (reports.matrix renders it)."""
    return write_matrix(matrix, out / FILE_NAME)


def probe_command(args: argparse.Namespace) -> tuple[Matrix, float]:
    """What `server-layers probe` (parser()'s arguments) measures: the matrix, and the seconds it took. Raises
    ProbeError for what cannot be probed as asked."""
    if args.timeout <= 0:
        raise ProbeError("--timeout must be above 0")
    cases = pick_cases(args.cases)
    launches = {name: shlex.split(command) for name, command in named(args.launch, "--launch").items()}
    references = reference_targets(args.reference)
    with tempfile.TemporaryDirectory(prefix="probe-data-") as scratch:
        commands = every_layer(Path(scratch), args.layers, args.models, bool(args.server or args.launch)) | launches
        running = addresses(args)
        if not commands and not running:
            raise ProbeError("nothing to probe")
        if taken := sorted({t.name for t in references} & {*launches, *running}):
            raise ProbeError(f"{taken[0]!r} names a reference column; give your server another name")
        started = time.monotonic()
        try:
            matrix = run(commands, running, cases, args.timeout, references=references)
        except RuntimeError as exc:
            raise ProbeError(str(exc)) from exc
    return matrix, time.monotonic() - started


def default_out() -> Path:
    return Path("results") / f"probe-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


