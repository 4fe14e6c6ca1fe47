"""Generate the bundled sample folder (resources/sample/): a dozen small, mixed, rotated images.

Run from the repository root: ``python resources/make_sample.py``.  Every image is
made from an upright drawing with the core's :func:`rotbgr_core.geometry.make_rotated`,
so its true answer is known; the answers are written to ``resources/sample_truth.jsonl``.
Deterministic (fixed seeds); the folder stays well under 2 MB.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from rotbgr_core.geometry import make_rotated

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "sample"
FONTS = Path("/usr/share/fonts/truetype/dejavu")

WORDS = (
    "the archive of records letters minutes council harbour survey registry parish ledger accounts were entered "
    "by clerk under seal of the town and county with notes on trade weather shipping tithes deeds rents and "
    "marriages births burials as kept in the vestry since the year when the river flooded the lower fields"
).split()


def font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """A DejaVu font, or Pillow's default if it is missing."""
    try:
        return ImageFont.truetype(str(FONTS / name), size)
    except OSError:
        return ImageFont.load_default(size)


def sentence(rng: random.Random, n: int) -> str:
    """Pseudo-English words."""
    words = [rng.choice(WORDS) for _ in range(n)]
    return " ".join(words).capitalize()


def text_page(seed: int, size: tuple[int, int] = (680, 900), title: str = "Parish Council Minutes",
              columns: int = 1, table: bool = False, mode: str = "L", levels: int = 256) -> Image.Image:
    """An upright page of text: title, paragraphs, optional table and columns, page number."""
    rng = random.Random(seed)
    width, height = size
    page = Image.new("L", size, 250)
    draw = ImageDraw.Draw(page)
    margin = 60
    draw.text((margin, 48), title, font=font("DejaVuSerif-Bold.ttf", 30), fill=20)
    draw.line((margin, 96, width - margin, 96), fill=60, width=2)
    body = font("DejaVuSerif.ttf", 15)
    y = 116
    col_gap = 28
    col_width = (width - 2 * margin - (columns - 1) * col_gap) // columns
    line_height = 22
    if table:
        draw.text((margin, y), sentence(rng, 7), font=body, fill=30)
        y += 34
        rows, cols = 8, 4
        cell_w = (width - 2 * margin) // cols
        for r in range(rows + 1):
            draw.line((margin, y + r * 30, margin + cols * cell_w, y + r * 30), fill=90, width=1)
        for c in range(cols + 1):
            draw.line((margin + c * cell_w, y, margin + c * cell_w, y + rows * 30), fill=90, width=1)
        for r in range(rows):
            for c in range(cols):
                text = rng.choice(WORDS).title() if c == 0 else f"{rng.randint(1, 999)}.{rng.randint(0, 99):02d}"
                draw.text((margin + c * cell_w + 8, y + r * 30 + 7), text, font=body, fill=40)
        y += rows * 30 + 30
    x0 = margin
    column = 0
    while True:
        paragraph_lines = rng.randint(3, 7)
        for i in range(paragraph_lines):
            words = []
            while True:
                candidate = " ".join([*words, rng.choice(WORDS)])
                if draw.textlength(candidate, font=body) > col_width - (0 if i < paragraph_lines - 1 else 90):
                    break
                words = candidate.split()
            text = " ".join(words)
            if i == 0:
                text = text.capitalize()
            draw.text((x0 + (18 if i == 0 else 0), y), text, font=body, fill=35)
            y += line_height
        y += 12
        if y > height - 90:
            column += 1
            if column >= columns:
                break
            x0 = margin + column * (col_width + col_gap)
            y = 116 if not table else y
    draw.text((width // 2 - 10, height - 50), f"– {rng.randint(2, 40)} –", font=body, fill=80)
    noise = np.random.default_rng(seed).normal(0, 4, (height, width))
    array = np.clip(np.asarray(page, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    if levels < 256:
        step = 256 // levels
        array = (array // step * step + step // 2).astype(np.uint8)
    result = Image.fromarray(array, "L")
    return result.convert(mode) if mode != "L" else result


def landscape(seed: int, size: tuple[int, int] = (1100, 820)) -> Image.Image:
    """An upright photo-like scene: sky gradient, sun, mountains, a lake with a level horizon, trees, a jetty."""
    rng = np.random.default_rng(seed)
    width, height = size
    horizon = int(height * 0.58)
    y = np.linspace(0, 1, horizon)[:, None]
    sky_top, sky_low = np.array([60, 110, 190]), np.array([245, 200, 150])
    sky = (sky_top * (1 - y[..., None]) + sky_low * y[..., None]).repeat(width, axis=1)
    water_y = np.linspace(0, 1, height - horizon)[:, None]
    water = (np.array([90, 110, 130]) * (1 - water_y[..., None]) + np.array([30, 50, 70]) * water_y[..., None])
    water = water.repeat(width, axis=1)
    canvas = np.concatenate([sky, water], axis=0)
    canvas += rng.normal(0, 3, canvas.shape)
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    draw.ellipse((int(width * 0.68), int(horizon * 0.45), int(width * 0.68) + 70, int(horizon * 0.45) + 70),
                 fill=(255, 236, 190))
    for layer, (shade, amplitude, base) in enumerate(((120, 150, 0.20), (80, 110, 0.08))):
        points = [(0, horizon)]
        for x in range(0, width + 40, 40):
            peak = horizon - base * height - amplitude * abs(math.sin(x / (170 + 60 * layer) + layer)) \
                - rng.uniform(0, 25)
            points.append((x, peak))
        points.append((width, horizon))
        draw.polygon(points, fill=(shade - 40, shade - 10, shade + 20))
    draw.line((0, horizon, width, horizon), fill=(210, 200, 190), width=2)
    for _ in range(26):
        x = int(rng.uniform(0, width))
        tree_h = int(rng.uniform(40, 90))
        draw.polygon([(x, horizon - tree_h), (x - 14, horizon), (x + 14, horizon)], fill=(25, 60, 35))
    draw.rectangle((int(width * 0.15), horizon + 40, int(width * 0.55), horizon + 52), fill=(95, 70, 50))
    for x in range(int(width * 0.15), int(width * 0.55), 36):
        draw.line((x, horizon + 52, x, horizon + 90), fill=(70, 50, 35), width=5)
    for i in range(1, 12):
        yy = horizon + i * 14
        draw.line((0, yy, width, yy), fill=(110, 130, 150), width=1)
    return image.filter(ImageFilter.GaussianBlur(0.6))


def street(seed: int, size: tuple[int, int] = (1000, 760)) -> Image.Image:
    """An upright photo-like street: building facades with windows, a road, lamp posts."""
    rng = np.random.default_rng(seed)
    width, height = size
    image = Image.new("RGB", size, (170, 200, 230))
    draw = ImageDraw.Draw(image)
    ground = int(height * 0.78)
    x = 0
    while x < width:
        w = int(rng.uniform(140, 240))
        top = int(rng.uniform(height * 0.12, height * 0.4))
        colour = tuple(int(c) for c in rng.integers(90, 200, 3))
        draw.rectangle((x, top, x + w, ground), fill=colour)
        for wy in range(top + 20, ground - 60, 56):
            for wx in range(x + 16, x + w - 30, 42):
                draw.rectangle((wx, wy, wx + 24, wy + 34), fill=(40, 55, 75))
        x += w + 4
    draw.rectangle((0, ground, width, height), fill=(70, 70, 75))
    for lx in range(60, width, 260):
        draw.line((lx, ground, lx, ground - 220), fill=(30, 30, 30), width=6)
        draw.ellipse((lx - 14, ground - 236, lx + 14, ground - 210), fill=(250, 230, 160))
    for sx in range(0, width, 90):
        draw.rectangle((sx, ground + 70, sx + 50, ground + 80), fill=(230, 230, 220))
    array = np.asarray(image, dtype=np.float32) + rng.normal(0, 4, (height, width, 3))
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), "RGB").filter(ImageFilter.GaussianBlur(0.5))


def screenshot(seed: int) -> Image.Image:
    """An upright UI screenshot: title bar, sidebar, list rows."""
    rng = random.Random(seed)
    image = Image.new("RGB", (900, 600), (246, 247, 249))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 900, 36), fill=(44, 62, 80))
    draw.text((14, 9), "Collections – Catalogue", font=font("DejaVuSans-Bold.ttf", 15), fill=(240, 240, 240))
    draw.rectangle((0, 36, 200, 600), fill=(232, 236, 241))
    small = font("DejaVuSans.ttf", 13)
    for i, label in enumerate(("Inbox", "Scans", "Photos", "Maps", "Letters", "Ledgers", "Trash")):
        draw.text((22, 60 + i * 34), label, font=small, fill=(50, 60, 70))
    for r in range(12):
        y = 56 + r * 42
        draw.rectangle((220, y, 880, y + 34), fill=(255, 255, 255), outline=(220, 224, 230))
        draw.rectangle((230, y + 7, 250, y + 27), fill=(90, 140, 220))
        draw.text((262, y + 9), sentence(rng, 5)[:48], font=small, fill=(40, 45, 50))
        draw.text((800, y + 9), f"{rng.randint(1, 28):02d}/0{rng.randint(1, 9)}", font=small, fill=(120, 125, 130))
    return image


def receipt(seed: int) -> Image.Image:
    """A narrow till receipt."""
    rng = random.Random(seed)
    image = Image.new("L", (360, 820), 248)
    draw = ImageDraw.Draw(image)
    mono = font("DejaVuSansMono.ttf", 16)
    draw.text((86, 30), "HARBOUR STORES", font=font("DejaVuSansMono-Bold.ttf", 20), fill=20)
    y = 80
    total = 0.0
    for _ in range(18):
        price = rng.randint(50, 2500) / 100
        total += price
        name = rng.choice(WORDS)[:14].upper()
        draw.text((24, y), f"{name:<16}{price:>8.2f}", font=mono, fill=30)
        y += 28
    draw.line((24, y + 6, 336, y + 6), fill=60, width=2)
    draw.text((24, y + 16), f"{'TOTAL':<16}{total:>8.2f}", font=font("DejaVuSansMono-Bold.ttf", 17), fill=10)
    for i in range(40):
        draw.rectangle((40 + i * 7, 740, 40 + i * 7 + rng.randint(1, 4), 790), fill=10)
    return image


def place(upright: Image.Image, angle: float, mirrored: bool = False) -> Image.Image:
    """The input whose answer is ``(angle, mirrored)``: the corners filled with the page colour."""
    fill: tuple[int, ...] | int = upright.getpixel((2, 2))  # type: ignore[assignment]
    return make_rotated(upright, angle, mirrored, fill=fill)


def tilted_photo(upright: Image.Image, angle: float, out: tuple[int, int]) -> Image.Image:
    """A photo taken with the camera tilted: rotated content, full frame (centre crop)."""
    rotated = upright.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=False)
    left = (rotated.width - out[0]) // 2
    top = (rotated.height - out[1]) // 2
    return rotated.crop((left, top, left + out[0], top + out[1]))


def main() -> None:
    """Write the sample folder and the truth file."""
    OUT.mkdir(exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    truth: list[dict[str, object]] = []

    def save(name: str, image: Image.Image, angle: float, mirrored: bool = False, kind: str = "document",
             **options: object) -> None:
        image.save(OUT / name, **options)  # type: ignore[arg-type]
        truth.append({"path": f"sample/{name}", "angle": angle, "mirrored": mirrored, "kind": kind})

    save("01_minutes_skew.jpg", place(text_page(1), 2.3), 2.3, quality=72)
    ledger = text_page(2, title="Harbour Ledger 1897", table=True, levels=8)
    save("02_ledger_upside_down.png", place(ledger, -178.9), -178.9,
         optimize=True)
    save("03_letter_sideways.png", place(text_page(3, title="Dear Mr. Thornton,", levels=8), 90.0), 90.0, optimize=True)
    save("04_bitonal_scan.tif", place(text_page(4, title="Registry of Deeds", mode="1"), -0.8), -0.8,
         compression="group4")
    save("05_mirrored_page.png", place(text_page(5, title="Vestry Notes", levels=8), 0.0, mirrored=True), 0.0, True,
         optimize=True)
    scene = landscape(6)
    save("06_lake_tilted.jpg", tilted_photo(scene, 7.0, (840, 630)).resize((720, 540), Image.Resampling.LANCZOS),
         7.0, kind="photo", quality=80)
    save("07_street_sideways.jpg", place(street(7).resize((720, 547), Image.Resampling.LANCZOS), -90.0), -90.0,
         kind="photo", quality=80)
    save("08_invoice_skew.jpg", place(text_page(8, title="Invoice No. 2231", table=True), -3.5), -3.5, quality=72)
    save("09_receipt_tilted.png", place(receipt(9), 12.0), 12.0, optimize=True)
    save("10_newspaper_columns.jpg", place(text_page(10, title="The County Courier", columns=2), -88.0), -88.0,
         quality=72)
    save("11_screenshot.png", screenshot(11), 0.0, kind="screenshot", optimize=True)
    pages = [place(text_page(12, title="Survey Report"), 0.0).convert("RGB"),
             place(text_page(13, title="Survey Report (cont.)"), 1.5).convert("RGB")]
    pages[0].save(OUT / "12_survey_report.pdf", save_all=True, append_images=pages[1:], resolution=100, quality=70)
    truth.append({"path": "sample/12_survey_report.pdf#page=1", "angle": 0.0, "mirrored": False, "kind": "document"})
    truth.append({"path": "sample/12_survey_report.pdf#page=2", "angle": 1.5, "mirrored": False, "kind": "document"})
    (ROOT / "sample_truth.jsonl").write_text("".join(json.dumps(t) + "\n" for t in truth), encoding="utf-8")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
