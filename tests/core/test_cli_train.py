"""``rotbgr train`` and ``rotbgr eval`` hand every option to their own parsers, stages included."""

from __future__ import annotations

import pytest

from rotbgr_core.cli import TRAIN_STAGES, main


def _exit_code(words: list[str]) -> int:
    """The command's exit status, whether it returns it or raises SystemExit (argparse)."""
    try:
        return main(words)
    except SystemExit as stopped:
        return int(stopped.code or 0)


@pytest.mark.parametrize(("words", "usage"), [
    (["train", "--help"], "usage: rotbgr train [-h] [--stage"),
    (["eval", "--help"], "usage: rotbgr eval"),
    *[(["train", stage, "--help"], f"usage: rotbgr train {stage}") for stage in TRAIN_STAGES],
])
def test_help_reaches_the_right_parser(words: list[str], usage: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(words) == 0
    assert capsys.readouterr().out.startswith(usage)


def test_unknown_training_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    words = ["train", "calibrate-fusion", "fit", "--harvest", "h.pkl", "--weights", "w.pt", "--no-such-option"]
    assert _exit_code(words) == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err
