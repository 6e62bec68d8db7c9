"""Which layers exist and which models each offers: the one list the CLI, bench, probe and tests share.

It lives with the harness, not in serving/: no layer reads it (a layer knows only its own MODELS).

Each layer's own `MODELS` table is the truth; tests/test_cli.py checks that this list matches it.
"""

MODELS = {
    "raw_socket": ["iterative", "threaded", "forking", "selectors"],
    "socketserver_impl": ["iterative", "threaded", "forking"],
    "http_server_impl": ["iterative", "threaded", "forking"],
}
SERVER_MODULES = {layer: f"{layer}.server" for layer in MODELS}
