"""Start the desktop app in place of this process, so the core never imports Qt."""

from __future__ import annotations

import os
import sys


def launch_gui(folder: str | None) -> int:
    """Replace this process with ``python -m app [FOLDER]`` (returns only on failure)."""
    command = [sys.executable, "-m", "app"]
    if folder:
        command.append(folder)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execv(sys.executable, command)
    except OSError as exc:
        sys.stderr.write(f"rotbgr: cannot start the desktop app: {exc}\n")
    return 1
