"""Reading images (issue 2, section 2) end to end, and ``rotbgr predict`` output per SPEC."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rotbgr_core.imageio as imageio
from rotbgr_core.imageio import InputItem, iter_items, load_for_prediction, load_full
from rotbgr_core.learned import darken_strokes
from rotbgr_core.pipeline import iter_predictions
from rotbgr_core.predictor import ClassicalPredictor
from rotbgr_core.types import Failure, Prediction
from tests.core.helpers import REPO_ROOT, photo, text_page

SPEC_KEYS = ["path", "angle", "mirrored", "confidence", "error"]


def _run_predict(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "rotbgr_core", "predict", "--weights", "classical", *args],
        cwd=REPO_ROOT, capture_output=True, check=False, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )


def _mixed_folder(root: Path) -> list[str]:
    """A folder of mixed inputs; returns the expected item paths in order."""
    root.mkdir()
    photo(seed=1).save(root / "a.jpg", quality=90)
    pages = [text_page(200, 260, seed=i).convert("RGB") for i in range(2)]
    pages[0].save(root / "b.pdf", save_all=True, append_images=pages[1:], resolution=72.0)
    (root / "c.pdf").write_bytes(b"%PDF-1.7\ngarbage")
    frames = [text_page(120, 160, seed=i) for i in range(3)]
    frames[0].save(root / "d.tif", save_all=True, append_images=frames[1:])
    photo(seed=2).save(root / "e space 日本.png")
    return [str(root / "a.jpg"), f"{root / 'b.pdf'}#page=1", f"{root / 'b.pdf'}#page=2", str(root / "c.pdf"),
            f"{root / 'd.tif'}#page=1", f"{root / 'd.tif'}#page=2", f"{root / 'd.tif'}#page=3",
            str(root / "e space 日本.png")]


def test_predict_jsonl_is_exactly_the_spec(tmp_path: Path) -> None:
    expected = _mixed_folder(tmp_path / "in")
    result = _run_predict("--format", "jsonl", str(tmp_path / "in"))
    assert result.returncode == 1  # c.pdf cannot be opened
    lines = result.stdout.decode("utf-8").split("\n")
    assert lines[-1] == ""  # every line ends with a newline, nothing else on stdout
    records = [json.loads(line) for line in lines[:-1]]
    assert [r["path"] for r in records] == expected
    for record in records:
        assert list(record) == SPEC_KEYS
        if record["error"] is None:
            assert isinstance(record["angle"], float) and -180.0 <= record["angle"] < 180.0
            assert isinstance(record["mirrored"], bool)
            assert isinstance(record["confidence"], float) and 0.0 <= record["confidence"] <= 1.0
        else:
            assert record["angle"] is None and record["mirrored"] is None and record["confidence"] is None
    failed = [r for r in records if r["error"]]
    assert [r["path"] for r in failed] == [str(tmp_path / "in" / "c.pdf")]
    stderr = result.stderr.decode("utf-8", "replace")
    assert "c.pdf" in stderr and "Traceback" not in stderr


def test_predict_csv_and_table(tmp_path: Path) -> None:
    photo().save(tmp_path / "one.png")
    result = _run_predict("--format", "csv", str(tmp_path / "one.png"))
    rows = list(csv.reader(io.StringIO(result.stdout.decode("utf-8"))))
    assert rows[0] == SPEC_KEYS and rows[1][0] == str(tmp_path / "one.png") and rows[1][4] == ""
    result = _run_predict("--format", "table", str(tmp_path / "one.png"))
    assert result.returncode == 0 and str(tmp_path / "one.png") in result.stdout.decode("utf-8")


def test_predict_into_a_closed_pipe_stops_quietly(tmp_path: Path) -> None:
    """``rotbgr predict DIR | head``: when the reader has gone, no traceback, status 1, no more work."""
    _mixed_folder(tmp_path / "in")
    process = subprocess.Popen(
        [sys.executable, "-m", "rotbgr_core", "predict", "--weights", "classical", "--batch-size", "1",
         str(tmp_path / "in")],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert process.stdout is not None
    process.stdout.close()  # no reader left: the first line written meets a broken pipe
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1
    assert b"Traceback" not in stderr and b"BrokenPipe" not in stderr, stderr.decode(errors="replace")
    assert b"c.pdf" not in stderr  # it stopped at the first item: the broken PDF later on was never opened


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_predict_to_a_full_disk_says_so_and_stops(tmp_path: Path) -> None:
    _mixed_folder(tmp_path / "in")
    with Path("/dev/full").open("wb") as full:
        result = subprocess.run(
            [sys.executable, "-m", "rotbgr_core", "predict", "--weights", "classical", str(tmp_path / "in")],
            cwd=REPO_ROOT, stdout=full, stderr=subprocess.PIPE, check=False, timeout=300,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
    assert result.returncode == 1
    stderr = result.stderr.decode("utf-8")
    assert "rotbgr: error: cannot write the results: No space left on device" in stderr
    assert "Traceback" not in stderr and "c.pdf" not in stderr  # stopped at the first line


def test_weights_that_are_not_ours_are_refused_in_one_line(tmp_path: Path) -> None:
    photo().save(tmp_path / "one.png")
    for weights in (tmp_path / "one.png", REPO_ROOT / "rotbgr_core" / "weights" / "docorient.pt"):
        result = subprocess.run(
            [sys.executable, "-m", "rotbgr_core", "predict", "--weights", str(weights), str(tmp_path / "one.png")],
            cwd=REPO_ROOT, capture_output=True, check=False, timeout=300,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
        stderr = result.stderr.decode("utf-8")
        assert result.returncode == 2 and result.stdout == b""
        assert f"rotbgr: error: {weights} is not a RotBGR weights file" in stderr and "Traceback" not in stderr


def test_a_missing_weights_file_or_an_unknown_device_is_one_line_and_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The predictor loads while the first images decode; its error still comes alone, as a usage error."""
    from rotbgr_core.cli import main

    photo().save(tmp_path / "one.png")
    missing = tmp_path / "gone.pt"
    assert main(["predict", "--weights", str(missing), str(tmp_path / "one.png")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.strip() == f"rotbgr: error: weights file not found: {missing}"
    assert main(["predict", "--device", "tpu", str(tmp_path / "one.png")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "rotbgr: error: unknown device 'tpu'" in err


def test_predict_output_is_complete_with_the_quick_exit(tmp_path: Path) -> None:
    """The console script leaves without the interpreter's teardown: every line must still be out."""
    expected = _mixed_folder(tmp_path / "in")
    result = subprocess.run(
        [sys.executable, "-m", "rotbgr_core", "predict", "--format", "csv", str(tmp_path / "in")],
        cwd=REPO_ROOT, capture_output=True, check=False, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 1, result.stderr  # c.pdf
    rows = list(csv.reader(io.StringIO(result.stdout.decode("utf-8"))))
    assert [row[0] for row in rows[1:]] == expected
    assert "c.pdf" in result.stderr.decode("utf-8")  # stderr too


@pytest.mark.parametrize("link", ["cycle", "twice"])
def test_linked_folders_are_listed_once_and_cycles_end(tmp_path: Path, link: str) -> None:
    """A link back up the tree, or a second link to a folder, adds nothing (both at once grew exponentially)."""
    root = tmp_path / "in"
    (root / "a").mkdir(parents=True)
    photo().save(root / "a" / "one.png")
    if link == "cycle":
        (root / "a" / "back_up").symlink_to(root, target_is_directory=True)
    else:
        (root / "b").symlink_to(root / "a", target_is_directory=True)
    items = [entry for entry in iter_items([str(root)]) if isinstance(entry, InputItem)]
    assert [item.file for item in items] == [str(root / "a" / "one.png")]


def test_missing_input_and_glob(tmp_path: Path) -> None:
    photo().save(tmp_path / "g1.png")
    photo().save(tmp_path / "g2.png")
    items = list(iter_items([str(tmp_path / "g*.png"), str(tmp_path / "nothing.png")]))
    assert [getattr(i, "file", None) for i in items[:2]] == [str(tmp_path / "g1.png"), str(tmp_path / "g2.png")]
    assert getattr(items[2], "error", "") == "no such file or folder"


def _cmyk(with_icc: bool) -> Image.Image:
    image = photo(96, 64).convert("CMYK")
    if with_icc:
        image.info["icc_profile"] = b"not really a profile"
    return image


def _p_with_transparency() -> Image.Image:
    image = photo(96, 64).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    image.info["transparency"] = 0
    return image


MODES = {
    "cmyk.jpg": lambda: _cmyk(False),
    "cmyk-icc.tif": lambda: _cmyk(True),
    "rgba.png": lambda: photo(96, 64).convert("RGBA"),
    "la.png": lambda: photo(96, 64).convert("LA"),
    "p-transparent.png": _p_with_transparency,
    "i16.png": lambda: Image.fromarray((np.arange(96 * 64).reshape(64, 96) * 10).astype(np.uint16)),
    "i16.tif": lambda: Image.fromarray((np.arange(96 * 64).reshape(64, 96) * 10).astype(np.uint16)),
    "bitonal.tif": lambda: text_page(96, 128).convert("1"),
    "tiny.png": lambda: photo(5, 7),
    "one-pixel.bmp": lambda: photo(1, 1),
    "wide.png": lambda: photo(3000, 12),
    "tall.jpg": lambda: photo(10, 2500),
    "photo.webp": lambda: photo(96, 64),
    "photo.gif": lambda: photo(96, 64).convert("P"),
}


@pytest.mark.parametrize("name", list(MODES))
def test_every_mode_and_size_predicts(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    image = MODES[name]()
    options = {"compression": "group4"} if name == "bitonal.tif" else {}
    if "icc" in name:
        options["icc_profile"] = image.info["icc_profile"]
    if name == "p-transparent.png":
        options["transparency"] = 0
    image.save(path, **options)
    rgb = load_for_prediction(InputItem(str(path)))
    assert rgb.mode == "RGB" and max(rgb.size) <= 1024 and min(rgb.size) >= 1
    [result] = list(iter_predictions([str(path)], ClassicalPredictor()))
    assert isinstance(result, Prediction), result
    assert -180.0 <= result.angle < 180.0


def test_a_large_lossless_image_keeps_a_finer_grey_copy_for_its_labels(tmp_path: Path) -> None:
    """A screenshot's labels are read in a grey copy up to 2048 px (imageio.DETAIL_KEY); a JPEG keeps none."""
    screen = photo(3000, 1800).convert("P")  # a palette PNG, as screenshot tools often write
    screen.save(tmp_path / "screen.png")
    image = load_for_prediction(str(tmp_path / "screen.png"))
    detail = image.info[imageio.DETAIL_KEY]
    assert max(image.size) == 1024 and detail.dtype == np.uint8 and detail.shape == (1229, 2048)
    # The same picture, finer: shrunk to the prediction size it matches the prediction image.
    shrunk = np.asarray(Image.fromarray(detail).resize(image.size, Image.Resampling.BOX), dtype=np.float32)
    assert np.abs(shrunk - np.asarray(image.convert("L"), dtype=np.float32)).mean() < 3.0
    photo(3000, 1800).save(tmp_path / "photo.jpg")
    photo(900, 600).save(tmp_path / "small.png")
    text_page(2400, 1800).convert("1").save(tmp_path / "scan.png")
    for name in ("photo.jpg", "small.png", "scan.png"):  # lossy, already fine enough, or a bitonal scan
        assert imageio.DETAIL_KEY not in load_for_prediction(str(tmp_path / name)).info, name


def test_colours_are_normalised_without_errors(tmp_path: Path) -> None:
    clear = Image.new("RGBA", (40, 30), (255, 0, 0, 0))  # fully transparent red
    clear.save(tmp_path / "clear.png")
    assert load_for_prediction(str(tmp_path / "clear.png")).getpixel((5, 5)) == (255, 255, 255)
    Image.new("CMYK", (40, 30), (0, 0, 0, 0)).save(tmp_path / "white.jpg", quality=95)
    assert min(load_for_prediction(str(tmp_path / "white.jpg")).getpixel((5, 5))) >= 250  # type: ignore[arg-type]
    ramp = (np.linspace(1000, 3000, 40 * 30).reshape(30, 40)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "dim16.png")
    grey = np.asarray(load_for_prediction(str(tmp_path / "dim16.png")).convert("L"))
    assert grey.min() <= 5 and grey.max() >= 250  # stretched, not crushed to black


def test_bitonal_files_are_marked_and_their_thin_strokes_kept_dark(tmp_path: Path) -> None:
    # One-pixel black lines every 4 px on a 1-bit page twice the prediction size: shrunk, they turn light grey
    # (a quarter of the pixels); the predictor darkens them, the decoded image (previews) keeps them as they are.
    lines = np.full((2400, 1800), 255, dtype=np.uint8)
    lines[::4] = 0
    Image.fromarray(lines).convert("1").save(tmp_path / "fax.tif", compression="group4")
    Image.fromarray(lines).save(tmp_path / "grey.png")
    bitonal = load_for_prediction(str(tmp_path / "fax.tif"))
    grey = load_for_prediction(str(tmp_path / "grey.png"))
    assert bitonal.info.get(imageio.BITONAL_KEY) is True
    assert imageio.BITONAL_KEY not in grey.info
    shrunk = np.asarray(bitonal.convert("L"))
    assert shrunk.mean() > 170
    assert darken_strokes(shrunk).mean() < shrunk.mean() - 50
    assert darken_strokes(np.array([0, 255], dtype=np.uint8)).tolist() == [0, 255]


def test_large_jpeg_is_decoded_reduced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.jpg"
    big = Image.new("RGB", (4000, 3000), (200, 180, 160))
    big.paste(photo(400, 300), (100, 100))
    big.save(path, quality=80)
    decoded_sizes: list[tuple[int, int]] = []
    real_load = imageio._load

    def spy(image: Image.Image) -> None:
        real_load(image)
        decoded_sizes.append(image.size)

    monkeypatch.setattr(imageio, "_load", spy)
    result = load_for_prediction(str(path))
    assert decoded_sizes == [(2000, 1500)]  # DCT-domain 1/2 scale, never the full 12 MP
    assert max(result.size) == 1024
    assert load_full(str(path)).size == (4000, 3000)


@pytest.mark.parametrize("with_torch", [True, False])
@pytest.mark.parametrize("size", [(1632, 1224), (1224, 1632), (3001, 7), (5, 2999), (1025, 1025), (2047, 1536)])
def test_reduction_matches_pillows_bilinear_thumbnail(
    size: tuple[int, int], with_torch: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The models were fitted on Pillow's antialiased bilinear thumbnails: the faster reduction (torch's, once a
    # learned predictor is loaded) must give the same size and, up to rounding, the same pixels.
    monkeypatch.setattr(imageio, "_TORCH_REDUCTION", with_torch)
    rng = np.random.default_rng(sum(size))
    noise = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    smooth = np.asarray(photo(size[0], size[1]).convert("RGB"))
    for pixels in (noise, smooth, smooth[:, :, 0]):
        image = Image.fromarray(np.ascontiguousarray(pixels))
        expected = image.copy()
        expected.thumbnail((1024, 1024), Image.Resampling.BILINEAR)
        reduced = imageio.reduce_bilinear(image, 1024)
        assert reduced.size == expected.size and reduced.mode == expected.mode
        difference = np.abs(np.asarray(reduced, dtype=np.int16) - np.asarray(expected, dtype=np.int16))
        assert difference.max() <= 1  # rounding only
        if min(size) > 100:
            assert (difference > 0).mean() < 0.01


def test_reduction_never_touches_a_torch_that_another_thread_is_still_importing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The app decodes thumbnails while its worker imports torch to load the model: a decoder that used the
    # half-imported module broke that import, and the model failed to load. Until a learned predictor switches the
    # torch reduction on, decoding must not look at torch at all.
    class HalfImported:
        def __getattr__(self, name: str) -> object:
            raise AttributeError(f"partially initialized module 'torch' has no attribute {name!r}")

    monkeypatch.setattr(imageio, "_TORCH_REDUCTION", False)
    monkeypatch.setitem(sys.modules, "torch", HalfImported())
    reduced = imageio.reduce_bilinear(photo(1632, 1224), 1024)
    assert reduced.size == (1024, 768) and reduced.mode == "RGB"


def test_loading_the_learned_model_switches_the_torch_reduction_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from rotbgr_core.predictor import load_predictor

    monkeypatch.setattr(imageio, "_TORCH_REDUCTION", False)
    load_predictor(device="cpu")
    assert imageio._TORCH_REDUCTION


def test_pdf_pages_and_broken_pdf_items(tmp_path: Path) -> None:
    pages = [text_page(200, 260, seed=i).convert("RGB") for i in range(3)]
    pages[0].save(tmp_path / "doc.pdf", save_all=True, append_images=pages[1:], resolution=72.0)
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 nope")
    results = list(iter_predictions([str(tmp_path / "doc.pdf"), str(tmp_path / "bad.pdf")], ClassicalPredictor()))
    assert [r.path for r in results] == [f"{tmp_path / 'doc.pdf'}#page={n}" for n in (1, 2, 3)] + [
        str(tmp_path / "bad.pdf")]
    assert all(isinstance(r, Prediction) for r in results[:3])
    assert isinstance(results[3], Failure) and "PDF" in results[3].error


def test_first_frame_of_animated_gif(tmp_path: Path) -> None:
    frames = [Image.new("P", (30, 20), i * 40) for i in range(3)]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:])
    items = list(iter_items([str(tmp_path / "anim.gif")]))
    assert items == [InputItem(str(tmp_path / "anim.gif"))]
    assert load_for_prediction(items[0]).size == (30, 20)  # type: ignore[arg-type]


IMPORT_RACE = r"""
import sys, threading
from PIL import Image
from rotbgr_core.imageio import load_for_prediction

errors = []
def load_model():
    try:
        from rotbgr_core.predictor import load_predictor
        load_predictor(device="cpu")
    except Exception as exc:
        errors.append(f"model: {type(exc).__name__}: {exc}")

loader = threading.Thread(target=load_model)
loader.start()
decoded = 0
while loader.is_alive():
    try:
        load_for_prediction(sys.argv[1])
        decoded += 1
    except Exception as exc:
        errors.append(f"decode: {type(exc).__name__}: {exc}")
        break
loader.join()
print(decoded, errors)
sys.exit(1 if errors else 0)
"""


def test_decoding_while_another_thread_imports_torch_breaks_neither(tmp_path: Path) -> None:
    # What the app does on its first folder: thumbnail workers decode while the inference worker imports torch
    # and loads the model. A decoder that used the half-imported torch once broke that import.
    photo(1632, 1224).save(tmp_path / "big.jpg", quality=90)
    result = subprocess.run([sys.executable, "-c", IMPORT_RACE, str(tmp_path / "big.jpg")], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=False, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
