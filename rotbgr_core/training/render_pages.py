"""Text pages rendered here with Debian's fonts, in scripts that the PDF sources lack or hold little of.

    python -m rotbgr_core.training.render_pages fetch                        # fonts and text into the cache
    python -m rotbgr_core.training.render_pages pages --per-script 400 --seed 0
    python -m rotbgr_core.training.render_pages pages --scripts kn,bo --extra-faces --out DIR   # other faces
    python -m rotbgr_core.training.render_pages probe --out /work/cache/scriptprobe --per-script 100 --seed 7
    python -m rotbgr_core.training.render_pages posed --out /work/cache/scriptposed --per-script 10 --seed 9

Why: the allowed document sources are Latin, CJK, Arabic, Cyrillic and the scripts of ``texlive-lang-other``, but
users scan pages in any script. Measured on pages rendered here (2026-12-03), the shipped model read Korean pages
right 11% of the time (the text-window network read Hangul upside down, confidently) and Greek 86%, against
99-100% for Latin, Cyrillic and Chinese pages rendered the same way.

What: each page is laid out like a typeset document (a title, paragraphs, headings, one or two columns, a page
number, the odd framed figure) in one script, with the sentences of GIMP's translation catalogues (``gimp-data``'s
``.mo`` files, read with the standard library), or of LibreOffice's language packs (``libreoffice-l10n-*``) for the
scripts GIMP's lack (Bengali, Gujarati, Gurmukhi, Telugu, Kannada, Odia, Tibetan), of Firefox's (``firefox-esr-l10n-*``:
Armenian, Urdu), or the words of Hunspell's dictionary where no translation exists (Lao), and the fonts of Debian's
font packages. Right-to-left scripts are set right-aligned (Pillow's raqm layout shapes and orders them). Scripts
written without spaces break anywhere between grapheme clusters.

Splits: a sentence is a probe sentence when its SHA-1 says so (one in five), and each script names probe fonts that
training never uses (where it has three fonts or more), so the probe sets measure unseen fonts and unseen text.
Training pages go to ``CACHE/rendered/`` with an ``index.jsonl``; probe pages are posed by the dev-set makers
(:mod:`rotbgr_core.training.devset`) into ``OUT/<script>/{documents,scans}`` folders that ``rotbgr eval`` scores.
``posed`` poses pages of the training fonts and sentences the same way, for the confidence's calibration harvest.
"""

from __future__ import annotations

import argparse
import functools
import gettext
import hashlib
import io
import json
import logging
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rotbgr_core.training.sources import DEFAULT_CACHE, fetch_deb

LOG = logging.getLogger("rotbgr.render_pages")

#: Debian packages of the fonts (the text packages are named by the scripts). All allowed by DATA.md.
FONT_PACKAGES = (
    "fonts-nanum",
    "fonts-unfonts-core",
    "fonts-baekmuk",
    "fonts-gfs-didot",
    "fonts-gfs-artemisia",
    "fonts-gfs-neohellenic",
    "fonts-gfs-porson",
    "fonts-dejavu-core",
    "fonts-noto-core",
    "fonts-lohit-beng-bengali",
    "fonts-lohit-gujr",
    "fonts-lohit-guru",
    "fonts-lohit-telu",
    "fonts-lohit-knda",
    "fonts-lohit-orya",
    "fonts-tibetan-machine",
    "culmus",
    "fonts-freefont-ttf",
    "fonts-nafees",
    "fonts-paktype",
    "fonts-lao",
)
TEXT_PACKAGE = "gimp-data"
CATALOGUES = ("gimp20", "gimp20-std-plug-ins", "gimp20-script-fu", "gimp20-python", "gimp20-tips")
#: LibreOffice's language packs: the UI catalogues of scripts that GIMP's lack (Bengali, Gujarati, Tibetan...).
LIBREOFFICE = "libreoffice"
#: Firefox's language packs (``firefox-esr-l10n-*``): the UI strings of scripts that neither has (Armenian).
FIREFOX = "firefox-esr"
#: Hunspell's word lists (``hunspell-*``): words, run together into lines, where no translation exists (Lao).
HUNSPELL = "hunspell"
PAGE_SIZE = (1132, 1600)  # the cached PDF pages' size (A4 at about 137 dpi)


@dataclass(frozen=True)
class Script:
    """One writing system: the locale of its text, its fonts, and how its lines are set."""

    locale: str
    fonts: tuple[str, ...]  # paths under CACHE/raw
    probe_fonts: tuple[str, ...] = ()  # fonts kept out of training
    spaced: bool = True  # words are separated by spaces
    rtl: bool = False
    text_package: str = TEXT_PACKAGE  # GIMP's catalogues, LIBREOFFICE's or FIREFOX's language pack, HUNSPELL

    @property
    def package(self) -> str:
        """The Debian package that holds this script's text."""
        if self.text_package in (LIBREOFFICE, FIREFOX):
            return f"{self.text_package}-l10n-{self.locale.lower().replace('_', '-')}"
        if self.text_package == HUNSPELL:
            return f"{HUNSPELL}-{self.locale.split('_')[0].lower()}"
        return self.text_package


_NOTO = "fonts-noto-core/usr/share/fonts/truetype/noto"


def _noto(name: str) -> tuple[str, ...]:
    return (f"{_NOTO}/NotoSerif{name}-Regular.ttf", f"{_NOTO}/NotoSans{name}-Regular.ttf")


def _indic(locale: str, name: str, probe_font: str) -> Script:
    """A script of LibreOffice's text: Noto Serif and Sans for training, ``probe_font`` for the probe only."""
    return Script(locale, (*_noto(name), probe_font), probe_fonts=(probe_font,), text_package=LIBREOFFICE)


_NANUM = "fonts-nanum/usr/share/fonts/truetype/nanum"
_UN = "fonts-unfonts-core/usr/share/fonts/truetype/unfonts-core"
_BAEKMUK = "fonts-baekmuk/usr/share/fonts/truetype/baekmuk"
_DEJAVU = "fonts-dejavu-core/usr/share/fonts/truetype/dejavu"
_GFS = "usr/share/fonts/opentype"
_CULMUS = "culmus/usr/share/fonts/truetype/culmus"
_FREEFONT = "fonts-freefont-ttf/usr/share/fonts/truetype/freefont"
_NAFEES = "fonts-nafees/usr/share/fonts/truetype/fonts-nafees/NafeesWeb.ttf"
_PAKTYPE = "fonts-paktype/usr/share/fonts/truetype/paktype"
_PHETSARATH = "fonts-lao/usr/share/fonts/truetype/lao/Phetsarath_OT.ttf"

SCRIPTS: dict[str, Script] = {
    "ko": Script(
        "ko",
        (f"{_NANUM}/NanumMyeongjo.ttf", f"{_NANUM}/NanumGothic.ttf", f"{_NANUM}/NanumBarunGothic.ttf",
         f"{_NANUM}/NanumSquareR.ttf", f"{_UN}/UnDotum.ttf", f"{_UN}/UnGraphic.ttf", f"{_UN}/UnDinaru.ttf",
         f"{_UN}/UnGungseo.ttf", f"{_BAEKMUK}/gulim.ttf", f"{_BAEKMUK}/dotum.ttf",
         f"{_UN}/UnBatang.ttf", f"{_BAEKMUK}/batang.ttf"),
        probe_fonts=(f"{_UN}/UnBatang.ttf", f"{_BAEKMUK}/batang.ttf"),
    ),
    "el": Script(
        "el",
        (f"fonts-gfs-didot/{_GFS}/didot/GFSDidot.otf", f"fonts-gfs-neohellenic/{_GFS}/neohellenic/GFSNeohellenic.otf",
         f"fonts-gfs-porson/{_GFS}/porson/GFSPorson.otf", f"{_DEJAVU}/DejaVuSerif.ttf",
         "fonts-noto-core/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf",
         f"fonts-gfs-artemisia/{_GFS}/artemisia/GFSArtemisia.otf", f"{_DEJAVU}/DejaVuSans.ttf"),
        probe_fonts=(f"fonts-gfs-artemisia/{_GFS}/artemisia/GFSArtemisia.otf", f"{_DEJAVU}/DejaVuSans.ttf"),
    ),
    # 2026-12-05: Culmus's faces too (a page's look varies far more than Noto's two faces show); David and
    # Simple kept for the probe
    "he": Script("he", (*_noto("Hebrew"), *(f"{_CULMUS}/{face}" for face in (
        "FrankRuehlCLM-Medium.ttf", "MiriamCLM-Book.ttf", "NachlieliCLM-Light.otf", "KeterYG-Medium.ttf",
        "HadasimCLM-Regular.ttf", "DavidCLM-Medium.otf", "SimpleCLM-Medium.ttf"))),
        probe_fonts=(f"{_CULMUS}/DavidCLM-Medium.otf", f"{_CULMUS}/SimpleCLM-Medium.ttf"), rtl=True),
    "th": Script("th", _noto("Thai"), spaced=False),
    "ka": Script("ka", _noto("Georgian")),
    "ta": Script("ta", _noto("Tamil")),
    "km": Script("km", _noto("Khmer"), spaced=False),
    "am": Script("am", _noto("Ethiopic")),
    "hi": Script("hi", _noto("Devanagari")),
    "ml": Script("ml", _noto("Malayalam")),
    "my": Script("my", _noto("Myanmar"), spaced=False),
    "si": Script("si", _noto("Sinhala")),
    # 2026-12-05: Indic scripts and Tibetan, with LibreOffice's translations (GIMP's catalogues lack them);
    # Noto for training, a Lohit (or Tibetan Machine) font for the probe only
    "bn": _indic("bn", "Bengali", "fonts-lohit-beng-bengali/usr/share/fonts/truetype/lohit-bengali/Lohit-Bengali.ttf"),
    "gu": _indic("gu", "Gujarati", "fonts-lohit-gujr/usr/share/fonts/truetype/lohit-gujarati/Lohit-Gujarati.ttf"),
    "pa": _indic("pa_IN", "Gurmukhi", "fonts-lohit-guru/usr/share/fonts/truetype/lohit-punjabi/Lohit-Gurmukhi.ttf"),
    "te": _indic("te", "Telugu", "fonts-lohit-telu/usr/share/fonts/truetype/lohit-telugu/Lohit-Telugu.ttf"),
    "kn": _indic("kn", "Kannada", "fonts-lohit-knda/usr/share/fonts/truetype/lohit-kannada/Lohit-Kannada.ttf"),
    "or": Script("or", (f"{_NOTO}/NotoSansOriya-Regular.ttf", f"{_NOTO}/NotoSansOriya-Bold.ttf",
                        "fonts-lohit-orya/usr/share/fonts/truetype/lohit-oriya/Lohit-Odia.ttf"),
                 probe_fonts=("fonts-lohit-orya/usr/share/fonts/truetype/lohit-oriya/Lohit-Odia.ttf",),
                 text_package=LIBREOFFICE),
    "bo": Script("dz", (f"{_NOTO}/NotoSerifTibetan-Regular.ttf", f"{_NOTO}/NotoSerifTibetan-Bold.ttf",
                        "fonts-tibetan-machine/usr/share/fonts/truetype/tibetan-machine/TibetanMachineUni.ttf"),
                 probe_fonts=("fonts-tibetan-machine/usr/share/fonts/truetype/tibetan-machine/TibetanMachineUni.ttf",),
                 text_package=LIBREOFFICE),
    # 2026-12-06: Armenian, with Firefox's UI strings; DejaVu Sans and FreeSerif for the probe only
    "hy": Script("hy_AM", (*_noto("Armenian"), f"{_DEJAVU}/DejaVuSerif.ttf", f"{_FREEFONT}/FreeSans.ttf",
                           f"{_DEJAVU}/DejaVuSans.ttf", f"{_FREEFONT}/FreeSerif.ttf"),
                 probe_fonts=(f"{_DEJAVU}/DejaVuSans.ttf", f"{_FREEFONT}/FreeSerif.ttf"), text_package=FIREFOX),
    # 2026-12-06: Urdu in Nastaliq (Noto, PakType) and Naskh, Firefox's strings; Nafees Nastaleeq for the probe only
    "ur": Script("ur", (f"{_NOTO}/NotoNastaliqUrdu-Regular.ttf", f"{_NOTO}/NotoNastaliqUrdu-Bold.ttf",
                        f"{_PAKTYPE}/PakType Tehreer.ttf", f"{_PAKTYPE}/PakType Naskh Basic Urdu.ttf", _NAFEES),
                 probe_fonts=(_NAFEES,), rtl=True, text_package=FIREFOX),
    # 2026-12-06: Lao, words of Hunspell's Lao dictionary; Phetsarath OT and Noto Looped Lao for the probe only
    "lo": Script("lo_LA", (*_noto("Lao"), f"{_NOTO}/NotoSansLao-Bold.ttf", f"{_NOTO}/NotoSerifLao-Bold.ttf",
                           f"{_NOTO}/NotoLoopedLao-Regular.ttf", _PHETSARATH),
                 probe_fonts=(f"{_NOTO}/NotoLoopedLao-Regular.ttf", _PHETSARATH), spaced=False,
                 text_package=HUNSPELL),
}


_EXTRA = "usr/share/fonts/truetype"

#: Faces for training pages only, beyond each script's own: ``pages --extra-faces`` sets a page in one of these alone.
#: None of them is a probe face. The Indic ones made the glyph network's ``s8ind`` pages (2026-12-05); DDC Uchen, a
#: second Tibetan face, was added on 2026-12-07. All are Debian font packages (:data:`EXTRA_FONT_PACKAGES`).
EXTRA_FACES: dict[str, tuple[str, ...]] = {
    "bn": tuple(f"fonts-beng-extra/{_EXTRA}/fonts-beng-extra/{face}" for face in (
        "LikhanNormal.ttf", "JamrulNormal.ttf", "Ani.ttf", "Mukti.ttf", "Muktibold.ttf", "MitraMono.ttf")),
    "gu": tuple(f"fonts-gujr-extra/{_EXTRA}/fonts-gujr-extra/{face}" for face in (
        "padmaa.ttf", "padmaa-Medium-0.5.ttf", "padmaa-Bold.1.1.ttf", "aakar-medium.ttf", "Rekha.ttf")),
    "pa": (f"fonts-guru-extra/{_EXTRA}/fonts-guru-extra/Saab.ttf",),
    "te": tuple(f"fonts-telu-extra/{_EXTRA}/fonts-telu-extra/{face}" for face in ("vemana2000.ttf", "Pothana2000.ttf")),
    "kn": (f"fonts-gubbi/{_EXTRA}/Gubbi/Gubbi.ttf", f"fonts-navilu/{_EXTRA}/Navilu/Navilu.ttf"),
    "or": (f"fonts-orya-extra/{_EXTRA}/fonts-orya-extra/utkal.ttf",),
    "bo": (f"fonts-ddc-uchen/{_EXTRA}/tibetan/DDC_Uchen.ttf",),
}
EXTRA_FONT_PACKAGES = tuple(sorted({face.split("/")[0] for faces in EXTRA_FACES.values() for face in faces}))


def is_probe_text(sentence: str) -> bool:
    """Whether a sentence belongs to the probe split (one in five, by its SHA-1)."""
    return int(hashlib.sha1(sentence.encode("utf-8")).hexdigest(), 16) % 5 == 0


def _catalogue_paths(raw: Path, locale: str, package: str) -> list[Path]:
    if package == TEXT_PACKAGE:
        return [raw / TEXT_PACKAGE / "usr/share/locale" / locale / "LC_MESSAGES" / f"{name}.mo" for name in CATALOGUES]
    return sorted((raw / package / "usr/lib/libreoffice/program/resource" / locale / "LC_MESSAGES").glob("*.mo"))


def _language_pack_strings(root: Path) -> list[str]:
    """The values of a Firefox language pack's Fluent (``.ftl``) and ``.properties`` files (the ``.xpi`` is a zip)."""
    found = []
    for xpi in sorted((root / "usr/lib/firefox-esr/browser/extensions").glob("langpack-*.xpi")):
        with zipfile.ZipFile(xpi) as archive:
            for name in archive.namelist():
                if not name.endswith((".ftl", ".properties")):
                    continue
                for line in archive.read(name).decode("utf-8", "replace").splitlines():
                    key, equals, value = line.partition("=")
                    if equals and not key.lstrip().startswith("#") and value.strip():
                        found.append(value)
    return found


def _mostly_script(text: str) -> bool:
    """Whether most letters of ``text`` are beyond Latin (a language pack keeps some strings in English)."""
    letters = [c for c in text if c.isalpha()]
    return 2 * sum(ord(c) > 0x24F for c in letters) >= len(letters)


def _dictionary_lines(dic: Path, words_per_line: tuple[int, int] = (4, 12)) -> list[str]:
    """Hunspell's words (affix flags dropped), shuffled with a fixed seed and run together, a few to a line.

    Lao is written without spaces between words, with a space between phrases: a line here is phrases of two to
    five words, which is what a reader of orientation sees of running text (the glyphs and their mix, not grammar).
    """
    words = sorted({line.split("/")[0].strip() for line in dic.read_text("utf-8").splitlines()[1:]} - {""})
    rng = np.random.default_rng(0)
    rng.shuffle(words)
    lines, start = [], 0
    while start < len(words):
        line = words[start:start + int(rng.integers(words_per_line[0], words_per_line[1] + 1))]
        start += len(line)
        phrases, at = [], 0
        while at < len(line):
            size = int(rng.integers(2, 6))
            phrases.append("".join(line[at:at + size]))
            at += size
        lines.append(" ".join(phrases))
    return lines


def sentences(raw: Path, locale: str, package: str = TEXT_PACKAGE) -> list[str]:
    """The translated sentences of ``package``'s catalogues for ``locale``, markup and accelerators removed."""
    if package.startswith(f"{HUNSPELL}-"):
        return sorted(set(_dictionary_lines(raw / package / "usr/share/hunspell" / f"{locale}.dic")))
    if package.startswith(f"{FIREFOX}-l10n-"):
        out = []
        for text in _language_pack_strings(raw / package):  # Fluent placeables { ... }, %S, %1$S, \n, &
            text = re.sub(r"\{[^}]*\}|%[0-9]*\$?[SsDd]|\\n|&", " ", text)
            text = re.sub(r"\s+", " ", text).strip()
            if len(text) >= 4 and _mostly_script(text):
                out.append(text)
        return sorted(set(out))
    found: list[str] = []
    for path in _catalogue_paths(raw, locale, package):
        if not path.exists():
            continue
        with path.open("rb") as handle:
            catalogue = gettext.GNUTranslations(handle)
        found.extend(str(v) for k, v in catalogue._catalog.items() if k)  # noqa: SLF001 - the only access to it
    out = []
    for text in found:
        if package != TEXT_PACKAGE:  # LibreOffice's placeholders and accelerators: $(ARG1), %PRODUCTNAME, ~
            text = re.sub(r"\$\([^)]*\)|%[A-Z0-9_]+%?|~", " ", text)
        text = re.sub(r"<[^>]*>|[_&]|%[0-9]*\$?[sdgf]|\\n", " ", text)
        text = re.sub(r"\s+", " ", text).strip()
        if len(text) >= 4 and "Project-Id-Version" not in text:
            out.append(text)
    return sorted(set(out))


def _clusters(text: str) -> list[str]:
    """Grapheme-like clusters: a base character with the combining marks that follow it."""
    out: list[str] = []
    for char in text:
        if out and (unicodedata.category(char).startswith("M") or char in "\u200c\u200d"):
            out[-1] += char
        else:
            out.append(char)
    return out


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int, spaced: bool) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (between words, or clusters where there are none)."""
    units = text.split(" ") if spaced else _clusters(text)
    joiner = " " if spaced else ""
    lines: list[str] = []
    line = ""
    for unit in units:
        trial = f"{line}{joiner}{unit}" if line else unit
        if draw.textlength(trial, font=font) <= width or not line:
            line = trial
        else:
            lines.append(line)
            line = unit
    if line:
        lines.append(line)
    return lines


def _font(source: Path | bytes, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(io.BytesIO(source) if isinstance(source, bytes) else str(source), size)


#: Characters each font draws (not as its "missing glyph" box), per font and text, memoised per process.
_COVERED: dict[tuple[str, int], frozenset[str]] = {}


def covered(font: ImageFont.FreeTypeFont, chars: set[str]) -> frozenset[str]:
    """The characters of ``chars`` that ``font`` has a glyph for.

    A script font (Noto Serif Hebrew...) lacks Latin letters and often digits; what it lacks comes out as its
    missing-glyph box, which no real page shows. Such characters are dropped from the text.
    """
    key = (str(getattr(font, "path", "")) + f"@{font.size}", hash(frozenset(chars)))
    if key not in _COVERED:
        missing = _glyph(font, "\ue000")  # a private-use character: no font draws it
        _COVERED[key] = frozenset(c for c in chars if c.isspace() or _glyph(font, c) != missing)
    return _COVERED[key]


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    side = 2 * int(font.size) + 8
    image = Image.new("L", (side, side))
    ImageDraw.Draw(image).text((4, 4), char, font=font, fill=255)
    return image.tobytes()


def render_page(
    script: Script, texts: list[str], fonts: Sequence[Path | bytes], rng: np.random.Generator
) -> Image.Image:
    """One upright page (greyscale, :data:`PAGE_SIZE`) of ``script`` text in one of ``fonts`` (files or bytes)."""
    width, height = PAGE_SIZE
    page = Image.new("L", PAGE_SIZE, 255)
    draw = ImageDraw.Draw(page)
    font_path = fonts[int(rng.integers(len(fonts)))]
    body_size = int(rng.integers(15, 25))
    body = _font(font_path, body_size)
    heading = _font(font_path, int(body_size * rng.uniform(1.25, 1.8)))
    margin_x, margin_y = int(width * rng.uniform(0.08, 0.15)), int(height * rng.uniform(0.06, 0.11))
    columns = 2 if rng.random() < 0.25 else 1
    gap = int(rng.integers(24, 48))
    column_width = (width - 2 * margin_x - (columns - 1) * gap) // columns
    leading = int(body_size * rng.uniform(1.25, 1.65))
    joiner = " " if script.spaced else ""
    drawable = covered(body, {c for text in texts for c in text})
    texts = [t for t in (re.sub(r"\s+", " ", "".join(c for c in text if c in drawable)).strip() for text in texts) if t]

    def put(x: int, y: int, text: str, font: ImageFont.FreeTypeFont) -> None:
        if script.rtl:
            x = x + column_width - int(draw.textlength(text, font=font))
        draw.text((x, y), text, font=font, fill=int(rng.integers(0, 40)))

    top = margin_y
    if rng.random() < 0.8:
        title = texts[int(rng.integers(len(texts)))]
        for line in _wrap(draw, title, heading, width - 2 * margin_x, script.spaced)[:2]:
            put(margin_x, top, line, heading)
            top += int(heading.size * 1.4)
        top += leading
    bottom = height - margin_y
    column, y = 0, top
    while True:
        paragraph = joiner.join(texts[int(i)] for i in rng.integers(0, len(texts), int(rng.integers(2, 9))))
        lines = [(line, body) for line in _wrap(draw, paragraph, body, column_width, script.spaced)]
        if rng.random() < 0.2:
            lines.insert(0, (texts[int(rng.integers(len(texts)))][:60], heading))
        for line, font in lines:
            step = int(font.size * 1.45) if font is heading else leading
            if y + step > bottom:
                column += 1
                if column >= columns:
                    number = "".join(c for c in str(int(rng.integers(1, 400))) if c in covered(body, set("0123456789")))
                    draw.text((width // 2, height - margin_y // 2), number, font=body, fill=0)
                    return page
                y = top
            put(margin_x + column * (column_width + gap), y, line, font)
            y += step
        y += int(leading * rng.uniform(0.2, 1.0))
        if rng.random() < 0.08 and y < bottom - 320:
            box = int(rng.integers(100, 300))
            left = margin_x + column * (column_width + gap)
            draw.rectangle((left + 30, y, left + column_width - 30, y + box), outline=0, width=2)
            y += box + leading


def _fonts(raw: Path, script: Script, probe: bool) -> list[Path]:
    """The script's fonts for the probe or for training (the same ones where it names no probe fonts)."""
    if not script.probe_fonts:
        return [raw / f for f in script.fonts]
    return [raw / f for f in script.fonts if (f in script.probe_fonts) == probe]


def fetch(cache: Path = DEFAULT_CACHE) -> None:
    """Fetch the font packages and the translations into ``CACHE/raw``."""
    raw = cache / "raw"
    for package in sorted({*FONT_PACKAGES, *EXTRA_FONT_PACKAGES, *(script.package for script in SCRIPTS.values())}):
        fetch_deb(package, raw)
    for name, script in SCRIPTS.items():
        missing = [f for f in (*script.fonts, *EXTRA_FACES.get(name, ())) if not (raw / f).exists()]
        if missing:
            raise FileNotFoundError(f"{name}: fonts not found: {missing}")
        if not sentences(raw, script.locale, script.package):
            raise FileNotFoundError(f"{name}: no translations for locale {script.locale} in {script.package}")


@functools.lru_cache(maxsize=4)
def _split_sentences(locale: str, package: str, probe: bool) -> tuple[str, ...]:
    """One split of a locale's sentences, read once per worker process (not once per page)."""
    return tuple(t for t in sentences(DEFAULT_CACHE / "raw", locale, package) if is_probe_text(t) == probe)


def _page_job(job: tuple[str, str, int, int, bool, bool]) -> dict:
    name, dest, seed, index, probe, extra = job
    raw = DEFAULT_CACHE / "raw"
    script = SCRIPTS[name]
    texts = list(_split_sentences(script.locale, script.package, probe))
    rng = np.random.default_rng([seed, index, *name.encode()])
    fonts = [raw / face for face in EXTRA_FACES[name]] if extra else _fonts(raw, script, probe)
    page = render_page(script, texts, fonts, rng)
    page.save(dest)
    kind = "extra" if extra else "rendered"
    return {"path": dest, "kind": "document", "source_id": f"{kind}:{name}:{seed}:{index}", "script": name,
            "split": "probe" if probe else "train"}


def render_training_pages(out: Path, names: list[str], per_script: int, seed: int, workers: int,
                          extra_faces: bool = False) -> Path:
    """Render ``per_script`` upright training pages per script into ``out``; returns the index path.

    ``extra_faces``: set each page in one of the script's :data:`EXTRA_FACES` instead of its own training faces.
    """
    out.mkdir(parents=True, exist_ok=True)
    if extra_faces:
        lacking = [n for n in names if n not in EXTRA_FACES]
        if lacking:
            raise ValueError(f"no extra faces for {lacking}; scripts with some: {', '.join(EXTRA_FACES)}")
    jobs = [(n, str(out / f"{n}_{seed}_{i:05d}.png"), seed, i, False, extra_faces)
            for n in names for i in range(per_script)]
    with ProcessPoolExecutor(workers) as pool:
        records = list(pool.map(_page_job, jobs, chunksize=8))
    index = out / "index.jsonl"
    with index.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    LOG.info("rendered %d pages into %s", len(records), out)
    return index


def _posed_job(job: tuple[str, str, int, int, bool]) -> list[tuple[str, dict]]:
    """One page posed as a document and as a scan (the dev-set makers and pose mixture)."""
    from rotbgr_core.training import devset

    name, folder, seed, index, probe = job
    base = Path(folder) / name
    upright = base / "upright" / f"{name}_{index:04d}.png"
    _page_job((name, str(upright), seed, index, probe, False))
    rng = np.random.default_rng([seed, index, 1, *name.encode()])
    out = []
    for set_name in ("documents", "scans"):
        angle, mirrored = devset.sample_pose(rng)
        stem = base / set_name / f"{set_name}_{index:04d}"
        if set_name == "documents":
            dest = devset._save(devset.make_document(str(upright), angle, mirrored, rng), stem, "png")  # noqa: SLF001
        else:
            image, fmt = devset.make_scan(str(upright), angle, mirrored, rng)
            dest = devset._save(image, stem, fmt)  # noqa: SLF001
        source = f"rendered-{'probe' if probe else 'posed'}:{name}:{seed}:{index}"
        out.append((set_name, {"path": dest.name, "angle": angle, "mirrored": mirrored, "source_id": source}))
    return out


def build_posed(out: Path, names: list[str], per_script: int, seed: int, workers: int, probe: bool = True) -> None:
    """Labelled sets ``out/<script>/{documents,scans}`` with ``truth.jsonl``.

    ``probe``: unseen fonts and sentences, to measure. Otherwise the training fonts and sentences, for the
    confidence's calibration harvest (``calibrate_fusion harvest --folder``): pages the networks never trained on,
    in scripts whose errors the real pages cannot show.
    """
    for name in names:
        for sub in ("upright", "documents", "scans"):
            (out / name / sub).mkdir(parents=True, exist_ok=True)
    jobs = [(n, str(out), seed, i, probe) for n in names for i in range(per_script)]
    if workers <= 1:
        results = [_posed_job(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_posed_job, jobs, chunksize=4))
    truth: dict[tuple[str, str], list[dict]] = {}
    for job, pairs in zip(jobs, results, strict=True):
        for set_name, record in pairs:
            truth.setdefault((job[0], set_name), []).append(record)
    for (name, set_name), records in truth.items():
        with (out / name / set_name / "truth.jsonl").open("w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record) + "\n")
    LOG.info("%s sets for %s in %s", "probe" if probe else "posed", ", ".join(names), out)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``fetch``, ``pages``, ``probe`` or ``posed``."""
    parser = argparse.ArgumentParser(prog="python -m rotbgr_core.training.render_pages")
    parser.add_argument("action", choices=("fetch", "pages", "probe", "posed"))
    parser.add_argument("--scripts", default=",".join(SCRIPTS), help="comma-separated script names")
    parser.add_argument("--per-script", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--extra-faces", action="store_true",
                        help="pages: set each page in one of the script's EXTRA_FACES (training only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    names = [n for n in args.scripts.split(",") if n]
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        parser.error(f"unknown scripts {unknown}; known: {', '.join(SCRIPTS)}")
    if args.action == "fetch":
        fetch()
    elif args.action == "pages":
        render_training_pages(args.out or DEFAULT_CACHE / "rendered", names, args.per_script, args.seed, args.workers,
                              args.extra_faces)
    elif args.action == "probe":
        build_posed(args.out or DEFAULT_CACHE / "scriptprobe", names, args.per_script, args.seed, args.workers)
    else:
        build_posed(args.out or DEFAULT_CACHE / "scriptposed", names, args.per_script, args.seed, args.workers,
                    probe=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
