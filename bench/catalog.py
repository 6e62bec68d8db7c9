"""Which layers exist and which models each offers: the one list the CLI, bench, probe and tests share.

It lives with the harness, not in serving/: no layer reads it (a layer knows only its own MODELS).

Each layer's own `MODELS` table is the truth; tests/test_cli.py checks that this list matches it.
"""

from serving.options import EVENT_LOOP_MODELS, LOOPS as LOOP_NAMES, default_model

MODELS = {
    "raw_socket": ["iterative", "threaded", "forking", "selectors"],
    "socketserver_impl": ["iterative", "threaded", "forking"],
    "http_server_impl": ["iterative", "threaded", "forking"],
    "asyncio_impl": ["streams", "protocol"],
}
SERVER_MODULES = {layer: f"{layer}.server" for layer in MODELS}
STORY = {  # layer -> (built on, what the layer gives, what we add): the layer table of the README and the report
    "raw_socket": ("socket", "nothing: bind, listen, accept, recv, send",
                   "the accept loop, four concurrency models, the recv loop"),
    "socketserver_impl": ("socketserver", "the accept loop and the concurrency mixins",
                          "the recv loop (shared with raw_socket)"),
    "http_server_impl": ("http.server", "the loop, the mixins, request parsing",
                         "the gaps between stock http.server and RFC 9112"),
    "asyncio_impl": ("asyncio", "the event loop and transports",
                     "the protocol and the parser (the Session raw_socket's selectors model drives)"),
}
DEFAULT_MODEL = {layer: default_model(models) for layer, models in MODELS.items()}  # threaded, or asyncio's streams
LOOPS = {"asyncio_impl": list(LOOP_NAMES)}  # the layers with --loop, and its choices (the first is the default)
EVENT_LOOP_VARIANTS = [(layer, model) for layer, models in MODELS.items() for model in models if model in EVENT_LOOP_MODELS]
# each layer's default model and every event-loop model, once each: what syscalls, cpu_profile, cgi_cost and sweep measure
MEASURED_VARIANTS = list(dict.fromkeys([*DEFAULT_MODEL.items(), *EVENT_LOOP_VARIANTS]))


def stand_in(layer: str, model: str) -> str:
    """`model` where `layer` has it, else the layer's default: a group of one model, side by side on every layer."""
    return model if model in MODELS[layer] else DEFAULT_MODEL[layer]
