"""``rotbgr train --from-folder``: fine-tunes on upright pictures, keeps new weights only if they score better."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from rotbgr_core.cli import main
from rotbgr_core.geometry import make_rotated
from rotbgr_core.learned import LearnedPredictor
from rotbgr_core.predictor import DEFAULT_WEIGHTS
from rotbgr_core.training.train import HELD_OUT_VIEWS


def _scene(index: int) -> Image.Image:
    """An upright outdoor-like picture: sky above, ground below, a tree standing on it."""
    rng = np.random.default_rng(index)
    image = Image.new("RGB", (320, 240), tuple(int(v) for v in rng.integers(120, 230, 3)))
    draw = ImageDraw.Draw(image)
    horizon = int(rng.integers(120, 180))
    draw.rectangle((0, horizon, 320, 240), fill=tuple(int(v) for v in rng.integers(20, 110, 3)))
    x = int(rng.integers(40, 280))
    draw.rectangle((x - 6, horizon - 70, x + 6, horizon), fill=(90, 60, 30))
    draw.ellipse((x - 40, horizon - 130, x + 40, horizon - 50), fill=(30, 120, 40))
    return image


def test_from_folder_scores_on_held_out_pictures_and_keeps_only_better_weights(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "library"
    folder.mkdir()
    for index in range(14):
        _scene(index).save(folder / f"scene{index:02d}.jpg", quality=90)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    (folder / "notes.txt").write_text("not a picture", encoding="utf-8")
    review = tmp_path / "review"  # the app's Export Decisions of another folder: two reviewed, one rejected
    review.mkdir()
    for index, (angle, mirrored) in enumerate([(90.0, False), (-30.0, True), (180.0, False)]):
        make_rotated(_scene(100 + index), angle, mirrored).save(review / f"shot{index}.png")
    records = [
        {"path": "shot0.png", "state": "accepted", "final_angle": 90.0, "final_mirrored": False},
        {"path": str(review / "shot1.png"), "state": "adjusted", "final_angle": -30.0, "final_mirrored": True},
        {"path": "shot2.png", "state": "rejected", "final_angle": 180.0, "final_mirrored": False},
        {"path": "gone.png", "state": "accepted", "final_angle": 0.0, "final_mirrored": False},
    ]
    decisions = review / "decisions.jsonl"
    decisions.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    shipped = DEFAULT_WEIGHTS.read_bytes()
    work = tmp_path / "work"

    code = main(["train", "--from-folder", str(folder), "--steps", "2", "--seed", "0", "--work", str(work),
                 "--corrections", str(decisions), "--corrections", str(tmp_path / "missing.jsonl")])

    assert code == 0
    captured = capsys.readouterr()
    assert "broken.jpg" in captured.err  # named, and the rest went on
    assert "gone.png" in captured.err and "missing.jsonl" in captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    held_out = sum(
        int(hashlib.sha1(f"scene{index:02d}.jpg".encode()).hexdigest(), 16) % 5 == 0 for index in range(14)
    )
    assert result["held_out"] == HELD_OUT_VIEWS * held_out > 0
    for key in ("base", "tuned", "base_coarse", "tuned_coarse"):
        assert 0.0 <= result[key] <= 1.0
    assert result["corrections"] == 2  # the accepted and the adjusted image; the rejected one teaches nothing
    assert result["kept"] == (result["tuned"] > result["base"])
    assert (result["out"] is not None) == result["kept"]
    if result["out"]:
        assert LearnedPredictor.load(result["out"]).predict_images([]) == []
    assert DEFAULT_WEIGHTS.read_bytes() == shipped  # the shipped model is never overwritten

    # A run cut off (or done) resumes from its own checkpoint; another recipe starts afresh.
    again = ["train", "--from-folder", str(folder), "--steps", "2", "--seed", "0", "--work", str(work), "--resume",
             "--corrections", str(decisions), "--corrections", str(tmp_path / "missing.jsonl")]
    assert main(again) == 0
    assert "resumed" in capsys.readouterr().err
    assert main([*again[:6], "1", *again[7:]]) == 0  # seed 1: its own checkpoint
    assert "resumed" not in capsys.readouterr().err


def test_fine_tuned_weights_keep_the_page_fusion_while_other_files_are_the_model_alone(tmp_path: Path) -> None:
    import torch

    from rotbgr_core.predictor import DocumentAwarePredictor, load_predictor

    data = torch.load(DEFAULT_WEIGHTS, map_location="cpu", weights_only=True)
    plain, tuned = tmp_path / "plain.pt", tmp_path / "tuned.pt"
    torch.save(data, plain)
    torch.save({**data, "config": {**data["config"], "from_folder": "x", "with_documents": True}}, tuned)

    assert isinstance(load_predictor(str(tuned), "cpu"), DocumentAwarePredictor)
    assert isinstance(load_predictor(str(plain), "cpu"), LearnedPredictor)
    assert isinstance(load_predictor(None, "cpu"), DocumentAwarePredictor)
