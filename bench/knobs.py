"""The knob matrix (BENCH §2): the one table of knobs, and stock http.server as a pseudo-layer beside ours.

A knob is a name for the flags it adds to every server's command line; `default`
adds none. bench's --knobs, the runner and the report all read this table. The
pseudo-layer `stock_http_server` is bench/stock_server.py, the reference row of the
matrix: model threaded, scenario plaintext only. Pure data and lookups: this
module starts nothing and must never import locust.
"""

from collections.abc import Mapping
from typing import Any

from .catalog import LOOPS
from .scenarios import CGI_SCENARIOS

DEFAULT = "default"
KNOBS = {  # name -> the server flags it adds, in the order of the matrix
    DEFAULT: [],
    "no-nodelay": ["--no-nodelay"],  # Nagle on: a response written in several sends may wait for a delayed ACK
    "no-keepalive": ["--no-keepalive"],  # Connection: close, a new connection for every request
    "backlog-5": ["--backlog", "5"],  # socketserver's stock request_queue_size (every layer defaults to 128)
    "access-log": ["--access-log"],  # one Common Log Format line per request on stderr
    "uvloop": ["--loop", "uvloop"],  # the C event loop (libuv) under our pure-Python parser; an optional extra
}
ONLY = {"uvloop": set(LOOPS)}  # a knob that only some layers take: the others skip it (no row, not a failure)

STOCK_LAYER = "stock_http_server"
STOCK_MODULE = "bench.stock_server"
STOCK_MODELS = ["threaded"]
STOCK_SCENARIOS = ["plaintext"]
STOCK_CGI_LAYER = "stock_cgi"  # stock CGIHTTPRequestHandler over the shipped cgi-bin/ (bench/stock_cgi.py)
PSEUDO = {  # pseudo-layer -> (module, the scenarios it serves, the knobs it takes)
    STOCK_LAYER: (STOCK_MODULE, STOCK_SCENARIOS, [k for k in KNOBS if k not in ONLY]),
    STOCK_CGI_LAYER: ("bench.stock_cgi", CGI_SCENARIOS, [DEFAULT, "access-log"]),
}


def applies(knob: str, layer: str) -> bool:
    """Whether `layer` takes `knob` (every layer takes every knob but those ONLY some take; a pseudo-layer, its own)."""
    if layer in PSEUDO:
        return knob in PSEUDO[layer][2]
    return layer in ONLY.get(knob, {layer})


def flags(knob: str) -> list[str]:
    return list(KNOBS[knob])


def flag_names(knobs: list[str]) -> set[str]:
    """The server flags (not their values) that `knobs` set."""
    return {word for knob in knobs for word in KNOBS[knob] if word.startswith("--")}


def knob_of(record: Mapping[str, Any]) -> str:
    """The knob of a run or a summary entry; results written before the matrix have none: default."""
    return record.get("knob") or DEFAULT


def in_order(names: list[str]) -> list[str]:
    """`names` without repeats, the table's knobs in the table's order, any other after them as found."""
    unique = list(dict.fromkeys(names))
    return [k for k in KNOBS if k in unique] + [k for k in unique if k not in KNOBS]


def module(layer: str) -> str:
    """The module `python -m` runs for `layer`."""
    return PSEUDO[layer][0] if layer in PSEUDO else layer
