"""Ctrl-C stops ``rotbgr predict`` and ``rotbgr fix`` cleanly: whole lines, whole files, a true report, status 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.core.helpers import REPO_ROOT, leftover_temporaries, sha256_tree, text_page

COUNT = 60


def _inputs(root: Path) -> Path:
    root.mkdir()
    for index in range(COUNT):
        text_page(600, 800, seed=index).rotate(7 * index, expand=True, fillcolor=250).save(root / f"{index:02d}.png")
    return root


def _start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rotbgr_core", *args, "--weights", "classical", "--batch-size", "1"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        # Ctrl-C as a terminal delivers it, even where the test runner itself runs with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_ctrl_c_stops_predict_after_the_lines_in_hand(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in")
    process = _start("predict", str(inputs))
    assert process.stdout is not None
    first = process.stdout.readline()  # it is predicting
    process.send_signal(signal.SIGINT)
    rest, stderr = process.communicate(timeout=120)
    lines = [first, *rest.splitlines(keepends=True)]
    assert process.returncode == 130, stderr
    assert 1 <= len(lines) < COUNT
    assert all(line.endswith(b"\n") and json.loads(line)["error"] is None for line in lines)  # whole lines only
    assert b"stopping after the images in hand" in stderr and b"Traceback" not in stderr


def test_ctrl_c_stops_fix_with_every_written_file_reported(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in")
    before = sha256_tree(inputs)
    out = tmp_path / "out"
    process = _start("fix", str(inputs), "--output", str(out))
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(p.name.endswith("_rotated.png") for p in out.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, "no output appeared"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert b"Traceback" not in stderr
    records = [json.loads(line) for line in (out / "report.jsonl").read_text(encoding="utf-8").splitlines()]
    written = sorted(p.name for p in out.iterdir() if p.name != "report.jsonl")
    assert 1 <= len(records) < COUNT
    assert sorted(Path(r["output"]).name for r in records) == written  # everything written is reported
    assert leftover_temporaries(out) == []
    assert sha256_tree(inputs) == before


def test_a_second_ctrl_c_stops_at_once_without_a_traceback(tmp_path: Path) -> None:
    inputs = _inputs(tmp_path / "in")
    process = _start("predict", str(inputs))
    assert process.stdout is not None
    process.stdout.readline()
    process.send_signal(signal.SIGINT)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert b"rotbgr: interrupted" in stderr and b"Traceback" not in stderr
