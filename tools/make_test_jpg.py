"""Regenerate webapp/static/test.jpg: a drawn 320x240 picture, made here, not copied.

Run: .venv/bin/python tools/make_test_jpg.py   (needs the `dev` extra: Pillow)
"""

from pathlib import Path

from PIL import Image, ImageDraw

WIDTH, HEIGHT = 320, 240
TARGET = Path(__file__).resolve().parent.parent / "webapp" / "static" / "test.jpg"


def draw() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT))
    pixels = image.load()
    for y in range(HEIGHT):
        for x in range(WIDTH):  # a sky-to-sea gradient
            pixels[x, y] = (40 + x * 60 // WIDTH, 90 + y * 100 // HEIGHT, 200 - y * 80 // HEIGHT)
    pen = ImageDraw.Draw(image)
    pen.ellipse((200, 30, 270, 100), fill=(255, 214, 70))  # a sun
    pen.polygon([(0, 240), (110, 120), (220, 240)], fill=(52, 101, 164))  # two hills
    pen.polygon([(120, 240), (230, 140), (320, 240)], fill=(255, 212, 59))
    pen.text((12, 12), "Wow, Python Server", fill=(255, 255, 255))
    return image


if __name__ == "__main__":
    draw().save(TARGET, "JPEG", quality=85)
    print(f"wrote {TARGET} ({TARGET.stat().st_size} bytes)")
