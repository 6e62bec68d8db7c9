"""What stock CGIHTTPRequestHandler does differently from this project's gateway, found by asking both.

    python -m conformance.cgi_differences [--layer raw_socket --model threaded]

Starts stock (bench/stock_cgi.py) and one of our servers over the same folder: the shipped scripts and
three that fail (exit 1, a head that is not one, nothing at all). Then (1) the corpus's cgi-* cases on both,
each answer checked against the contract; (2) env.py asked the same request on both, the meta-variables
compared; (3) the failing scripts. Prints a Markdown list of every difference; exit 0. `server_layers.cgi_cost`
records the same list in its results.json, and the report shows it beside the figures.
"""

import base64
import json
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

from bench.catalog import DEFAULT_MODEL, MODELS
from bench.process import ROOT, SHIPPED_CGI_BIN, ServerProcess, layer_command
from oneline import OneLineParser, fail

from .corpus import ResponseReader, check, load_cases, run_case

FIRST_LAYER = next(iter(MODELS))  # our side by default: the catalog's first layer, its default model

FAILING = {
    "exits-1.sh": "echo 'Content-Type: text/plain'; echo; echo partial; exit 1",
    "no-head.sh": "echo 'this is not a header line'; echo; echo body",
    "says-nothing.sh": "exit 0",
}
ENV_REQUEST = (b"POST /cgi-bin/env.py/extra?x=1 HTTP/1.1\r\nHost: example.test\r\nX-Many: one\r\nX-Many: two\r\n"
               b"Proxy: http://evil.example/\r\nAuthorization: Basic c2VjcmV0\r\nX_Alias: aliased\r\n"
               b"Content-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")


def make_folder(parent: Path) -> Path:
    folder = parent / "cgi-bin"
    folder.mkdir()
    for name in ("hello.sh", "env.py"):
        shutil.copy2(SHIPPED_CGI_BIN / name, folder / name)
    for name, body in FAILING.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def ask(server: ServerProcess, raw: bytes):
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(raw)
        try:
            return ResponseReader(sock.recv).read_response()
        except Exception as exc:  # any way an answer fails to parse is a finding
            return f"no answer the reader could parse ({type(exc).__name__}: {exc})"


def meta_variables(server: ServerProcess) -> dict | str:
    answer = ask(server, ENV_REQUEST)
    if isinstance(answer, str):
        return answer
    try:
        value = json.loads(answer.body)
    except ValueError:
        return f"{answer.status}, not JSON"
    return {**value["env"], "(stdin)": base64.b64decode(value["stdin_base64"]).decode("latin-1")}


def corpus_lines(ours: ServerProcess, stock: ServerProcess) -> list[str]:
    lines = []
    for case in [case for case in load_cases() if case.id.startswith("cgi-")]:
        mine, theirs = (run_case(s.host, s.port, case, timeout=5) for s in (ours, stock))
        problems = check(case, theirs)
        if problems:
            lines.append(f"- corpus `{case.id}` ({case.title}): stock {'; '.join(problems)}"
                         + ("" if not check(case, mine) else " (ours fails it too)"))
    return lines


def env_lines(ours: ServerProcess, stock: ServerProcess) -> list[str]:
    mine, theirs = meta_variables(ours), meta_variables(stock)
    if isinstance(mine, str) or isinstance(theirs, str):
        return [f"- env.py: ours {mine if isinstance(mine, str) else 'answered'}, "
                f"stock {theirs if isinstance(theirs, str) else 'answered'}"]
    only_stock = sorted(set(theirs) - set(mine))
    inherited = [name for name in only_stock if name in os.environ]  # the server's own environment, passed on
    only_ours = sorted(set(mine) - set(theirs))
    differ = sorted(name for name in set(mine) & set(theirs)
                    if mine[name] != theirs[name] and name not in ("REMOTE_PORT", "SERVER_PORT", "PATH"))
    lines = [f"- env.py: stock passes {len(only_stock)} variables ours does not: "
             f"{', '.join(name for name in only_stock if name not in inherited)}, and {len(inherited)} inherited from "
             "the server's own environment (ours passes none)"]
    if theirs.get("PATH") != mine.get("PATH"):
        lines.append(f"- env.py: `PATH` is the server's own on stock, fixed to {mine.get('PATH')} on ours")
    lines += [f"- env.py: ours passes {len(only_ours)} variables stock does not: {', '.join(only_ours)}"]
    lines += [f"- env.py: `{name}` is {theirs[name]!r} on stock, {mine[name]!r} on ours" for name in differ]
    return lines


def failing_lines(ours: ServerProcess, stock: ServerProcess) -> list[str]:
    lines = []
    for name in FAILING:
        raw = f"GET /cgi-bin/{name} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n".encode()
        mine, theirs = (ask(s, raw) for s in (ours, stock))
        show = [a if isinstance(a, str) else f"{a.status} {a.body[:40]!r}" for a in (mine, theirs)]
        lines.append(f"- `{name}`: stock answers {show[1]}; ours {show[0]}")
    return lines


def differences(layer: str = FIRST_LAYER, model: str = DEFAULT_MODEL[FIRST_LAYER]) -> list[str]:
    """Every difference found, one Markdown list item each; ValueError for a layer or model that does not exist,
    RuntimeError when a server does not start."""
    if layer not in MODELS:
        raise ValueError(f"unknown layer {layer!r} (choose from {', '.join(MODELS)})")
    if model not in MODELS[layer]:
        raise ValueError(f"{layer} has no model {model!r} (choose from {', '.join(MODELS[layer])})")
    with tempfile.TemporaryDirectory(prefix="cgi-differences-") as scratch:
        folder = make_folder(Path(scratch))
        ours = ServerProcess(layer_command(layer, model, Path(scratch) / "data", ["--cgi-dir", str(folder)]),
                             Path(scratch) / "ours.stderr", name=f"{layer}/{model}", cwd=ROOT).wait_ready()
        stock = ServerProcess([sys.executable, "-m", "bench.stock_cgi", "--port", "0", "--cgi-dir", str(folder)],
                              Path(scratch) / "stock.stderr", name="stock_cgi", cwd=ROOT).wait_ready()
        try:
            return corpus_lines(ours, stock) + env_lines(ours, stock) + failing_lines(ours, stock)
        finally:
            ours.stop()
            stock.stop()


def main(argv: list[str] | None = None) -> int:
    p = OneLineParser(prog="python -m conformance.cgi_differences", description=__doc__.split("\n\n")[0])
    p.add_argument("--layer", default=FIRST_LAYER, help=f"our side: one of {', '.join(MODELS)} (default %(default)s)")
    p.add_argument("--model", default=DEFAULT_MODEL[FIRST_LAYER], help="its model (default %(default)s)")
    args = p.parse_args(argv)
    try:
        lines = differences(args.layer, args.model)
    except ValueError as exc:
        fail(f"{p.prog}: {exc}")
    print(f"# stock CGIHTTPRequestHandler against {args.layer}/{args.model}'s gateway: {len(lines)} differences\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
