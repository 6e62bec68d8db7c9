"""One look for every chart: a colour and a line style per layer, a hatch and a marker per model.

The layer gives the colour and, on lines, the line style, both in the catalog's order
(bench.catalog.LAYERS): the first layer gets the first colour of LAYER_COLOURS, the next
the next, so a new layer gets its own look with no edit here. The colours are Paul Tol's
(high-contrast first: they differ in lightness, so they stay apart in greyscale), and
none is the grey of the stock pseudo-layers (bench.knobs.PSEUDO: stock http.server,
stock CGI). The model gives the hatch of a bar and the marker of a line, so one
layer's models share a colour and differ by hatch. A layer or model this table does
not know (an old run's) gets a spare chosen from its name, never a known one's look
while spares last. The same layer/model looks the same in every chart. Pure data, no
drawing; it names no layer.
"""

from dataclasses import dataclass

from matplotlib.typing import LineStyleType

from bench.catalog import LAYERS
from bench.knobs import STOCK_CGI_LAYER, STOCK_LAYER

GREY = "#777777"  # the stock pseudo-layers, and no layer
LAYER_COLOURS = ["#004488", "#BB5566", "#DDAA33", "#228833", "#66CCEE", "#AA3377", "#EE7733", "#332288", "#000000"]
LAYER_STYLES = ["-", "--", ":", (0, (5, 1)), (0, (1, 3)), (0, (5, 2, 1, 2)), (0, (8, 3)), (0, (3, 1, 1, 1))]
STOCK_LOOKS = {STOCK_LAYER: (GREY, "-."), STOCK_CGI_LAYER: (GREY, (0, (3, 1, 1, 1, 1, 1)))}


def in_catalog_order(candidates: list) -> dict:
    """Each catalog layer -> the candidate at its place (round again past the end: more layers than looks)."""
    return {layer: candidates[place % len(candidates)] for place, layer in enumerate(LAYERS)}


PALETTE = {**in_catalog_order(LAYER_COLOURS), **{name: colour for name, (colour, _) in STOCK_LOOKS.items()}}
LINESTYLES = {**in_catalog_order(LAYER_STYLES), **{name: style for name, (_, style) in STOCK_LOOKS.items()}}
MODEL_HATCHES = {"threaded": "", "iterative": "..", "forking": "++", "selectors": "//", "streams": "\\\\",
                 "protocol": "xx"}
MODEL_MARKERS = {"threaded": "o", "iterative": "s", "forking": "^", "selectors": "D", "streams": "v", "protocol": "P"}
HATCH_COLOUR = "white"  # the hatch lines on a filled bar: seen on every colour of the palette


def spares(candidates: list, used) -> list:
    """The candidates no known layer or model uses: what an unknown one may get (all of them once none is left)."""
    used = list(used)
    return [one for one in candidates if one not in used] or list(candidates)


SPARE_COLOURS = spares([*LAYER_COLOURS, "#994455"], PALETTE.values())  # never GREY
SPARE_STYLES = spares(LAYER_STYLES, LINESTYLES.values())
SPARE_HATCHES = spares(["oo", "--", "||", "**"], MODEL_HATCHES.values())
SPARE_MARKERS = spares(["X", "*", "h", "p"], MODEL_MARKERS.values())


@dataclass(frozen=True)
class Look:
    colour: str
    linestyle: LineStyleType
    marker: str
    hatch: str


def pick(table: dict, name: str, spare: list):
    """`table[name]`, or a spare chosen from the name alone (the same in every chart and every run)."""
    return table[name] if name in table else spare[sum(map(ord, name)) % len(spare)]


def look(layer: str, model: str) -> Look:
    """How `layer/model` is drawn: the layer's colour and line style, the model's marker and hatch."""
    return Look(colour=pick(PALETTE, layer, SPARE_COLOURS), linestyle=pick(LINESTYLES, layer, SPARE_STYLES),
                marker=pick(MODEL_MARKERS, model, SPARE_MARKERS), hatch=pick(MODEL_HATCHES, model, SPARE_HATCHES))
