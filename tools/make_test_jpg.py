"""Regenerate webapp/static/test.jpg (a drawn 320x240 picture) and large.jpg (1024x768, larger than the output
budget: the file that is sent in pieces, SPEC §4), both made here, not copied.

Run: .venv/bin/python tools/make_test_jpg.py   (needs the `dev` extra: Pillow)
"""

from pathlib import Path
from typing import TYPE_CHECKING, cast

from PIL import Image, ImageDraw

if TYPE_CHECKING:
    from PIL._imaging import PixelAccess  # the stub's name for what Image.load() returns

WIDTH, HEIGHT = 320, 240
STATIC = Path(__file__).resolve().parent.parent / "webapp" / "static"
TARGET, LARGE = STATIC / "test.jpg", STATIC / "large.jpg"
LARGE_SIZE = (1024, 768)


def draw() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT))
    pixels = cast("PixelAccess", image.load())  # an image made in memory: never None
    for y in range(HEIGHT):
        for x in range(WIDTH):  # a sky-to-sea gradient
            pixels[x, y] = (40 + x * 60 // WIDTH, 90 + y * 100 // HEIGHT, 200 - y * 80 // HEIGHT)
    pen = ImageDraw.Draw(image)
    pen.ellipse((200, 30, 270, 100), fill=(255, 214, 70))  # a sun
    pen.polygon([(0, 240), (110, 120), (220, 240)], fill=(52, 101, 164))  # two hills
    pen.polygon([(120, 240), (230, 140), (320, 240)], fill=(255, 212, 59))
    pen.text((12, 12), "Wow, Python Server", fill=(255, 255, 255))
    return image


def draw_large() -> Image.Image:
    """The same picture, scaled up and grained (so that it stays large as a JPEG), the grain seeded: the same bytes."""
    grain = Image.effect_noise(LARGE_SIZE, 40).convert("RGB")
    return Image.blend(draw().resize(LARGE_SIZE), grain, 0.25)


if __name__ == "__main__":
    draw().save(TARGET, "JPEG", quality=85)
    draw_large().save(LARGE, "JPEG", quality=92)
    for path in (TARGET, LARGE):
        print(f"wrote {path} ({path.stat().st_size} bytes)")
