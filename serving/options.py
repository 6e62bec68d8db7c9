"""The command line of every server (SPEC §1), parsed once for all layers.

Bad input ends the process with one line on stderr and exit 2, never a traceback.
"""

import argparse
from dataclasses import dataclass
from pathlib import Path

from oneline import OneLineParser, bounded, fail, seconds


@dataclass(frozen=True)
class Defaults:
    """SPEC §1's defaults of the options every server has."""

    host: str = "127.0.0.1"
    port: int = 8000
    model: str = "threaded"
    data_dir: Path = Path("var")


DEFAULTS = Defaults()


port = bounded(int, 0, 65535, "port (0..65535)")
backlog = bounded(int, 1, 65535, "listen backlog (1..65535)")
connections = bounded(int, 1, 1_000_000, "connection count (1..1000000)")
EVENT_LOOP_MODELS = ("selectors", "streams", "protocol")  # one thread serves every connection
MAX_CONNECTIONS = dict.fromkeys(EVENT_LOOP_MODELS, 100_000)  # one socket each; a thread or a process costs far more
DEFAULT_MAX_CONNECTIONS = 1024
LOOP_MODULES = {"asyncio": None, "uvloop": "uvloop"}  # --loop NAME -> the module it needs beyond the standard library


def default_model(models: list[str]) -> str:
    """`threaded` where a layer has it (SPEC §1), else the layer's first model (asyncio_impl: streams)."""
    return DEFAULTS.model if DEFAULTS.model in models else models[0]


def add_server_options(parser: argparse.ArgumentParser, models: list[str], loops: bool = False) -> None:
    parser.add_argument("--host", default=DEFAULTS.host, help="address to bind (default %(default)s; ::1 for IPv6)")
    parser.add_argument("--port", type=port, default=DEFAULTS.port,
                        help="port (default %(default)s; 0 picks a free one)")
    parser.add_argument("--model", choices=models, default=default_model(models),
                        help="concurrency model (default %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULTS.data_dir,
                        help="folder of messages.db (default ./var)")
    parser.add_argument("--keepalive-timeout", type=seconds, default=5.0, metavar="S",
                        help="close an idle connection after S seconds (default 5)")
    parser.add_argument("--header-timeout", type=seconds, default=10.0, metavar="S",
                        help="408 when a request head takes over S seconds (default 10)")
    parser.add_argument("--send-timeout", type=seconds, default=10.0, metavar="S",
                        help="close a connection whose send makes no progress for S seconds (default 10)")
    parser.add_argument("--backlog", type=backlog, default=128,
                        help="listen backlog, the same on every layer (default 128)")
    parser.add_argument("--cgi-dir", type=Path, default=None, metavar="D",
                        help="the folder of CGI scripts, /cgi-bin/NAME (default: the shipped cgi-bin/)")
    parser.add_argument("--cgi-timeout", type=seconds, default=10.0, metavar="S",
                        help="a CGI script still running after S seconds is killed, 504 (default 10)")
    parser.add_argument("--access-log", action="store_true", help="one Common Log Format line per request on stderr")
    parser.add_argument("--no-nodelay", dest="nodelay", action="store_false",
                        help="leave Nagle's algorithm on (a benchmark knob: every layer sets TCP_NODELAY by default)")
    parser.add_argument("--no-keepalive", dest="keepalive", action="store_false",
                        help="close the connection after every response (a benchmark knob)")
    parser.add_argument("--max-connections", type=connections, default=None, metavar="N",
                        help="open connections served at once; past it a 503 (default: 1024 threads or processes, "
                             "100000 on an event loop)")
    if loops:
        parser.add_argument("--loop", choices=list(LOOP_MODULES), default="asyncio",
                            help="the event loop (default %(default)s; uvloop, a benchmark knob, "
                                 "needs the uvloop extra)")


@dataclass(frozen=True)
class ServerOptions:
    """A server's options (SPEC §1 and the benchmark's knobs), parsed once; every layer reads them, none changes
    them."""

    layer: str
    host: str
    port: int
    model: str
    data_dir: Path
    keepalive_timeout: float
    header_timeout: float
    send_timeout: float
    backlog: int
    access_log: bool
    nodelay: bool
    keepalive: bool
    max_connections: int
    cgi_dir: Path | None = None  # None: the shipped cgi-bin/
    cgi_timeout: float = 10.0
    loop: str | None = None  # the event loop, on a layer that has one (asyncio_impl): asyncio or uvloop


def require_loop(prog: str, loop: str | None) -> None:
    """A --loop whose module is missing is a bad option: one line, exit 2, before anything is created."""
    needed = LOOP_MODULES.get(loop) if loop is not None else None  # None: a layer without --loop
    if needed is None:
        return
    try:
        __import__(needed)
    except ImportError:
        fail(f"{prog}: --loop {loop} needs the {needed} package, which is not installed "
             f"(pip install 'server-layers[{needed}]', or leave --loop at asyncio)")


def require_folder(prog: str, folder: Path | None) -> None:
    if folder is not None and not folder.is_dir():
        fail(f"{prog}: --cgi-dir {folder} is not a folder (give the folder of the CGI scripts)")


def parse(layer: str, models: list[str], argv: list[str] | None, prog: str | None = None,
          loops: bool = False) -> ServerOptions:
    """The options of `python -m LAYER` (or of `prog`, e.g. `server-layers serve LAYER`); `loops`: it has --loop."""
    parser = OneLineParser(prog=prog or f"python -m {layer}",
                           description=f"The server-layers HTTP/1.1 server on the {layer} layer.")
    add_server_options(parser, models, loops)
    given = vars(parser.parse_args(argv))
    require_loop(parser.prog, given.get("loop"))
    require_folder(parser.prog, given["cgi_dir"])
    cap = given.pop("max_connections") or MAX_CONNECTIONS.get(given["model"], DEFAULT_MAX_CONNECTIONS)
    return ServerOptions(layer=layer, max_connections=cap, **given)
