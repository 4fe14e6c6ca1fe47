"""Draw the chart fixture ``chart_figure.png``: axes, ticks, digits, a curve.

    python tests/resources/upright/make_chart_figure.py   # after: python -m rotbgr_core.training.sources fetch
"""

import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/work/cache/raw/fonts-dejavu-core/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
OUT = Path(__file__).resolve().parent / "chart_figure.png"
W, H = 900, 640
img = Image.new("L", (W, H), 255)
d = ImageDraw.Draw(img)
font = ImageFont.truetype(FONT, 22)
small = ImageFont.truetype(FONT, 20)
x0, y0, x1, y1 = 110, 560, 850, 60  # axes box: left, bottom, right, top
d.rectangle((x0, y1, x1, y0), outline=0, width=2)
for i in range(0, 11):
    x = x0 + (x1 - x0) * i / 10
    d.line((x, y0, x, y0 - 10), fill=0, width=2)
    label = str(i * 5)
    w = d.textlength(label, font=small)
    d.text((x - w / 2, y0 + 10), label, font=small, fill=0)
for i in range(0, 7):
    y = y0 - (y0 - y1) * i / 6
    d.line((x0, y, x0 + 10, y), fill=0, width=2)
    label = f"{i * 0.5:.1f}"
    w = d.textlength(label, font=small)
    d.text((x0 - 14 - w, y - 12), label, font=small, fill=0)
d.text(((x0 + x1) / 2 - 60, y0 + 42), "time (s)", font=font, fill=0)
points = [(x0 + (x1 - x0) * t / 200, y0 - (y0 - y1) * (0.5 + 0.4 * math.sin(t / 25) * math.exp(-t / 150)))
          for t in range(201)]
d.line(points, fill=0, width=3)
img.save(OUT, optimize=True)
