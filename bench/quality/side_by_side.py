"""Pictures side by side (a bench tool, not part of the product): 64 real images as an 8x8 grid
in the toolkit's grid layout (64 px tiles, 2 px gutters), then each given picture, scaled to the
same height, with a caption above each.

Usage: python3 side_by_side.py REAL_DIR OUT.png "CAPTION=grid.png" ["CAPTION=grid.png" ...]
"""
import os
import random
import sys

from PIL import Image, ImageDraw

TILE, GUTTER, CAPTION = 64, 2, 18
real_dir, out, pictures = sys.argv[1], sys.argv[2], sys.argv[3:]

names = sorted(n for n in os.listdir(real_dir) if n.lower().endswith(".png"))
random.Random(0).shuffle(names)
side = 8 * (TILE + GUTTER) + GUTTER
real = Image.new("RGB", (side, side), (40, 40, 40))
for i, name in enumerate(names[:64]):
    image = Image.open(os.path.join(real_dir, name)).convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    image = Image.alpha_composite(white, image).convert("RGB").resize((TILE, TILE), Image.LANCZOS)
    x, y = GUTTER + (i % 8) * (TILE + GUTTER), GUTTER + (i // 8) * (TILE + GUTTER)
    real.paste(image, (x, y))

panels = [("64 real sprites", real)]
for spec in pictures:
    caption, path = spec.split("=", 1)
    picture = Image.open(path).convert("RGB")
    scale = side / picture.height
    panels.append((caption, picture.resize((round(picture.width * scale), side), Image.NEAREST)))

width = sum(p.width for _, p in panels) + 8 * (len(panels) - 1)
canvas = Image.new("RGB", (width, side + CAPTION), (255, 255, 255))
draw = ImageDraw.Draw(canvas)
x = 0
for caption, picture in panels:
    draw.text((x + 4, 3), caption, fill=(0, 0, 0))
    canvas.paste(picture, (x, CAPTION))
    x += picture.width + 8
canvas.save(out)
print(f"{out}: {canvas.width}x{canvas.height}")
