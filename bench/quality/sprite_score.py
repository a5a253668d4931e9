"""Sets of sprites for validating a sprite score (a bench tool, not part of the product).

Usage: python3 sprite_score.py SPRITES OUT
Writes OUT/real_a, OUT/real_b (the sprites split by Pokédex number: odd and even, so that a
creature's normal and shiny forms stay in one half), OUT/blurred and OUT/recoloured (real_a
mildly degraded: a Gaussian blur of radius 1.5 px at 64 px, and a hue rotation of 60 degrees),
and OUT/noise (uniform noise, as many images as real_a). Every image is composited on white at
64 px, as the toolkit loads transparent sprites.
"""
import os
import sys

import numpy as np
from PIL import Image, ImageFilter

src, out = sys.argv[1], sys.argv[2]
SIZE = 64


def opaque(path):
    image = Image.open(path).convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image).convert("RGB").resize((SIZE, SIZE), Image.LANCZOS)


def rotate_hue(image, degrees):
    hsv = np.array(image.convert("HSV"), dtype=np.int32)
    hsv[..., 0] = (hsv[..., 0] + int(degrees / 360 * 256)) % 256
    return Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")


sets = ["real_a", "real_b", "blurred", "recoloured", "noise"]
for name in sets:
    os.makedirs(os.path.join(out, name), exist_ok=True)
rng = np.random.default_rng(0)
count = 0
for name in sorted(os.listdir(src)):
    if not name.endswith(".png"):
        continue
    number = int(name.split("-")[0])
    image = opaque(os.path.join(src, name))
    if number % 2 == 0:
        image.save(os.path.join(out, "real_b", name))
        continue
    count += 1
    image.save(os.path.join(out, "real_a", name))
    image.filter(ImageFilter.GaussianBlur(1.5)).save(os.path.join(out, "blurred", name))
    rotate_hue(image, 60).save(os.path.join(out, "recoloured", name))
    noise = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    Image.fromarray(noise, "RGB").save(os.path.join(out, "noise", name))
print(f"{count} sprites in real_a and each degraded set")
