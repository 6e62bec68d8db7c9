"""The `server-layers` command: one entry point for every layer and every tool (bench, report, probe, ...).

It starts a layer by name; it never imports locust and never serves in-process anything but a layer's own main.
"""

import argparse
import importlib
import sys

from bench.catalog import SERVER_MODULES, STORY
from bench.process import exit_on_sigterm
from oneline import OneLineParser, fail

LAYERS = SERVER_MODULES  # layer -> module with main(argv)
BUILT_ON = ", ".join(built_on for built_on, *_ in STORY.values())  # the catalog's standard-library layers, in order
TOOLS = {  # subcommand -> (module with main(argv), help); each has its own --help
    "bench": ("bench.cli", "measure the layers with Locust (BENCH.md §2)"),
    "report": ("reports.cli", "charts, report.html and summary.md from a bench run (BENCH.md §3)"),
    "probe": ("server_layers.probe", "the conformance matrix: the corpus on every layer and model (BENCH.md §4)"),
    "compare": ("server_layers.compare",
                "probe, the layers in interleaved rounds, the report: the main job (BENCH.md §5)"),
    "explain": ("server_layers.explain", "system calls, where the CPU goes, flame graphs, reference columns: "
                "measured into a run's folder, then its report"),
    "sweep": ("bench.sweep", "cost against load: CPU per request and latency from a light rate to saturation"),
    "soak": ("bench.soak", "mixed load for minutes on one server, sampling RSS, fds and threads"),
    "hostile": ("bench.hostile", "clients that pipeline and never read, or read a byte a second: "
                "each concurrent server's memory, closes and a normal client's latency meanwhile"),
}
EPILOG = """examples:
  server-layers serve raw_socket                      # threaded, http://127.0.0.1:8000
  server-layers serve http_server_impl --model forking --port 0
  server-layers serve raw_socket --model selectors --access-log
  server-layers serve LAYER --help                    # every server option
  server-layers bench --rates 500,1000,2000 --repeat 3  # measure (see: server-layers bench --help)
  server-layers report results/RUN                      # charts and report.html from a bench run
  server-layers compare                                 # probe + quick bench + report, in minutes
  server-layers explain results/RUN                     # + system calls, CPU split, flame graphs, why
"""


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="server-layers",
        description=f"One HTTP/1.1 server on each standard-library layer ({BUILT_ON}), side by side.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)
    serve = commands.add_parser("serve", help="run one layer's server", add_help=False)
    serve.add_argument("layer", nargs="?", metavar="LAYER", help=f"one of: {', '.join(LAYERS)}")
    for name, (_, help_text) in TOOLS.items():
        commands.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "serve":
        return serve_layer(args.layer, rest)
    exit_on_sigterm()  # a layer stops on SIGTERM by itself; a tool stops what it started first
    return importlib.import_module(TOOLS[args.command][0]).main(rest)


SERVE_HELP = f"""usage: server-layers serve LAYER [options]

Run one layer's server in the foreground (SPEC §1); Ctrl-C or SIGTERM stops it.

LAYER is one of: {', '.join(LAYERS)}
`server-layers serve LAYER --help` lists every option of that layer's server.
"""


def serve_layer(layer: str | None, rest: list[str]) -> int:
    """`serve LAYER [options]`: the layer's own main, its usage naming this command; help without a LAYER."""
    if layer is None or layer.startswith("-"):
        if layer in ("-h", "--help") or {"-h", "--help"} & set(rest):
            print(SERVE_HELP, end="")
            return 0
        fail(f"server-layers serve: give a LAYER, one of {', '.join(LAYERS)} (see server-layers serve --help)")
    if layer not in LAYERS:
        fail(f"server-layers serve: unknown LAYER {layer!r} (choose from {', '.join(LAYERS)})")
    return importlib.import_module(LAYERS[layer]).main(rest, prog=f"server-layers serve {layer}")


if __name__ == "__main__":
    sys.exit(main())
