"""One look for every chart: a colour, line style, marker and hatch per layer.

The palette is Paul Tol's high-contrast scheme: its three colours differ in
lightness, so they stay apart in greyscale; line style, marker and hatch differ
per layer too. Stock http.server, the knob matrix's reference row (bench/knobs.py),
is grey. A layer has the same colour in every chart. Pure data, no drawing.
"""

from dataclasses import dataclass

from bench.knobs import STOCK_LAYER

PALETTE = {  # layer -> colour (dark, middle, light in greyscale)
    "raw_socket": "#004488",
    "socketserver_impl": "#BB5566",
    "http_server_impl": "#DDAA33",
    "asyncio_impl": "#228833",
    STOCK_LAYER: "#777777",
}
LINESTYLES = {"raw_socket": "-", "socketserver_impl": "--", "http_server_impl": ":", "asyncio_impl": (0, (5, 1)),
              STOCK_LAYER: "-."}
MARKERS = {"raw_socket": "o", "socketserver_impl": "s", "http_server_impl": "^", "asyncio_impl": "v", STOCK_LAYER: "D"}
HATCHES = {"raw_socket": "", "socketserver_impl": "//", "http_server_impl": "..", "asyncio_impl": "xx",
           STOCK_LAYER: "\\\\"}
MODEL_MARKERS = {"threaded": "o", "iterative": "s", "forking": "^", "selectors": "D", "streams": "v", "protocol": "P"}
SPARE_COLOURS = ["#000000", "#777777", "#66CCEE", "#AA3377"]  # layers this project does not know
SPARE_STYLES = ["-.", (0, (5, 1)), (0, (1, 3)), (0, (3, 1, 1, 1, 1, 1))]
SPARE_MARKERS = ["D", "v", "P", "X"]
SPARE_HATCHES = ["xx", "\\\\", "++", "oo"]


@dataclass(frozen=True)
class Look:
    colour: str
    linestyle: object
    marker: str
    hatch: str


def look(layer: str, model: str, several_models: bool = False) -> Look:
    """How `layer/model` is drawn; with several models, the marker tells the model apart."""
    spare = sum(map(ord, layer)) % len(SPARE_COLOURS)
    marker = MARKERS.get(layer, SPARE_MARKERS[spare])
    if several_models:
        marker = MODEL_MARKERS.get(model, SPARE_MARKERS[sum(map(ord, model)) % len(SPARE_MARKERS)])
    return Look(
        colour=PALETTE.get(layer, SPARE_COLOURS[spare]),
        linestyle=LINESTYLES.get(layer, SPARE_STYLES[spare]),
        marker=marker,
        hatch=HATCHES.get(layer, SPARE_HATCHES[spare]),
    )
