"""Training-data plumbing: Qt resource bundles read without Qt, the compact pool, the photo level rule."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from rotbgr_core.learned import Calibration, RawResult, decide
from rotbgr_core.training import sources
from rotbgr_core.training.rcc import RccError, ResourceFile
from rotbgr_core.training.synth import Pool, load_pool, save_compact

RCC = Path(__file__).resolve().parents[1] / "resources" / "rcc"
PREFIX = "gcompris/src/activities/erase/resource/"


def test_resource_bundle_files_come_back_whole() -> None:
    files = dict(ResourceFile.open(RCC / "sample.rcc").files())
    assert set(files) == {PREFIX + "red.png", PREFIX + "sub/blue.webp", PREFIX + "notes.txt"}
    assert files[PREFIX + "notes.txt"] == b"upright " * 200  # stored zlib-compressed
    with Image.open(io.BytesIO(files[PREFIX + "red.png"])) as red:
        assert red.size == (8, 6) and red.convert("RGB").getpixel((3, 3)) == (200, 10, 10)
    with Image.open(io.BytesIO(files[PREFIX + "sub/blue.webp"])) as blue:
        assert blue.size == (5, 5) and blue.convert("RGB").getpixel((2, 2)) == (10, 10, 200)


def test_resource_bundle_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RccError, match="zstd"):
        list(ResourceFile.open(RCC / "sample-zstd.rcc").files())
    not_rcc = tmp_path / "page.png"
    not_rcc.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(RccError, match="qres"):
        ResourceFile.open(not_rcc)


def test_compact_pool_round_trip(tmp_path: Path) -> None:
    """Every kind comes back in its own mode and size, close to the original; subsets as asked."""
    rng = np.random.default_rng(0)
    smooth = np.clip(np.linspace(0, 255, 64 * 48 * 3).reshape(48, 64, 3) + rng.normal(0, 2, (48, 64, 3)), 0, 255)
    photo = smooth.astype(np.uint8)
    opaque = np.dstack([photo, np.full((48, 64), 255, np.uint8)])  # WebP drops an all-opaque alpha: must come back
    cutout = opaque.copy()
    cutout[:, :20, 3] = 0
    page = np.full((40, 30), 250, np.uint8)
    page[10:12, 5:25] = 0
    pool = Pool([photo], [photo], [cutout, opaque], [page, page, page, page], [[page] * 6] * 4)
    save_compact(pool, tmp_path / "compact.pkl", max_docs=2, patches=3)
    back = load_pool(tmp_path / "compact.pkl")
    assert back.photos[0].shape == (48, 64, 3) and np.abs(back.photos[0].astype(int) - photo).mean() < 4
    assert [c.shape for c in back.cutouts] == [(48, 64, 4), (48, 64, 4)]
    assert (back.cutouts[0][:, :20, 3] == 0).all() and (back.cutouts[0][:, 20:, 3] == 255).all()
    assert (back.cutouts[1][:, :, 3] == 255).all()
    assert len(back.doc_thumbs) == 2 and [len(p) for p in back.doc_patches] == [3, 3]
    assert back.doc_thumbs[0].shape == (40, 30) and back.doc_thumbs[0][11, 15] < 60 and back.doc_thumbs[0][30, 15] > 200


def _photo_raw(edge_angle: float, strength: float) -> RawResult:
    log_probs = np.log(np.asarray([0.9, 0.02, 0.02, 0.02, 0.02, 0.0067, 0.0067, 0.0066], dtype=np.float32))
    return RawResult(edge_angle=edge_angle, edge_strength=strength, doc_prob=0.01, log_probs=log_probs, residual=0.0)


@pytest.mark.parametrize(("edge_angle", "strength", "expected"), [
    (-30.0, 0.05, 0.0),  # faint evidence for a large tilt: left level
    (-30.0, 0.50, -30.0),  # strong evidence: believed
    (-4.0, 0.05, -4.0),  # faint evidence for a small tilt: believed
])
def test_photo_level_rule(edge_angle: float, strength: float, expected: float) -> None:
    calibration = Calibration(level_strength=0.1, level_angle=15.0, residual_strength=0.0)
    assert decide(_photo_raw(edge_angle, strength), calibration).angle == pytest.approx(expected)
    assert decide(_photo_raw(edge_angle, strength), Calibration(residual_strength=0.0)).angle == pytest.approx(
        edge_angle)  # off by default: older weights files decide as before


@pytest.mark.parametrize(("tilt_lines", "expected"), [(None, 0.0), (0.5, 0.0), (1.5, -30.0)])
def test_straight_lines_along_a_faint_tilt_overrule_the_level_rule(tilt_lines: float | None, expected: float) -> None:
    """A faint tilt is believed only when straight segments back it by more than ``level_line_ratio``."""
    raw = _photo_raw(-30.0, 0.05)
    raw.tilt_lines = tilt_lines
    calibration = Calibration(level_strength=0.1, level_angle=15.0, residual_strength=0.0, level_line_ratio=1.0)
    assert decide(raw, calibration).angle == pytest.approx(expected)


@pytest.mark.parametrize(("edge_angle", "expected"), [(0.2, 0.0), (-0.3, 0.0), (0.5, 0.5), (-3.0, -3.0)])
def test_a_photos_tilt_under_a_third_of_a_degree_is_answered_as_the_quarter_turn(
    edge_angle: float, expected: float,
) -> None:
    """Below what the gradients can resolve, a photo is answered exactly level (so a JPEG turns losslessly)."""
    calibration = Calibration(residual_strength=0.0)
    assert decide(_photo_raw(edge_angle, 0.5), calibration).angle == expected


def test_gcompris_pictures_are_photos_and_drawn_words_cutouts(tmp_path: Path) -> None:
    from rotbgr_core.training.sources import RESERVED, _gcompris_items, split_of

    root = tmp_path / "gcompris-images"
    for rel in ("erase/resource/gorilla.webp", "lang/resource/words_sample/apple.webp"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"")
    (root / ".done").touch()
    items = {item.source_id: item.kind for item in _gcompris_items(tmp_path)}
    assert items == {
        "gcompris-qt-data:gcompris/src/activities/erase/resource/gorilla.webp": "photo",
        "gcompris-qt-data:gcompris/src/activities/lang/resource/words_sample/apple.webp": "cutout",
    }
    assert not any("gcompris".startswith(reserved) for reserved in RESERVED)
    assert {split_of(source) for source in items} <= {"train", "dev"}


def test_extra_manifest_is_well_formed_and_never_reserved(tmp_path: Path) -> None:
    rows = sources.read_extra_manifest()
    assert len(rows) > 100 and len(set(rows)) == len(rows)
    assert {kind for _, _, kind in rows} <= {"photo", "illustration"}
    bad = tmp_path / "extra.tsv"
    bad.write_text("# header\ndebian:palapeli-data\tusr/share/x.jpg\tphoto\tno\n", encoding="utf-8")
    with pytest.raises(ValueError, match="reserved"):
        sources.read_extra_manifest(bad)
    bad.write_text("debian:scratch usr/share/x.jpg photo\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"extra\.tsv:1"):
        sources.read_extra_manifest(bad)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def test_puzzle_and_array_containers_open_as_pictures(tmp_path: Path) -> None:
    """A jigzo puzzle's picture is its box of the texture atlas (not the preview); an .npz its 'data' array."""
    atlas = Image.new("RGB", (256, 128), (0, 0, 255))
    atlas.paste(Image.new("RGB", (60, 40), (255, 0, 0)), (100, 30))
    preview = Image.new("RGB", (32, 32), (0, 255, 0))
    header = b"PzlF\nbike-3x4\ncrop000 1 2 3 4\nimage 100 30 60 40 1 1\n"
    puzzle = tmp_path / "bike-3x4.pzl"
    puzzle.write_bytes(header + _jpeg(preview) + b"\n" + _jpeg(atlas))
    with sources.open_picture(puzzle) as picture:
        assert picture.size == (60, 40)
        red, green, blue = picture.convert("RGB").getpixel((30, 20))
        assert red > 200 and green < 40 and blue < 40
    puzzle.write_bytes(header + _jpeg(preview))
    with pytest.raises(OSError, match="no texture"):
        sources.open_picture(puzzle)
    array = tmp_path / "ascent.npz"
    np.savez(array, data=np.arange(12 * 10, dtype=np.uint8).reshape(12, 10))
    with sources.open_picture(array) as picture:
        assert picture.size == (10, 12) and picture.getpixel((3, 1)) == 13


def test_cut_out_sky_is_filled_and_near_copies_are_dropped(tmp_path: Path) -> None:
    rgba = np.zeros((64, 96, 4), np.uint8)
    rgba[32:, :, :3] = (40, 120, 30)  # a field below a transparent sky
    rgba[32:, :, 3] = 255
    rgba[:32, :, :3] = 0  # what a plain convert("RGB") would show: a black sky
    rgba[10:20, 40:60, :3] = (200, 200, 0)
    rgba[10:20, 40:60, 3] = 255  # a sun
    src = tmp_path / "landscape.png"
    Image.fromarray(rgba, "RGBA").save(src)
    known: list[int] = []
    out = tmp_path / "cache"
    rec = sources._save_image(sources.Item("photo", "test:landscape.png", src), out, known)
    assert rec is not None and len(known) == 1
    with Image.open(out / rec["path"]) as saved:
        pixels = np.asarray(saved.convert("RGB"), dtype=int)
    assert pixels[2, 2, 2] > 150 and pixels[2, 2, 2] > pixels[2, 2, 0]  # blue sky, not black
    assert abs(pixels[50, 10] - (40, 120, 30)).max() < 12  # the field is untouched
    copy = tmp_path / "landscape-small.png"
    Image.fromarray(rgba, "RGBA").resize((48, 32)).save(copy)
    assert sources._save_image(sources.Item("photo", "test:landscape-small.png", copy), out, known) is None


def test_bitonal_dev_scans_keep_light_grey_text() -> None:
    """Text that a low-resolution, blurred scan turned light grey stays black in the 1-bit scan; paper stays white.

    (A fixed midpoint threshold alone made blank dev scans: no orientation can be read from them.)
    """
    from rotbgr_core.training.devset import binarise

    rng = np.random.default_rng(0)
    grey = np.full((600, 800), 249.0) + rng.normal(0.0, 4.0, (600, 800))
    grey[:, :60] = 160.0  # a light scanner bed along the left edge
    for top in range(80, 520, 40):  # lines of "text": light grey strokes 2 px wide
        grey[top : top + 12, 120:700:6] = 150.0
        grey[top : top + 12, 121:700:6] = 150.0
    image = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8))
    fixed = np.asarray(image) <= 130  # the old rule at this page's threshold: nothing left
    assert not fixed.any()
    scan = binarise(image, 130)
    assert scan.mode == "1"
    black = np.asarray(scan.convert("L")) < 128
    strokes = np.zeros_like(black)
    for top in range(80, 520, 40):
        strokes[top : top + 12, 120:700:6] = strokes[top : top + 12, 121:700:6] = True
    assert black[strokes].mean() > 0.95  # the text is there
    paper = ~strokes
    paper[:, :80] = False  # the bed and its edge may turn black, as on real 1-bit scans
    paper[70:530, 110:710] = False  # between strokes, a stroke's neighbours may too
    assert black[paper].mean() < 0.01  # clean paper, no speckle from the sensor noise


def test_negative_sets_invert_the_pages_and_keep_their_answers(tmp_path: Path) -> None:
    """``devset negatives``: what dark-mode screenshots and negative scans look like, with the same truth."""
    from rotbgr_core.training.devset import write_negatives

    for name in ("documents", "scans"):
        folder = tmp_path / "sets" / name
        folder.mkdir(parents=True)
        page = Image.new("L", (32, 32), 240)
        page.paste(10, (0, 0, 16, 16))  # ink: a whole JPEG block, so that it stays ink
        suffix = ".jpg" if name == "scans" else ".png"
        page.save(folder / f"{name}_0000{suffix}")
        truth = {"path": f"{name}_0000{suffix}", "angle": 91.5, "mirrored": True, "source_id": "x.pdf#1"}
        (folder / "truth.jsonl").write_text(json.dumps(truth) + "\n")
    assert write_negatives(tmp_path / "sets", tmp_path / "out") == {"documents_negative": 1, "scans_negative": 1}
    for name in ("documents", "scans"):
        [line] = (tmp_path / "out" / f"{name}_negative" / "truth.jsonl").read_text().splitlines()
        truth = json.loads(line)
        assert truth == {"path": f"{name}_0000.png", "angle": 91.5, "mirrored": True, "source_id": "x.pdf#1"}
        inverted = Image.open(tmp_path / "out" / f"{name}_negative" / truth["path"])
        assert inverted.mode == "RGB" and inverted.getpixel((28, 28))[0] <= 30 and inverted.getpixel((4, 4))[0] >= 200


def test_shaded_sets_darken_one_corner_and_keep_the_answers(tmp_path: Path) -> None:
    """``devset shaded``: the documents under a light ramp, the dark corner at each level asked for, and in a
    shadow along one side."""
    from rotbgr_core.training.devset import write_shaded

    folder = tmp_path / "sets" / "documents"
    folder.mkdir(parents=True)
    Image.new("RGB", (40, 40), (250, 250, 250)).save(folder / "documents_0000.png")
    truth = {"path": "documents_0000.png", "angle": -3.0, "mirrored": False, "source_id": "x.pdf#2"}
    (folder / "truth.jsonl").write_text(json.dumps(truth) + "\n")
    counts = write_shaded(tmp_path / "sets", tmp_path / "out", (0.35,), edge=(0.3, 0.12))
    assert counts == {"documents_shaded35": 1, "documents_edge30": 1}
    target = tmp_path / "out" / "documents_shaded35"
    assert json.loads((target / "truth.jsonl").read_text()) == truth
    shaded = Image.open(target / "documents_0000.png")
    assert shaded.getpixel((0, 0)) == (88, 88, 88) and shaded.getpixel((39, 39)) == (250, 250, 250)
    edge = Image.open(tmp_path / "out" / "documents_edge30" / "documents_0000.png")
    # The first image's shadow lies along its left side: 30% there, full light at the right.
    assert edge.getpixel((0, 5)) == edge.getpixel((0, 35)) == (75, 75, 75)
    assert edge.getpixel((39, 20)) == (250, 250, 250)


def test_stress_sets_keep_the_answers_and_change_what_they_say(tmp_path: Path) -> None:
    """``devset stress``: shrunk, slanted, bent and vignetted copies of the documents (and scans), same truth."""
    from rotbgr_core.training.devset import motion_blurred, write_stress

    truths = {}
    for name in ("documents", "scans"):
        folder = tmp_path / "sets" / name
        folder.mkdir(parents=True)
        page = Image.new("RGB", (400, 300), (250, 250, 250))
        ImageDraw.Draw(page).rectangle((0, 140, 399, 159), fill=(0, 0, 0))  # one thick line across the middle
        page.save(folder / f"{name}_0000.png")
        truths[name] = {"path": f"{name}_0000.png", "angle": 91.5, "mirrored": True, "source_id": "x.pdf#1"}
        (folder / "truth.jsonl").write_text(json.dumps(truths[name]) + "\n")
    counts = write_stress(tmp_path / "sets", tmp_path / "out")
    assert counts == {"documents_small320": 1, "scans_small320": 1, "documents_keystone25": 1,
                      "scans_keystone25": 1, "documents_curve3": 1, "scans_curve3": 1, "documents_vignette55": 1,
                      "documents_motion11": 1, "scans_motion11": 1, "documents_dim35": 1, "scans_dim35": 1}
    for written in counts:
        name = written.split("_")[0]
        assert json.loads((tmp_path / "out" / written / "truth.jsonl").read_text()) == truths[name]

    def grey(written: str) -> np.ndarray:
        return np.asarray(Image.open(tmp_path / "out" / written / "documents_0000.png").convert("L"))

    assert grey("documents_small320").shape == (240, 320)
    slanted = grey("documents_keystone25")
    # The top corners are uncovered, and the line (nearer the squeezed top now) is shorter.
    assert slanted[0, 0] == slanted[0, -1] == 250 and slanted[128, 200] < 60 and slanted[128, 8] == 250
    bent = grey("documents_curve3")
    assert bent[150, 0] < 60 and bent[133, 200] < 60 and bent[155, 200] > 200  # the line bows up 9 px in the middle
    lit = grey("documents_vignette55")
    assert lit[150, 200] < 60 and lit[5, 5] == 75 and 225 < lit[100, 200] < 245  # 30% in the corner at most
    smeared = grey("documents_motion11")
    assert smeared[150, 200] < 60 and smeared[130, 200] == 250  # a line across keeps its sharp top edge
    stem = Image.new("RGB", (40, 40), (255, 255, 255))
    ImageDraw.Draw(stem).line((20, 0, 20, 39), fill=(0, 0, 0))
    row = np.asarray(motion_blurred(stem, 11).convert("L"))[20]
    assert row[20] > 200 and row[15] < 255 and row[25] < 255 and row[14] == row[26] == 255  # a stem smeared across
    down = np.asarray(motion_blurred(stem, 11, 90.0).convert("L"))
    assert down[20, 20] == 0 and down[20, 19] == down[20, 21] == 255  # smeared along itself: still one sharp stem
    slant = np.asarray(motion_blurred(stem, 11, 45.0).convert("L"))[20]
    assert slant[17] < 255 and slant[23] < 255 and slant[15] == slant[25] == 255  # a diagonal smear: narrower across
    assert slant[17:24].mean() < row[15:26].mean()  # and darker, as the same ink covers fewer columns
    dim = np.asarray(Image.open(tmp_path / "out" / "documents_dim35" / "documents_0000.png"), dtype=float)
    paper = dim[20:120, 20:380].reshape(-1, 3).mean(axis=0)  # 250 dimmed to 35%, warm, noisy
    assert abs(paper[0] - 87.5) < 2 and abs(paper[2] - 61.3) < 2 and dim[20:120, 20:380, 0].std() > 3


def test_screen_sets_split_the_screenshots_by_file_and_pose_each_once(tmp_path: Path) -> None:
    """``devset screens``: GIMP's help screenshots in two halves, every other file, with the SPEC's answers."""
    from rotbgr_core.geometry import make_rotated
    from rotbgr_core.training.devset import write_screens

    images = tmp_path / "raw" / "gimp-help-en" / "usr" / "share" / "gimp" / "2.0" / "help" / "en" / "images"
    for number, folder in enumerate(("dialogs", "menus", "preferences", "tool-options", "filters")):
        (images / folder).mkdir(parents=True)
        shot = Image.new("RGBA", (300, 200), (230, 230, 230, 255))
        ImageDraw.Draw(shot).rectangle((10, 10, 120, 40), fill=(20, 20, 20, 255))
        shot.save(images / folder / f"shot{number}.png")
    Image.new("RGBA", (32, 32)).save(images / "menus" / "button.png")  # too small to be a screenshot
    with pytest.raises(FileNotFoundError, match="gimp-help-en"):
        write_screens(tmp_path / "nothing", tmp_path / "out")
    counts = write_screens(tmp_path, tmp_path / "out")
    # Sorted: dialogs/shot0, menus/button, menus/shot1, preferences/shot2, tool-options/shot3 (not filters').
    assert counts == {"screens_a": 3, "screens_b": 1}
    sources = {half: [json.loads(line)["source_id"] for line in
                      (tmp_path / "out" / f"screens_{half}" / "truth.jsonl").read_text().splitlines()]
               for half in "ab"}
    assert sources == {"a": ["dialogs/shot0.png", "menus/shot1.png", "tool-options/shot3.png"],
                       "b": ["preferences/shot2.png"]}
    for line in (tmp_path / "out" / "screens_a" / "truth.jsonl").read_text().splitlines():
        truth = json.loads(line)
        upright = Image.open(images / truth["source_id"]).convert("RGB")
        expected = make_rotated(upright, truth["angle"], truth["mirrored"], fill=(230, 230, 230))
        posed = Image.open(tmp_path / "out" / "screens_a" / truth["path"])
        assert posed.size == expected.size
        assert np.abs(np.asarray(posed, dtype=int) - np.asarray(expected, dtype=int)).max() <= 1


def test_desktop_sets_lay_each_halfs_screenshots_on_a_full_screen(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``devset desktops``: full-screen captures made of one half's screenshots only, posed with the SPEC's answers."""
    from rotbgr_core.geometry import make_rotated
    from rotbgr_core.training import devset

    images = tmp_path / "raw" / "gimp-help-en" / "usr" / "share" / "gimp" / "2.0" / "help" / "en" / "images"
    (images / "dialogs").mkdir(parents=True)
    for number in range(4):
        shot = Image.new("RGBA", (300, 200), (230, 230, 230, 255))
        ImageDraw.Draw(shot).rectangle((10, 10, 120, 40 + 20 * number), fill=(20, 20, 20, 255))
        shot.save(images / "dialogs" / f"shot{number}.png")
    # A button sorted between two windows: the halves are split as `devset screens` splits them, buttons and all.
    Image.new("RGBA", (32, 32)).save(images / "dialogs" / "shot0b.png")
    monkeypatch.setattr(devset, "DESKTOP_SCREENS", ((800, 500, 1), (1280, 800, 2)))
    monkeypatch.setattr(devset, "DESKTOPS_PER_HALF", 6)
    assert devset.write_desktops(tmp_path, tmp_path / "out") == {"desktops_a": 6, "desktops_b": 6}
    # Sorted: shot0, shot0b (too small), shot1, shot2, shot3; every other one from the first, and from the second.
    for half, files in (("a", {"shot0.png", "shot1.png", "shot3.png"}), ("b", {"shot2.png"})):
        for line in (tmp_path / "out" / f"desktops_{half}" / "truth.jsonl").read_text().splitlines():
            truth = json.loads(line)
            assert set(truth["source_id"].split(",")) <= files
            assert tuple(truth["size"]) in ((800, 500), (1280, 800))
            posed = Image.open(tmp_path / "out" / f"desktops_{half}" / truth["path"])
            blank = Image.new("RGB", tuple(truth["size"]))
            assert posed.size == make_rotated(blank, truth["angle"], truth["mirrored"]).size


def _sharpness(crops: np.ndarray) -> float:
    """Mean absolute step between neighbouring pixels: a smear lowers it."""
    work = crops.astype(np.float32)
    return float(np.abs(np.diff(work, axis=-1)).mean() + np.abs(np.diff(work, axis=-2)).mean())


def test_smeared_or_shrunk_training_pages_give_blurred_windows_and_glyphs_with_the_same_labels() -> None:
    """``docorient_pool --motion`` and ``train_glyphs --motion-share`` smear the page before cutting it.

    ``docorient_pool --shrink`` shrinks it to a thumbnail first.
    """
    from rotbgr_core.training import docorient_pool, train_glyphs

    page = str(Path(__file__).resolve().parents[1] / "resources" / "upright" / "text_page.png")
    sharp = docorient_pool._page_job((page, 5, 2, 12, 0, None))
    smeared = docorient_pool._page_job((page, 5, 2, 12, 15, None))
    assert len(sharp) >= 12 and len(smeared) >= 12
    assert _sharpness(np.stack(smeared)) < 0.9 * _sharpness(np.stack(sharp))
    # ``docorient_pool --shrink``: a thumbnail's windows, its few-pixel text scaled up to the window's line pitch.
    small = docorient_pool._page_job((page, 5, 2, 12, 0, (280, 320)))
    assert len(small) >= 8
    assert _sharpness(np.stack(small)) < 0.9 * _sharpness(np.stack(sharp))
    group, crops, labels = train_glyphs._page_job((page, "g", 3, 0.0, 0.0, 15))
    _, smeared_crops, smeared_labels = train_glyphs._page_job((page, "g", 3, 0.0, 1.0, 15))
    assert group == "g" and len(crops) >= 20 and len(smeared_crops) >= 20
    assert len(set(labels.tolist())) == 1 and len(set(smeared_labels.tolist())) == 1  # one pose for the whole page
    assert _sharpness(smeared_crops) < 0.8 * _sharpness(crops)


def test_glyph_training_builds_only_its_pool_at_zero_steps_and_keeps_a_teacher(tmp_path: Path) -> None:
    """``train_glyphs --steps 0`` stops after the pool cache; a short run with a teacher saves loadable weights."""
    import torch

    from rotbgr_core.glyphs import GlyphNet
    from rotbgr_core.training import train_glyphs

    page = str(Path(__file__).resolve().parents[1] / "resources" / "upright" / "text_page.png")
    jobs = [train_glyphs._page_job((page, "g", seed, 0.0, 0.0, 15)) for seed in range(4)]
    crops = np.concatenate([job[1] for job in jobs])
    labels = np.concatenate([job[2] for job in jobs])
    cache = tmp_path / "pool.npz"
    np.savez(cache, crops=crops, labels=labels, val_count=2,
             vc_00000=jobs[0][1], vl_00000=jobs[0][2], vc_00001=jobs[1][1], vl_00001=jobs[1][2])
    out = tmp_path / "glyphs.pt"
    assert train_glyphs.main(["--steps", "0", "--pool-cache", str(cache), "--out", str(out)]) == 0
    assert not out.exists()
    teacher = tmp_path / "teacher.pt"
    torch.save({"state_dict": {k: v.half() for k, v in GlyphNet(16).state_dict().items()}}, teacher)
    assert train_glyphs.main(["--steps", "2", "--batch", "16", "--threads", "1", "--pool-cache", str(cache),
                              "--teacher", str(teacher), "--teacher-pool", str(cache), "--out", str(out)]) == 0
    saved = torch.load(out, map_location="cpu", weights_only=True)
    assert set(saved["state_dict"]) == set(GlyphNet(16).state_dict())
