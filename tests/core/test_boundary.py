"""rotbgr_core is a library without Qt: importing all of it must not load Qt or the app."""

from __future__ import annotations

import pathlib
import pkgutil
import subprocess
import sys

import rotbgr_core


def test_core_never_imports_qt_or_app() -> None:
    modules = [m.name for m in pkgutil.walk_packages(rotbgr_core.__path__, "rotbgr_core.")
               if ".training" not in m.name and not m.name.endswith("__main__")]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "banned = ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'app', 'qasync')\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in banned]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_sources_do_not_mention_qt_imports() -> None:
    root = pathlib.Path(rotbgr_core.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for banned in ("import PySide6", "from PySide6", "from app", "import app", "import qasync"):
            assert banned not in text, f"{path} contains {banned!r}"


def test_classical_prediction_runs_without_torch(tmp_path: pathlib.Path) -> None:
    """``--weights classical`` keeps its start-up free of torch (1.3-2 s to import here), large RGB inputs included."""
    from PIL import Image

    Image.new("RGB", (2400, 1600), (120, 130, 140)).save(tmp_path / "big.jpg")
    code = (
        "import sys\n"
        "from rotbgr_core.pipeline import iter_predictions\n"
        "from rotbgr_core.predictor import load_predictor\n"
        f"[result] = iter_predictions([{str(tmp_path / 'big.jpg')!r}], load_predictor('classical'))\n"
        "print(result.ok, 'torch' in sys.modules); sys.exit(0 if result.ok and 'torch' not in sys.modules else 1)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
