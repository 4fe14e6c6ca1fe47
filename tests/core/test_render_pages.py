"""Pages rendered in other scripts: catalogue text, line breaking, the probe split, the page layout."""

from __future__ import annotations

import json
import re
import struct
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rotbgr_core.training import render_pages
from rotbgr_core.training.render_pages import Script, is_probe_text, render_page, sentences


def write_mo(path: Path, messages: dict[str, str]) -> None:
    """A GNU gettext catalogue (``.mo``) holding ``messages``, as msgfmt writes it."""
    items = sorted(messages.items())
    ids = b"".join(k.encode() + b"\0" for k, _ in items)
    strs = b"".join(v.encode() + b"\0" for _, v in items)
    n = len(items)
    header = 7 * 4
    ids_start = header + 16 * n
    strs_start = ids_start + len(ids)
    table_ids, table_strs, offset_id, offset_str = b"", b"", ids_start, strs_start
    for key, value in items:
        table_ids += struct.pack("<II", len(key.encode()), offset_id)
        table_strs += struct.pack("<II", len(value.encode()), offset_str)
        offset_id += len(key.encode()) + 1
        offset_str += len(value.encode()) + 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<7I", 0x950412DE, 0, n, header, header + 8 * n, 0, 0)
                     + table_ids + table_strs + ids + strs)


def test_catalogue_sentences_lose_markup_accelerators_and_formats(tmp_path: Path) -> None:
    catalogue = tmp_path / "gimp-data/usr/share/locale/xx/LC_MESSAGES/gimp20.mo"
    write_mo(catalogue, {
        "": "Project-Id-Version: GIMP\nContent-Type: text/plain; charset=UTF-8\n",
        "_Open": "_Ouvrir le fichier",
        "<b>Size</b> %d px": "<b>Taille</b> %d pixels",
        "Ok": "Ok",
    })
    found = sentences(tmp_path, "xx")
    assert found == ["Ouvrir le fichier", "Taille pixels"]  # "Ok" is too short to be a sentence
    assert sentences(tmp_path, "zz") == []


def test_libreoffice_catalogues_lose_their_placeholders_and_accelerators(tmp_path: Path) -> None:
    resource = tmp_path / "libreoffice-l10n-pa-in/usr/lib/libreoffice/program/resource/pa_IN/LC_MESSAGES"
    write_mo(resource / "sw.mo", {"Insert ~Table": "~Tabla insertar",
                                  "Save in %PRODUCTNAME": "Guardar en %PRODUCTNAME"})
    write_mo(resource / "sc.mo", {"Cell $(ARG1) is empty": "La celda $(ARG1) esta vacia"})
    script = Script("pa_IN", ("font",), text_package=render_pages.LIBREOFFICE)
    assert script.package == "libreoffice-l10n-pa-in"
    assert sentences(tmp_path, script.locale, script.package) == ["Guardar en", "La celda esta vacia", "Tabla insertar"]
    assert sentences(tmp_path, script.locale) == []  # not GIMP's


def test_firefox_language_packs_give_their_translated_strings_without_placeables(tmp_path: Path) -> None:
    extensions = tmp_path / "firefox-esr-l10n-hy-am/usr/lib/firefox-esr/browser/extensions"
    extensions.mkdir(parents=True)
    with zipfile.ZipFile(extensions / "langpack-hy-AM@firefox-esr.mozilla.org.xpi", "w") as archive:
        archive.writestr("localization/hy-AM/browser/tabs.ftl",
                         "# Բացել նոր ներդիր = a comment\n"
                         "tab-new = Բացել { $count } նոր ներդիր\n"
                         "tab-close =\n"
                         "    .label = Փակել ներդիրը\n"
                         "about-title = Translations\n")
        archive.writestr("chrome/hy-AM/locale/browser/downloads.properties",
                         "done=%1$S-ը ներբեռնված է\\nԿրկին\nmenu=&Ֆայլ\n")
        archive.writestr("manifest.json", '{"name": "Հայերեն = Armenian"}')
    script = Script("hy_AM", ("font",), text_package=render_pages.FIREFOX)
    assert script.package == "firefox-esr-l10n-hy-am"
    # Placeables, printf arguments, escaped newlines and accelerators go; comments, keys and English strings too.
    assert sentences(tmp_path, script.locale, script.package) == [
        "-ը ներբեռնված է Կրկին", "Բացել նոր ներդիր", "Փակել ներդիրը", "Ֆայլ"]


def test_hunspell_words_run_together_into_lines_of_phrases(tmp_path: Path) -> None:
    """Lao has no translation catalogue here: its lines are dictionary words, run together as Lao is written."""
    hunspell = tmp_path / "hunspell-lo/usr/share/hunspell"
    hunspell.mkdir(parents=True)
    words = [f"\u0e81\u0eb2{chr(0x0e82 + i % 30)}{i}" for i in range(200)]
    (hunspell / "lo_LA.dic").write_text(f"{len(words)}\n" + "".join(f"{w}/AB\n" for w in words), "utf-8")
    script = Script("lo_LA", ("font",), spaced=False, text_package=render_pages.HUNSPELL)
    assert script.package == "hunspell-lo"
    lines = sentences(tmp_path, script.locale, script.package)
    assert lines == sentences(tmp_path, script.locale, script.package)  # fixed: the same lines every time
    pieces = [piece for line in lines for piece in line.split(" ")]
    # Every word once, its affix flags gone; words run together within a phrase, phrases apart.
    assert sorted(re.findall(r"\D+\d+", "".join(pieces))) == sorted(words)
    assert "/" not in "".join(lines) and any(" " in line for line in lines)
    assert all(2 <= len(re.findall(r"\d+", piece)) <= 5 for line in lines for piece in line.split(" ")[:-1])


def test_the_probe_split_is_a_fifth_and_fixed() -> None:
    texts = [f"sentence number {i}" for i in range(2000)]
    probe = [t for t in texts if is_probe_text(t)]
    assert 0.17 < len(probe) / len(texts) < 0.23
    assert probe == [t for t in texts if is_probe_text(t)]


def test_lines_fit_their_column_and_clusters_keep_their_marks() -> None:
    font = ImageFont.load_default(size=18)
    draw = ImageDraw.Draw(Image.new("L", (10, 10)))
    text = "the quick brown fox jumps over the lazy dog " * 6
    lines = render_pages._wrap(draw, text.strip(), font, 200, spaced=True)  # noqa: SLF001
    assert len(lines) > 3
    assert all(draw.textlength(line, font=font) <= 200 for line in lines)
    assert " ".join(lines) == text.strip()
    # Thai: a consonant with its vowel and tone marks stays one unit.
    assert render_pages._clusters("\u0e01\u0e34\u0e48\u0e07\u0e44") == ["\u0e01\u0e34\u0e48", "\u0e07", "\u0e44"]  # noqa: SLF001


def test_a_rendered_page_is_a_typeset_page(tmp_path: Path) -> None:
    font = ImageFont.load_default(size=20).path.getvalue()  # Pillow's bundled FreeType font, as bytes
    script = Script("xx", ("bundled",))
    texts = [f"Sentence {i} of a catalogue, long enough to wrap onto more than one line of text." for i in range(50)]
    page = render_page(script, texts, [font], np.random.default_rng(0))
    assert page.size == render_pages.PAGE_SIZE and page.mode == "L"
    ink = np.asarray(page) < 128
    rows = ink.any(axis=1)
    assert 0.02 < ink.mean() < 0.3
    # Text lines: many separate runs of inked rows, and a white margin all round.
    assert np.count_nonzero(np.diff(rows.astype(np.int8)) == 1) >= 20
    assert not ink[:40].any() and not ink[:, :40].any() and not ink[:, -40:].any()


def test_posed_sets_use_training_fonts_and_text_and_probe_sets_the_held_out_ones(tmp_path: Path, monkeypatch) -> None:
    """``posed`` (for the confidence's harvest) must never draw on the probe's fonts or sentences."""
    font = ImageFont.load_default(size=20).path.getvalue()
    script = Script("xx", ("train.ttf", "probe.ttf"), probe_fonts=("probe.ttf",))
    monkeypatch.setitem(render_pages.SCRIPTS, "xx", script)
    asked: list[bool] = []

    def fonts(raw: Path, script: Script, probe: bool) -> list[bytes]:
        asked.append(probe)
        return [font]

    monkeypatch.setattr(render_pages, "_fonts", fonts)
    texts = tuple(f"Sentence {i} of the catalogue, long enough." for i in range(30))
    monkeypatch.setattr(render_pages, "_split_sentences", lambda locale, package, probe: texts)
    for probe, out in ((False, tmp_path / "posed"), (True, tmp_path / "probe")):
        asked.clear()
        render_pages.build_posed(out, ["xx"], 3, seed=9, workers=1, probe=probe)
        assert asked == [probe] * 3
        for set_name in ("documents", "scans"):
            records = [json.loads(line) for line in (out / "xx" / set_name / "truth.jsonl").read_text().splitlines()]
            kind = "probe" if probe else "posed"
            assert [r["source_id"] for r in records] == [f"rendered-{kind}:xx:9:{i}" for i in range(3)]
            assert all((out / "xx" / set_name / r["path"]).is_file() and -180 <= r["angle"] < 180 for r in records)


def test_every_script_names_fonts_and_keeps_training_fonts() -> None:
    for name, script in render_pages.SCRIPTS.items():
        assert script.fonts, name
        assert set(script.probe_fonts) <= set(script.fonts), name
        assert len(script.fonts) > len(script.probe_fonts), name
    assert not any(p.startswith(("texlive-lang-korean", "texlive-lang-greek")) for p in render_pages.FONT_PACKAGES)


def test_characters_a_font_lacks_are_left_out_not_drawn_as_boxes() -> None:
    font = ImageFont.load_default(size=20)  # Latin, no Hangul
    assert render_pages.covered(font, {"a", "Z", " ", "\uac00", "\u05d0"}) == {"a", "Z", " "}
    data = font.path.getvalue()
    script = Script("xx", ("bundled",))
    texts = ["\uac00\ub098\ub2e4 only the Latin words of this sentence are drawn on the page" for _ in range(30)]
    page = render_page(script, texts, [data], np.random.default_rng(1))
    reference = render_page(script, [t.replace("\uac00\ub098\ub2e4 ", "") for t in texts], [data],
                            np.random.default_rng(1))
    assert np.array_equal(np.asarray(page), np.asarray(reference))


def test_extra_faces_are_training_faces_of_known_scripts_and_never_probe_faces() -> None:
    for name, faces in render_pages.EXTRA_FACES.items():
        script = render_pages.SCRIPTS[name]
        assert faces and not set(faces) & set(script.fonts), name  # beyond the script's own faces
    reserved = ("texlive-lang-korean", "texlive-lang-greek")
    assert not any(package.startswith(reserved) for package in render_pages.EXTRA_FONT_PACKAGES)


def test_extra_face_pages_are_set_in_the_extra_faces_alone(tmp_path: Path, monkeypatch) -> None:
    font = ImageFont.load_default(size=20).path.getvalue()
    monkeypatch.setitem(render_pages.SCRIPTS, "xx", Script("xx", ("own.ttf",)))
    monkeypatch.setitem(render_pages.EXTRA_FACES, "xx", ("extra-package/extra.ttf",))
    texts = tuple(f"Sentence {i} of the catalogue, long enough." for i in range(30))
    monkeypatch.setattr(render_pages, "_split_sentences", lambda locale, package, probe: texts)
    faces: list[list[str]] = []

    def render(script: Script, texts: list[str], fonts: list[Path], rng: np.random.Generator) -> Image.Image:
        faces.append([Path(f).name for f in fonts])
        return render_page(script, texts, [font], rng)

    monkeypatch.setattr(render_pages, "render_page", render)
    monkeypatch.setattr(render_pages, "ProcessPoolExecutor", _InlinePool)
    index = render_pages.render_training_pages(tmp_path / "extra", ["xx"], 2, seed=8, workers=1, extra_faces=True)
    records = [json.loads(line) for line in index.read_text().splitlines()]
    assert faces == [["extra.ttf"], ["extra.ttf"]]
    assert [r["source_id"] for r in records] == ["extra:xx:8:0", "extra:xx:8:1"]
    assert all(Path(r["path"]).is_file() for r in records)
    try:
        render_pages.render_training_pages(tmp_path / "no", ["el"], 1, seed=8, workers=1, extra_faces=True)
    except ValueError as exc:
        assert "no extra faces for ['el']" in str(exc)
    else:
        raise AssertionError("a script without extra faces was rendered")


class _InlinePool:
    """A process pool that runs its jobs in this process (so the test's patches apply)."""

    def __init__(self, workers: int) -> None:
        pass

    def __enter__(self) -> _InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def map(self, function: Callable[..., Any], jobs: Iterable[Any], chunksize: int = 1) -> Iterator[Any]:
        return map(function, jobs)
