"""Start the desktop app in its own process, so the core never imports Qt."""

from __future__ import annotations

import subprocess
import sys


def launch_gui(folder: str | None) -> int:
    """Run ``python -m app [FOLDER]`` and return its exit status."""
    command = [sys.executable, "-m", "app"]
    if folder:
        command.append(folder)
    return subprocess.call(command)
