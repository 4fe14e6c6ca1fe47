"""Export (``rotbgr fix``): lossless JPEG, metadata, formats, naming, report."""

from __future__ import annotations

import functools
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageCms

from rotbgr_core.export import FixOptions, export_item, fix_inputs, iter_fix
from rotbgr_core.geometry import correct_image, make_rotated, without_subpixel_residual
from rotbgr_core.imageio import InputItem
from rotbgr_core.jpeg_lossless import Turn, estimate_quality, transform_jpeg
from rotbgr_core.metadata import exif_orientation, patch_exif
from rotbgr_core.types import Estimate
from tests.core.helpers import (
    REPO_ROOT,
    FixedPredictor,
    SequencePredictor,
    jpeg_bytes,
    leftover_temporaries,
    photo,
    sha256_tree,
    text_page,
)
from tests.core.jpegcoef import read_coefficients, turn_coefficients

TURNS = [(k, m) for k in range(4) for m in (False, True)]


def _angle(quarter_turns: int) -> float:
    return [0.0, 90.0, -180.0, -90.0][quarter_turns % 4]


def _options(out: Path, **changes: object) -> FixOptions:
    return FixOptions(output_dir=str(out), **changes)  # type: ignore[arg-type]


def _decode(path: Path | str) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


# --------------------------------------------------------------------------- lossless JPEG


@pytest.mark.parametrize("subsampling", [0, 1, 2, "L"])
def test_lossless_jpeg_turns_keep_every_dct_coefficient(tmp_path: Path, subsampling: int | str) -> None:
    image = photo(64, 48).convert("L") if subsampling == "L" else photo(64, 48)
    options = {} if subsampling == "L" else {"subsampling": subsampling}
    source = tmp_path / "in.jpg"
    source.write_bytes(jpeg_bytes(image, quality=87, **options))
    before = read_coefficients(source.read_bytes())
    for k, mirrored in TURNS:
        out = tmp_path / f"out{k}{mirrored:d}"
        record = export_item(InputItem(str(source)), _angle(k), mirrored, _options(out))
        assert record.action == ("unchanged" if (k, mirrored) == (0, False) else "lossless"), record
        after = read_coefficients(Path(record.output or "").read_bytes())
        for plane_before, plane_after in zip(before, after, strict=True):
            assert np.array_equal(turn_coefficients(plane_before, k, mirrored), plane_after), (k, mirrored)


def test_lossless_jpeg_turn_goes_the_spec_direction(tmp_path: Path) -> None:
    """Pixels of a lossless turn match Pillow's turn of the decoded input (IDCT rounding aside)."""
    source = tmp_path / "in.jpg"
    source.write_bytes(jpeg_bytes(photo(96, 64), quality=92))
    decoded = Image.open(source).convert("RGB")
    for k, mirrored in TURNS[1:]:
        record = export_item(InputItem(str(source)), _angle(k), mirrored, _options(tmp_path / f"o{k}{mirrored:d}"))
        got = _decode(record.output or "")
        expected = np.asarray(correct_image(decoded, _angle(k), mirrored), dtype=np.int16)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 4, (k, mirrored)
        wrong = np.asarray(correct_image(decoded, _angle(k) + 180.0, not mirrored), dtype=np.int16)
        assert np.abs(got - wrong).mean() > 20  # the opposite turn is far away


def test_lossless_jpeg_is_pixel_exact(tmp_path: Path) -> None:
    """No generation loss: flips decode to exactly flipped pixels, turns undo exactly."""
    grey = jpeg_bytes(photo(64, 48).convert("L"), quality=75)
    original = np.asarray(Image.open(io.BytesIO(grey)))
    flipped = np.asarray(Image.open(io.BytesIO(transform_jpeg(grey, Turn(0, True)))))
    assert np.array_equal(flipped, original[:, ::-1])
    upside_down = np.asarray(Image.open(io.BytesIO(transform_jpeg(grey, Turn(2, False)))))
    assert np.array_equal(upside_down, original[::-1, ::-1])
    colour = jpeg_bytes(photo(64, 48), quality=75)
    for k, mirrored in TURNS:
        there = transform_jpeg(colour, Turn(k, mirrored))
        back = transform_jpeg(there, Turn(-k % 4, False) if not mirrored else Turn(k, mirrored))
        assert np.array_equal(_decode(io.BytesIO(back)), _decode(io.BytesIO(colour))), (k, mirrored)  # type: ignore[arg-type]


def test_jpeg_not_a_whole_number_of_blocks_falls_back_to_pixels(tmp_path: Path) -> None:
    source = tmp_path / "odd.jpg"
    source.write_bytes(jpeg_bytes(photo(70, 50), quality=83))
    record = export_item(InputItem(str(source)), 90.0, False, _options(tmp_path / "out"))
    assert record.action == "rotated"
    assert record.quality == 83
    assert record.note and "not a multiple of the 16x16 JPEG block size" in record.note
    with Image.open(record.output or "") as out:
        assert out.size == (50, 70)
        assert estimate_quality(out.quantization) == 83  # type: ignore[attr-defined]
    # A transpose never needs whole blocks: still lossless.
    record = export_item(InputItem(str(source)), -90.0, True, _options(tmp_path / "out2"))
    assert record.action == "lossless"


@pytest.mark.parametrize("quality", [10, 35, 50, 75, 90, 95, 100])
def test_quality_estimator_reads_ijg_tables(quality: int) -> None:
    for image in (photo(32, 32), photo(32, 32).convert("L")):
        with Image.open(io.BytesIO(jpeg_bytes(image, quality=quality))) as decoded:
            assert estimate_quality(decoded.quantization) == quality  # type: ignore[attr-defined]
    assert estimate_quality(None) is None


def test_pixel_rotation_reencodes_at_input_quality_or_override(tmp_path: Path) -> None:
    source = tmp_path / "p.jpg"
    source.write_bytes(jpeg_bytes(photo(), quality=72))
    record = export_item(InputItem(str(source)), 7.0, False, _options(tmp_path / "a"))
    assert (record.action, record.quality, record.crop) == ("rotated", 72, "expand")
    with Image.open(record.output or "") as out:
        assert estimate_quality(out.quantization) == 72  # type: ignore[attr-defined]
    record = export_item(InputItem(str(source)), 7.0, False, _options(tmp_path / "b", quality=40))
    with Image.open(record.output or "") as out:
        assert estimate_quality(out.quantization) == 40  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- metadata


def _exif_with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "RotBGR Camera Co"
    exif[0x0110] = "Model X"
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"  # DateTimeOriginal
    exif.get_ifd(0x8769)[0xA002] = 96
    exif.get_ifd(0x8769)[0xA003] = 64
    return exif


@functools.lru_cache(maxsize=1)
def _icc() -> bytes:
    """One sRGB profile for the whole run: a new one carries a new creation time, so two would differ."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@pytest.mark.parametrize(("angle", "action"), [(90.0, "lossless"), (-3.5, "rotated"), (0.0, "unchanged")])
def test_jpeg_keeps_exif_icc_dpi_and_resets_orientation(tmp_path: Path, angle: float, action: str) -> None:
    source = tmp_path / "meta.jpg"
    icc = _icc()
    photo(96, 64).save(source, quality=90, exif=_exif_with_orientation(6), icc_profile=icc, dpi=(240, 240))
    record = export_item(InputItem(str(source)), angle, False, _options(tmp_path / "out"))
    assert record.action == action
    with Image.open(record.output or "") as out:
        exif = out.getexif()
        assert exif[0x0112] == 1
        assert (exif[0x010F], exif[0x0110]) == ("RotBGR Camera Co", "Model X")
        sub = exif.get_ifd(0x8769)
        assert sub[0x9003] == "2024:05:06 07:08:09"
        assert (sub[0xA002], sub[0xA003]) == out.size
        assert out.info["icc_profile"] == icc
        assert out.info["dpi"] == pytest.approx((240, 240))


def test_patch_exif_changes_nothing_else() -> None:
    raw = _exif_with_orientation(8).tobytes()
    patched = patch_exif(raw, (64, 96))
    assert exif_orientation(raw) == 8 and exif_orientation(patched) == 1
    differing = [i for i, (a, b) in enumerate(zip(raw, patched, strict=True)) if a != b]
    assert len(raw) == len(patched) and 0 < len(differing) <= 3  # the orientation and the two sizes


def test_exif_flag_applies_orientation_losslessly(tmp_path: Path) -> None:
    source = tmp_path / "sideways.jpg"
    photo(96, 64).save(source, quality=90, exif=_exif_with_orientation(6))
    options = _options(tmp_path / "out", apply_exif=True)
    [record] = list(iter_fix([str(source)], FixedPredictor(0.0), options))
    assert record.action == "lossless"
    with Image.open(source) as original, Image.open(record.output or "") as out:
        assert out.getexif()[0x0112] == 1
        shown = np.asarray(Image.open(source).transpose(Image.Transpose.ROTATE_270).convert("RGB"), dtype=np.int16)
        assert out.size == (64, 96) and original.size == (96, 64)
        assert np.abs(_decode(record.output or "") - shown).max() <= 4


def test_png_keeps_icc_dpi_text_and_16_bits(tmp_path: Path) -> None:
    from PIL import PngImagePlugin

    source = tmp_path / "deep.png"
    ramp = (np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) * 20).astype(np.uint16)
    info = PngImagePlugin.PngInfo()
    info.add_text("Title", "scan 7")
    Image.fromarray(ramp).save(source, dpi=(300, 300), icc_profile=_icc(), pnginfo=info)
    record = export_item(InputItem(str(source)), 90.0, False, _options(tmp_path / "out"))
    assert record.action == "lossless"
    with Image.open(record.output or "") as out:
        assert out.format == "PNG" and out.mode == "I;16"
        assert np.array_equal(np.asarray(out), np.rot90(ramp))
        assert out.info["dpi"] == pytest.approx((300, 300), rel=1e-4)
        assert out.info["icc_profile"] == _icc()
        assert out.info["Title"] == "scan 7"
    record = export_item(InputItem(str(source)), 2.0, False, _options(tmp_path / "out2"))
    with Image.open(record.output or "") as out:
        assert out.mode == "I;16" and int(np.asarray(out).max()) > 255


def test_bitonal_tiff_stays_group4(tmp_path: Path) -> None:
    source = tmp_path / "scan.tif"
    page = text_page(400, 520).point(lambda v: 255 if v > 128 else 0).convert("1")
    make_rotated(page.convert("L"), 2.0, False, fill=250).point(lambda v: 255 if v > 128 else 0).convert("1").save(
        source, compression="group4", dpi=(300, 300))
    for angle, action in ((2.0, "rotated"), (180.0, "lossless")):
        record = export_item(InputItem(str(source)), angle, False, _options(tmp_path / "out"), kind="document")
        assert record.action == action
        with Image.open(record.output or "") as out:
            assert out.mode == "1"
            assert out.info["compression"] == "group4"
            assert out.info["dpi"] == pytest.approx((300, 300), rel=1e-4)


def test_multipage_tiff_gives_one_tiff(tmp_path: Path) -> None:
    source = tmp_path / "pages.tif"
    pages = [text_page(160, 200, seed=i) for i in range(3)]
    pages[0].save(source, save_all=True, append_images=pages[1:], compression="tiff_lzw")
    predictor = SequencePredictor([Estimate(0.0, False, 0.9, "document"), Estimate(90.0, False, 0.9, "document"),
                                   Estimate(-1.5, False, 0.9, "document")])
    records = list(iter_fix([str(source)], predictor, _options(tmp_path / "out")))
    assert [r.path for r in records] == [f"{source}#page={n}" for n in (1, 2, 3)]
    assert [r.action for r in records] == ["unchanged", "lossless", "rotated"]
    assert len({r.output for r in records}) == 1
    with Image.open(records[0].output or "") as out:
        assert out.n_frames == 3
        out.seek(1)
        assert np.array_equal(np.asarray(out), np.rot90(np.asarray(pages[1])))


def _make_pdf(path: Path, pages: list[Image.Image]) -> None:
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=100.0)


def _render(path: Path | str, index: int) -> Image.Image:
    document = pdfium.PdfDocument(str(path))
    try:
        return document[index].render(scale=100 / 72).to_pil().convert("RGB")
    finally:
        document.close()


def test_pdf_keeps_page_count_and_corrects_each_page(tmp_path: Path) -> None:
    source = tmp_path / "scan.pdf"
    upright = [photo(200, 150, seed=i) for i in range(4)]
    _make_pdf(source, upright)
    answers = [(90.0, False), (0.0, True), (12.0, False), (0.0, False)]
    predictor = SequencePredictor([Estimate(a, m, 0.9, "document") for a, m in answers])
    records = list(iter_fix([str(source)], predictor, _options(tmp_path / "out")))
    assert [r.action for r in records] == ["lossless", "lossless", "rotated", "unchanged"]
    assert records[2].crop == "expand"
    output = records[0].output or ""
    assert all(r.output == output for r in records)
    document = pdfium.PdfDocument(output)
    assert len(document) == 4
    document.close()
    for index, (angle, mirrored) in enumerate(answers):
        expected = correct_image(_render(source, index), angle, mirrored, "expand")
        got = _render(output, index)
        assert abs(got.width - expected.width) <= 2 and abs(got.height - expected.height) <= 2
        diff = np.abs(np.asarray(got.resize(expected.size), dtype=np.int16) - np.asarray(expected, dtype=np.int16))
        assert diff.mean() < 12, (index, diff.mean())


def test_pdf_that_cannot_be_opened_is_one_failure(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    out = tmp_path / "out"
    logs: list[str] = []
    status = fix_inputs([str(broken)], FixedPredictor(), _options(out), log=logs.append)
    assert status == 1
    [line] = (out / "report.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["path"] == str(broken) and record["action"] == "failed" and record["output"] is None
    assert any(str(broken) in entry for entry in logs)


# --------------------------------------------------------------------------- naming, report


def test_outputs_keep_sub_folders_and_never_overwrite(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    (inputs / "a" / "b").mkdir(parents=True)
    photo().save(inputs / "top.png")
    photo().save(inputs / "a" / "b" / "deep.png")
    out = tmp_path / "out"
    (out / "a" / "b").mkdir(parents=True)
    (out / "a" / "b" / "deep_rotated.png").write_bytes(b"someone else's file")
    logs: list[str] = []
    assert fix_inputs([str(inputs)], FixedPredictor(90.0), _options(out), log=logs.append) == 0
    records = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    assert [Path(r["output"]).relative_to(out).as_posix() for r in records] == [
        "top_rotated.png", "a/b/deep_rotated-1.png"]
    assert "deep_rotated.png already exists" in records[1]["note"]
    assert (out / "a" / "b" / "deep_rotated.png").read_bytes() == b"someone else's file"
    assert any("already exists" in entry for entry in logs)
    # A second run writes new names and touches no output; the newest report is report.jsonl
    # and the first run's report is kept, unchanged, beside it.
    before = sha256_tree(out)
    first_report = (out / "report.jsonl").read_bytes()
    assert fix_inputs([str(inputs)], FixedPredictor(90.0), _options(out), log=logs.append) == 0
    after = sha256_tree(out)
    assert all(after[path] == digest for path, digest in before.items() if not path.endswith(b"report.jsonl"))
    assert (out / "report-previous.jsonl").read_bytes() == first_report
    assert (out / "top_rotated-1.png").exists()
    second = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    assert Path(second[0]["output"]).name == "top_rotated-1.png"
    assert leftover_temporaries(out) == []


def test_output_equal_to_input_is_refused(tmp_path: Path) -> None:
    photo().save(tmp_path / "same.png")
    before = sha256_tree(tmp_path)
    record = export_item(InputItem(str(tmp_path / "same.png")), 90.0, False, _options(tmp_path, suffix=""))
    assert record.action == "failed" and record.error and "would be the input file itself" in record.error
    assert sha256_tree(tmp_path) == before


def test_output_folder_inside_input_folder_is_not_reprocessed(tmp_path: Path) -> None:
    photo().save(tmp_path / "one.png")
    out = tmp_path / "fixed"
    assert fix_inputs([str(tmp_path)], FixedPredictor(90.0), _options(out)) == 0
    assert fix_inputs([str(tmp_path)], FixedPredictor(90.0), _options(out)) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["one_rotated-1.png", "one_rotated.png", "report-previous.jsonl", "report.jsonl"]


@pytest.mark.parametrize("below", ["copy", "skip"])
def test_min_confidence_leaves_low_ones_for_review(tmp_path: Path, below: str) -> None:
    low, high = tmp_path / "low.jpg", tmp_path / "high.jpg"
    photo(seed=1).save(low, quality=80)
    photo(seed=2).save(high, quality=80)
    predictor = SequencePredictor([Estimate(90.0, False, 0.9, "photo"), Estimate(90.0, False, 0.2, "photo")])
    out = tmp_path / "out"
    options = _options(out, min_confidence=0.5, below_confidence=below)
    assert fix_inputs([str(high), str(low)], predictor, options) == 0
    first, second = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    assert (first["action"], first["review"]) == ("lossless", False)
    assert second["review"] is True
    if below == "copy":
        assert second["action"] == "unchanged"
        assert Path(second["output"]).read_bytes() == low.read_bytes()
    else:
        assert second["action"] == "skipped" and second["output"] is None
        assert not (out / "low_rotated.jpg").exists()


def test_default_crop_depends_on_kind(tmp_path: Path) -> None:
    source = tmp_path / "tilted.png"
    photo(300, 200).save(source)
    photo_record = export_item(InputItem(str(source)), 10.0, False, _options(tmp_path / "p"), kind="photo")
    doc_record = export_item(InputItem(str(source)), 10.0, False, _options(tmp_path / "d"), kind="document")
    assert (photo_record.crop, doc_record.crop) == ("inscribed", "expand")
    with Image.open(photo_record.output or "") as a, Image.open(doc_record.output or "") as b:
        assert a.width < 300 < b.width


def test_format_option_converts(tmp_path: Path) -> None:
    source = tmp_path / "alpha.png"
    rgba = photo(80, 60).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(source)
    record = export_item(InputItem(str(source)), 90.0, False, _options(tmp_path / "out", out_format="jpeg"))
    assert record.output and record.output.endswith("alpha_rotated.jpg")
    assert record.action == "rotated" and record.quality == 95
    with Image.open(record.output) as out:
        assert out.format == "JPEG" and out.size == (60, 80)


def test_report_lines_follow_the_spec(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    photo().save(inputs / "a.jpg", quality=90)
    (inputs / "b.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    assert fix_inputs([str(inputs)], FixedPredictor(-90.0), _options(out)) == 1
    lines = (out / "report.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [list(r)[:7] for r in records] == [
        ["path", "angle", "mirrored", "confidence", "error", "output", "action"]] * 2
    assert records[0]["action"] == "lossless" and records[0]["error"] is None and records[0]["kind"] == "photo"
    assert records[1]["action"] == "failed" and records[1]["output"] is None and records[1]["angle"] is None
    assert leftover_temporaries(out) == []


def test_cli_fix_end_to_end(tmp_path: Path) -> None:
    source = tmp_path / "page.png"
    text_page().save(source)
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "rotbgr_core", "fix", str(source), "--output", str(out), "--weights", "classical"],
        cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    [line] = (out / "report.jsonl").read_text().splitlines()
    assert json.loads(line)["action"] in ("rotated", "unchanged")
    assert "report:" in result.stderr


def test_quarter_turn_swaps_non_square_resolution(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x011A], exif[0x011B], exif[0x0128] = 204.0, 98.0, 2
    source = tmp_path / "fax.jpg"
    source.write_bytes(jpeg_bytes(photo(64, 48), dpi=(204, 98), exif=exif.tobytes()))
    record = export_item(InputItem(str(source)), 90.0, False, _options(tmp_path / "a"))
    assert record.action == "lossless"
    with Image.open(record.output or "") as out:
        assert out.info["dpi"] == (98, 204)
        assert (out.getexif()[0x011A], out.getexif()[0x011B]) == (98.0, 204.0)
    fax = tmp_path / "fax.tif"
    text_page(160, 200).convert("1").save(fax, compression="group4", dpi=(204, 98))
    record = export_item(InputItem(str(fax)), -90.0, False, _options(tmp_path / "b"))
    with Image.open(record.output or "") as out:
        assert out.info["dpi"] == pytest.approx((98, 204)) and out.info["compression"] == "group4"


def test_a_rotation_that_moves_no_pixel_by_half_a_pixel_is_not_resampled(tmp_path: Path) -> None:
    """A page measured at 0.0004 deg off is copied (or turned losslessly), not resampled and re-encoded."""
    source = tmp_path / "in.jpg"
    source.write_bytes(jpeg_bytes(photo(96, 64), quality=92))
    record = export_item(InputItem(str(source)), 0.0004, False, _options(tmp_path / "a"))
    assert record.action == "unchanged" and "not resampled" in (record.note or "")
    assert Path(record.output or "").read_bytes() == source.read_bytes()
    record = export_item(InputItem(str(source)), 90.0004, False, _options(tmp_path / "b"))
    assert record.action == "lossless"
    png = tmp_path / "in.png"
    photo(96, 64).save(png)
    record = export_item(InputItem(str(png)), -0.3, False, _options(tmp_path / "c"))  # corners move 0.3 px
    assert record.action == "unchanged"
    record = export_item(InputItem(str(png)), -1.0, False, _options(tmp_path / "d"))  # 1 px: a real rotation
    assert record.action == "rotated"


def test_subpixel_residuals_are_dropped_by_the_size_of_the_image() -> None:
    assert without_subpixel_residual(0.0004, 1632, 1224) == 0.0
    assert without_subpixel_residual(-179.999, 4000, 3000) == -180.0
    assert without_subpixel_residual(90.01, 4000, 3000) == 90.0  # corners move 0.44 px
    assert without_subpixel_residual(90.02, 4000, 3000) == 90.02  # 0.87 px
    assert without_subpixel_residual(0.02, 800, 600) == 0.0
    assert without_subpixel_residual(12.5, 10, 10) == 12.5


class _CancelAfter:
    def __init__(self, records: list[object], count: int) -> None:
        self.records, self.count = records, count

    def is_cancelled(self) -> bool:
        return len(self.records) >= self.count


def test_cancel_stops_between_items(tmp_path: Path) -> None:
    for index in range(6):
        photo(40, 30, seed=index).save(tmp_path / f"{index}.png")
    records: list[object] = []
    out = tmp_path / "out"
    for record in iter_fix([str(tmp_path)], FixedPredictor(90.0), _options(out, workers=2, batch_size=1),
                           cancel=_CancelAfter(records, 2)):
        records.append(record)
    assert 2 <= len(records) < 6
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == len(records)  # everything written is reported, nothing half-written
    assert leftover_temporaries(out) == []


EXPORT_INPUTS = {
    "cmyk.jpg": (lambda: photo(64, 48).convert("CMYK"), {}, "CMYK"),
    "grey.jpg": (lambda: photo(64, 48).convert("L"), {}, "L"),
    "rgba.png": (lambda: photo(64, 48).convert("RGBA"), {}, "RGBA"),
    "la.png": (lambda: photo(64, 48).convert("LA"), {}, "LA"),
    "palette.png": (lambda: photo(64, 48).convert("P"), {}, None),
    "lossless.webp": (lambda: photo(64, 48), {"lossless": True}, "RGB"),
    "lossy.webp": (lambda: photo(64, 48), {"quality": 70, "exif": _exif_with_orientation(3).tobytes()}, "RGB"),
    "rgb.bmp": (lambda: photo(64, 48), {}, "RGB"),
    "anim.gif": (lambda: photo(64, 48).convert("P"), {}, None),
    "deflate16.tif": (lambda: Image.fromarray((np.arange(64 * 48).reshape(48, 64) * 9).astype(np.uint16)),
                      {"compression": "tiff_adobe_deflate"}, "I;16"),
    "jpeg.tif": (lambda: photo(64, 48), {"compression": "jpeg"}, "RGB"),
}


@pytest.mark.parametrize("name", list(EXPORT_INPUTS))
@pytest.mark.parametrize("angle", [90.0, 6.0])
def test_every_format_and_mode_exports(tmp_path: Path, name: str, angle: float) -> None:
    make, save_options, mode = EXPORT_INPUTS[name]
    source = tmp_path / name
    image = make()
    if name == "anim.gif":
        image.save(source, save_all=True, append_images=[image.rotate(90)])
    else:
        image.save(source, **save_options)
    record = export_item(InputItem(str(source)), angle, False, _options(tmp_path / "out"))
    assert record.action in ("lossless", "rotated"), record
    with Image.open(source) as original, Image.open(record.output or "") as out:
        assert out.format == original.format
        assert Path(record.output or "").suffix == source.suffix
        if mode is not None:
            assert out.mode == mode
        if angle == 90.0:
            assert out.size == (48, 64)
        if name == "lossy.webp":
            assert out.getexif()[0x0112] == 1 and out.getexif()[0x010F] == "RotBGR Camera Co"
        if name == "deflate16.tif":
            assert out.info["compression"] == "tiff_adobe_deflate"
    if name == "lossless.webp" and angle == 90.0:
        assert record.action == "lossless"


def test_output_folder_equal_to_input_folder_still_processes(tmp_path: Path) -> None:
    photo().save(tmp_path / "here.png")
    assert fix_inputs([str(tmp_path)], FixedPredictor(90.0), _options(tmp_path)) == 0
    assert (tmp_path / "here_rotated.png").exists() and (tmp_path / "report.jsonl").exists()


def test_export_item_to_an_exact_path_with_a_crop(tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    photo(200, 150).save(source)
    wished = tmp_path / "chosen" / "name.png"
    record = export_item(InputItem(str(source)), 8.0, False, _options(tmp_path / "unused"), kind="photo",
                         output=wished, crop="none")
    assert (record.output, record.crop) == (str(wished), "none")
    with Image.open(wished) as out:
        assert out.size == (200, 150)
    again = export_item(InputItem(str(source)), 8.0, False, _options(tmp_path / "unused"), output=wished)
    assert again.output == str(tmp_path / "chosen" / "name-1.png") and "already exists" in (again.note or "")
