"""Bad input (issue 2, section 6): a clear error for that file, the rest processed, nothing lost."""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import rotbgr_core.export as export_module
from rotbgr_core.export import FixOptions, fix_inputs, iter_fix
from rotbgr_core.pipeline import iter_predictions
from tests.core.helpers import (
    REPO_ROOT,
    FixedPredictor,
    jpeg_bytes,
    leftover_temporaries,
    photo,
    sha256_tree,
)

NON_UTF8 = os.fsdecode(b"\xff\xfe-scan.png")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_claiming(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _chunk(b"IEND", b""))


def _png_with_bad_crc() -> bytes:
    data = bytearray(Path(_tmp_png()).read_bytes())
    data[29] ^= 0xFF  # the IHDR chunk's CRC
    return bytes(data)


def _tmp_png() -> str:
    handle, name = tempfile.mkstemp(suffix=".png")
    os.close(handle)
    photo(40, 30).save(name)
    return name


#: file name -> (content, words the error must contain)
BAD_FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "zero.jpg": (lambda: b"", "empty file"),
    "truncated.jpg": (lambda: jpeg_bytes(photo(), quality=90)[:1500], "truncated"),
    "random.jpg": (lambda: np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
                   "not an image"),
    "bad-crc.png": (_png_with_bad_crc, "corrupt PNG"),
    "text.png": (lambda: b"hello, I am a text file\n" * 20, "contains text"),
    "bomb.png": (lambda: _png_claiming(200_000, 200_000), "too large"),
}


def _make_corpus(root: Path) -> tuple[list[Path], list[Path]]:
    """Bad files plus good images, non-image files and a folder named x.jpg."""
    root.mkdir(parents=True, exist_ok=True)
    bad = []
    for name, (content, _reason) in BAD_FILES.items():
        (root / name).write_bytes(content())
        bad.append(root / name)
    good = [root / "good.jpg", root / "good.png", root / "x.jpg" / "inside.png", root / NON_UTF8]
    (root / "x.jpg").mkdir()
    photo(seed=1).save(good[0], quality=88)
    photo(seed=2).save(good[1])
    photo(seed=3).save(good[2])
    photo(seed=4).save(good[3])
    (root / "notes.txt").write_text("not an image")
    (root / "data.csv").write_text("a,b\n1,2\n")
    return bad, good


def _printable(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def test_bad_input_corpus_fix_in_process(tmp_path: Path) -> None:
    bad, good = _make_corpus(tmp_path / "in")
    before = sha256_tree(tmp_path / "in")
    out = tmp_path / "out"
    logs: list[str] = []
    status = fix_inputs([str(tmp_path / "in")], FixedPredictor(90.0), FixOptions(output_dir=str(out)),
                        log=logs.append)
    assert status == 1
    records = {json.loads(line)["path"]: json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()}
    assert set(records) == {str(p) for p in bad + good}  # non-image files and the folder x.jpg are not items
    for path in bad:
        name = path.name
        record = records[str(path)]
        assert record["action"] == "failed" and record["output"] is None, record
        assert BAD_FILES[name][1] in record["error"], record
        assert "\n" not in record["error"] and "Traceback" not in record["error"]
        lines = [entry for entry in logs if str(path) in entry]
        assert len(lines) == 1 and BAD_FILES[name][1] in lines[0]
    for path in good:
        record = records[str(path)]
        assert record["action"] == "lossless" and record["error"] is None, record
        assert Path(os.fsencode(record["output"]).decode("utf-8", "surrogateescape")).exists()
    assert (out / NON_UTF8.replace(".png", "_rotated.png")).exists()
    assert (out / "x.jpg" / "inside_rotated.png").exists()
    assert sha256_tree(tmp_path / "in") == before
    assert leftover_temporaries(out) == []
    assert not any("Traceback" in entry for entry in logs)


def test_bad_input_corpus_cli(tmp_path: Path) -> None:
    bad, good = _make_corpus(tmp_path / "in")
    before = sha256_tree(tmp_path / "in")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "rotbgr_core", "fix", str(tmp_path / "in"), "--output", str(out),
         "--weights", "classical"],
        cwd=REPO_ROOT, capture_output=True, check=False, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 1, stderr
    assert result.stdout == b""
    assert "Traceback" not in stderr
    for path in bad:
        lines = [line for line in stderr.splitlines() if str(path) in line]
        assert len(lines) == 1, (path, stderr)
        assert BAD_FILES[path.name][1] in lines[0]
    report = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    assert sorted(r["path"] for r in report if r["action"] != "failed") == sorted(str(p) for p in good)
    assert sha256_tree(tmp_path / "in") == before
    assert leftover_temporaries(out) == []


def test_predict_cli_on_bad_corpus(tmp_path: Path) -> None:
    bad, good = _make_corpus(tmp_path / "in")
    result = subprocess.run(
        [sys.executable, "-m", "rotbgr_core", "predict", "--weights", "classical", str(tmp_path / "in")],
        cwd=REPO_ROOT, capture_output=True, check=False, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert len(lines) == len(bad) + len(good)
    errors = {line["path"]: line["error"] for line in lines}
    for path in bad:
        assert BAD_FILES[path.name][1] in errors[str(path)]
    for path in good:
        assert errors[str(path)] is None
    assert os.fsencode(errors and next(p for p in errors if p.endswith("-scan.png"))) == os.fsencode(
        tmp_path / "in" / NON_UTF8)


def test_ten_thousand_entries_in_one_folder(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(9_996):
        (folder / f"entry{index:05d}.txt").touch()
    for index in range(3):
        photo(64, 48, seed=index).save(folder / f"img{index}.png")
    (folder / "empty.jpg").touch()
    started = time.monotonic()
    results = list(iter_predictions([str(folder)], FixedPredictor()))
    assert len(results) == 4 and sum(not r.ok for r in results) == 1
    out = tmp_path / "out"
    assert fix_inputs([str(folder)], FixedPredictor(90.0), FixOptions(output_dir=str(out))) == 1
    assert len((out / "report.jsonl").read_text().splitlines()) == 4
    assert time.monotonic() - started < 30


def _deny_writes_under(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make ``folder`` read-only; as root (where chmod does not stop writes) also simulate it."""
    folder.chmod(0o555)
    probe = folder / ".probe"
    try:
        probe.touch()
    except PermissionError:
        return
    probe.unlink()
    real_mkstemp = tempfile.mkstemp

    def refusing(*args: Any, **kwargs: Any) -> tuple[int, str]:
        target = Path(str(kwargs.get("dir") or ""))
        if target == folder or folder in target.parents:
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refusing)


def test_read_only_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo().save(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    _deny_writes_under(monkeypatch, out)
    logs: list[str] = []
    try:
        status = fix_inputs([str(tmp_path / "a.png")], FixedPredictor(90.0), FixOptions(output_dir=str(out)),
                            log=logs.append)
    finally:
        out.chmod(0o755)
    assert status == 1
    assert len(logs) == 1 and str(out) in logs[0] and "Permission denied" in logs[0]
    assert list(out.iterdir()) == []


def test_read_only_sub_folder_fails_only_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = tmp_path / "in"
    (inputs / "locked").mkdir(parents=True)
    photo(seed=1).save(inputs / "free.png")
    photo(seed=2).save(inputs / "locked" / "held.png")
    before = sha256_tree(inputs)
    out = tmp_path / "out"
    (out / "locked").mkdir(parents=True)
    _deny_writes_under(monkeypatch, out / "locked")
    logs: list[str] = []
    try:
        status = fix_inputs([str(inputs)], FixedPredictor(90.0), FixOptions(output_dir=str(out)), log=logs.append)
    finally:
        (out / "locked").chmod(0o755)
    assert status == 1
    records = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    assert [r["action"] for r in records] == ["lossless", "failed"]
    assert "Permission denied" in records[1]["error"]
    [line] = [entry for entry in logs if "held.png" in entry]
    assert "Permission denied" in line
    assert sha256_tree(inputs) == before
    assert list((out / "locked").iterdir()) == []


def test_disk_full_during_a_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    photo(120, 80, seed=1).save(inputs / "a_first.png")
    photo(123, 77, seed=2).save(inputs / "b_victim.png")  # pixel path (PNG)
    (inputs / "c_victim.jpg").write_bytes(jpeg_bytes(photo(64, 48, seed=3), quality=90))  # lossless path
    photo(120, 80, seed=4).save(inputs / "d_last.png")
    before = sha256_tree(inputs)
    real_save = Image.Image.save

    def full_disk_save(self: Image.Image, fp: Any, *args: Any, **kwargs: Any) -> None:
        if self.size == (77, 123):
            fp.write(b"\x89PNG partial data")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_save(self, fp, *args, **kwargs)

    def full_disk_bytes(handle: Any, data: bytes) -> None:
        handle.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Image.Image, "save", full_disk_save)
    monkeypatch.setattr(export_module, "_write_bytes", full_disk_bytes)
    out = tmp_path / "out"
    logs: list[str] = []
    status = fix_inputs([str(inputs)], FixedPredictor(90.0), FixOptions(output_dir=str(out)), log=logs.append)
    assert status == 1
    records = [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]
    assert [r["action"] for r in records] == ["lossless", "failed", "failed", "lossless"]
    for record in records[1:3]:
        assert "No space left on device" in record["error"] and record["output"] is None
    assert sorted(p.name for p in out.iterdir()) == ["a_first_rotated.png", "d_last_rotated.png", "report.jsonl"]
    assert len([entry for entry in logs if "No space left on device" in entry]) == 2
    assert sha256_tree(inputs) == before


def test_non_utf8_names_round_trip(tmp_path: Path) -> None:
    raw_name = b"\xff\xfe-scan.png"
    path = os.fsencode(tmp_path) + b"/" + raw_name  # raw bytes: the point of this test
    photo().save(os.fsdecode(path))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "rotbgr_core", "predict", "--weights", "classical", os.fsdecode(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, check=False, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.decode("ascii").splitlines()  # json.dumps escapes the surrogates
    assert "\\udcff\\udcfe" in line
    assert os.fsencode(json.loads(line)["path"]) == path
    [record] = list(iter_fix([os.fsdecode(tmp_path)], FixedPredictor(90.0), FixOptions(output_dir=str(out))))
    assert os.fsencode(record.output or "") == os.fsencode(out) + b"/\xff\xfe-scan_rotated.png"
    assert Path(record.output or "").exists()
    assert _printable(record.path).endswith("-scan.png")
