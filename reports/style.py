"""One look for every chart: a colour and a line style per layer, a hatch and a marker per model.

The layer gives the colour (Paul Tol's high-contrast scheme: its colours differ in
lightness, so they stay apart in greyscale) and, on lines, the line style; the model
gives the hatch of a bar and the marker of a line, so raw_socket's threaded and
selectors bars share a colour and differ by hatch. The stock pseudo-layers
(bench.knobs.PSEUDO: stock http.server, stock CGI) are grey. A layer or model this
table does not know gets a spare chosen from its name, and no spare is ever a
look a known layer or model has. The same layer/model looks the same in every
chart. Pure data, no drawing.
"""

from dataclasses import dataclass

from bench.knobs import STOCK_CGI_LAYER, STOCK_LAYER

GREY = "#777777"
PALETTE = {  # layer -> colour (dark, middle, light in greyscale)
    "raw_socket": "#004488",
    "socketserver_impl": "#BB5566",
    "http_server_impl": "#DDAA33",
    "asyncio_impl": "#228833",
    STOCK_LAYER: GREY,
    STOCK_CGI_LAYER: GREY,
}
LINESTYLES = {"raw_socket": "-", "socketserver_impl": "--", "http_server_impl": ":", "asyncio_impl": (0, (5, 1)),
              STOCK_LAYER: "-.", STOCK_CGI_LAYER: (0, (3, 1, 1, 1, 1, 1))}
MODEL_HATCHES = {"threaded": "", "iterative": "..", "forking": "++", "selectors": "//", "streams": "\\\\",
                 "protocol": "xx"}
MODEL_MARKERS = {"threaded": "o", "iterative": "s", "forking": "^", "selectors": "D", "streams": "v", "protocol": "P"}
HATCH_COLOUR = "white"  # the hatch lines on a filled bar: seen on every colour of the palette


def spares(candidates: list, used) -> list:
    """The candidates no known layer or model uses: what an unknown one may get."""
    used = list(used)
    return [one for one in candidates if one not in used]


SPARE_COLOURS = spares(["#000000", "#66CCEE", "#AA3377", "#994455", "#EE7733", "#332288"], PALETTE.values())
SPARE_STYLES = spares([(0, (1, 3)), (0, (5, 2, 1, 2)), (0, (8, 3))], LINESTYLES.values())
SPARE_HATCHES = spares(["oo", "--", "||", "**"], MODEL_HATCHES.values())
SPARE_MARKERS = spares(["X", "*", "h", "p"], MODEL_MARKERS.values())


@dataclass(frozen=True)
class Look:
    colour: str
    linestyle: object
    marker: str
    hatch: str


def pick(table: dict, name: str, spare: list):
    """`table[name]`, or a spare chosen from the name alone (the same in every chart and every run)."""
    return table[name] if name in table else spare[sum(map(ord, name)) % len(spare)]


def look(layer: str, model: str) -> Look:
    """How `layer/model` is drawn: the layer's colour and line style, the model's marker and hatch."""
    return Look(colour=pick(PALETTE, layer, SPARE_COLOURS), linestyle=pick(LINESTYLES, layer, SPARE_STYLES),
                marker=pick(MODEL_MARKERS, model, SPARE_MARKERS), hatch=pick(MODEL_HATCHES, model, SPARE_HATCHES))
