"""``python -m app.qtcheck``: clear verdicts with and without a display."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from app import qtcheck


def _run(env: dict[str, str]) -> tuple[int, str]:
    out = io.StringIO()
    status = qtcheck.check(env, out)
    return status, out.getvalue()


def test_offscreen_needs_nothing() -> None:
    assert _run({"QT_QPA_PLATFORM": "offscreen"})[0] == 0


def test_no_display_says_so() -> None:
    status, text = _run({})
    assert status == qtcheck.EXIT_NO_DISPLAY
    assert "no display" in text and "xvfb" in text


def test_missing_libraries_name_the_packages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    monkeypatch.setattr(qtcheck, "xcb_plugin", lambda: plugin)
    ldd = "\tlibxcb-icccm.so.4 => not found\n\tlibxcb-keysyms.so.1 => not found\n\tlibc.so.6 => /lib/libc.so.6\n"
    monkeypatch.setattr(qtcheck.shutil, "which", lambda name: "/usr/bin/ldd")
    monkeypatch.setattr(qtcheck.subprocess, "run",
                        lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout=ldd, stderr=""))
    status, text = _run({"DISPLAY": ":0"})
    assert status == qtcheck.EXIT_MISSING_LIBS
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1" in text
    assert "libxcb-cursor0" in text  # the full list is shown too


def test_package_names_for_every_listed_library() -> None:
    assert qtcheck.packages_for(["libxcb-cursor.so.0", "libEGL.so.1", "libdbus-1.so.3", "libxkbcommon-x11.so.0"]) == [
        "libdbus-1-3", "libegl1", "libxcb-cursor0", "libxkbcommon-x11-0",
    ]


def test_module_runs_as_a_script() -> None:
    result = subprocess.run([sys.executable, "-m", "app.qtcheck"], capture_output=True, text=True, check=False,
                            env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"}, timeout=60)
    assert result.returncode == 0 and "no display needed" in result.stdout
