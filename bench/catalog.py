"""Which layers exist and which models each offers: the one list the CLI, bench, probe, reports and tests share.

A layer is named in two places only: its own package and its entry in `LAYERS` below. Everything
else (the models, the CLI's choices, the colours, the reference rows, the Makefile's knob matrix,
the tests' parameters) is derived from here. Each layer's own `MODELS` table is the truth: it is
read, never restated. This module lives with the harness, not in serving/: no layer reads it, and
it must not import anything of a layer but its `server` module's `MODELS`.

    python -m bench.catalog        # the layers, comma-separated (what the Makefile reads)
"""

import sys
from dataclasses import dataclass
from importlib import import_module

from oneline import OneLineParser
from serving.options import EVENT_LOOP_MODELS, LOOP_MODULES, default_model


@dataclass(frozen=True)
class Layer:
    """One layer's catalog entry: its row of the layer table (README and report), and whether it takes --loop."""

    built_on: str  # the standard-library module it is built on
    gives: str  # what that module gives
    we_add: str  # what the layer adds
    loops: bool = False  # it takes --loop (serving.options.LOOP_MODULES): its event loop is a choice
    # (model, or model+loop; reference server; at most): the issues' aims, CPU per request (bench.reference)
    aims: tuple[tuple[str, str, float], ...] = ()


LAYERS = {  # layer package -> its entry; the order is the order of every table, chart and colour
    "raw_socket": Layer("socket", "nothing: bind, listen, accept, recv, send",
                        "the accept loop, four concurrency models, the recv loop; selectors sends a turn's "
                        "answers after all its reads (the client is woken once for them)",
                        aims=(("selectors", "uvicorn", 0.45),)),
    "socketserver_impl": Layer("socketserver", "the accept loop and the concurrency mixins",
                               "the recv loop (shared with raw_socket)",
                               aims=(("threaded", "uvicorn", 0.66),)),  # hold: the paired median of the 7ab817c run
    "http_server_impl": Layer("http.server", "the loop, the mixins, request parsing",
                              "the gaps between stock http.server and RFC 9112",
                              aims=(("threaded", "http.server+nodelay", 1.0),)),
    "asyncio_impl": Layer("asyncio", "the event loop and transports",
                          "the protocol and the parser (the Session raw_socket's selectors model drives); "
                          "protocol sends a turn's answers after all its reads, as selectors does",
                          loops=True, aims=(("protocol+uvloop", "uvicorn", 1.0), ("streams", "uvicorn", 1.0),
                                            ("protocol", "uvicorn", 0.45))),
}
SERVER_MODULES = {layer: f"{layer}.server" for layer in LAYERS}
MODELS = {layer: list(import_module(module).MODELS) for layer, module in SERVER_MODULES.items()}  # the layer's own
STORY = {layer: (entry.built_on, entry.gives, entry.we_add) for layer, entry in LAYERS.items()}  # the layer table
DEFAULT_MODEL = {layer: default_model(models) for layer, models in MODELS.items()}  # threaded, or the first model
# its choices, the first the default
LOOPS = {layer: list(LOOP_MODULES) for layer, entry in LAYERS.items() if entry.loops}
EVENT_LOOP_VARIANTS = [(layer, model) for layer, models in MODELS.items() for model in models
                       if model in EVENT_LOOP_MODELS]
# each layer's default model and every event-loop model, once each: what syscalls, cpu_profile, cgi_cost, sweep measure
MEASURED_VARIANTS = list(dict.fromkeys([*DEFAULT_MODEL.items(), *EVENT_LOOP_VARIANTS]))


def stand_in(layer: str, model: str) -> str:
    """`model` where `layer` has it, else the layer's default: a group of one model, side by side on every layer."""
    return model if model in MODELS[layer] else DEFAULT_MODEL[layer]


def main(argv: list[str] | None = None) -> int:
    """Print the layers, comma-separated: the Makefile's list (its knob matrix, `make serve`'s default)."""
    OneLineParser(prog="python -m bench.catalog", description="Print the catalog's layers, comma-separated, in "
                  "their order (what the Makefile reads).").parse_args(argv)
    print(",".join(LAYERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
