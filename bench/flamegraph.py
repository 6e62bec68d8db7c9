"""A flame graph SVG from collapsed stacks (`frame;frame;... count`, py-spy's raw format), in the standard layout.

The root at the bottom, a box per frame as wide as its share of the samples, each box coloured by the
caller's `colour(frame)` and titled (the reader's tooltip) with its frame, samples and share. It writes
one self-contained SVG: no script, no font, no link. It profiles nothing and starts no process.
"""

from collections import Counter
from dataclasses import dataclass, field
from html import escape

WIDTH, ROW, PAD = 1200.0, 17, 10
FONT_PX, CHAR_PX = 11, 6.6  # a monospace-ish estimate: how many characters a box can show
MIN_PX = 0.3  # boxes narrower than this are left out (their samples stay in their parents)


@dataclass
class Node:
    samples: int = 0
    children: dict[str, "Node"] = field(default_factory=dict)


def tree(stacks: Counter) -> Node:
    """The call tree of `stacks` (tuples of frames, root first): each node's samples include its children's."""
    root = Node()
    for stack, count in stacks.items():
        node = root
        node.samples += count
        for frame in stack:
            node = node.children.setdefault(frame, Node())
            node.samples += count
    return root


def depth(node: Node) -> int:
    return 1 + max((depth(child) for child in node.children.values()), default=0)


def render(stacks: Counter, title: str, colour) -> str:
    """The SVG text of the flame graph of `stacks`; `colour(frame)` gives each box's fill."""
    root = tree(stacks)
    rows = depth(root)
    height = PAD * 2 + ROW * (rows + 1)
    boxes: list[str] = []
    if root.samples:
        place(root, "all", 0.0, height - PAD - ROW, WIDTH / root.samples, root.samples, colour, boxes)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH + 2 * PAD:.0f}" height="{height}" '
            f'font-family="monospace" font-size="{FONT_PX}">\n<title>{escape(title)}</title>\n'
            f'<rect width="100%" height="100%" fill="#ffffff"/>\n'
            f'<text x="{PAD}" y="{PAD + FONT_PX}" font-weight="bold">{escape(title)}</text>\n'
            + "\n".join(boxes) + "\n</svg>\n")


def place(node: Node, frame: str, x: float, y: float, scale: float, total: int, colour, boxes: list[str]) -> None:
    """The box of `node` at (x, y), then its children side by side on the row above it (by name, like flamegraph.pl)."""
    width = node.samples * scale
    if width < MIN_PX:
        return
    boxes.append(box(frame, PAD + x, y, width, node.samples, total, colour(frame)))
    for name in sorted(node.children):
        child = node.children[name]
        place(child, name, x, y - ROW, scale, total, colour, boxes)
        x += child.samples * scale


def box(frame: str, x: float, y: float, width: float, samples: int, total: int, fill: str) -> str:
    label = frame if len(frame) * CHAR_PX <= width - 4 else frame[:max(0, int((width - 4) / CHAR_PX) - 2)] + ".."
    text = f'<text x="{x + 2:.1f}" y="{y + ROW - 5}">{escape(label)}</text>' if width > 3 * CHAR_PX else ""
    return (f'<g><title>{escape(frame)} ({samples} samples, {100 * samples / total:.1f} %)</title>'
            f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{ROW - 1}" fill="{fill}" rx="2"/>{text}</g>')
