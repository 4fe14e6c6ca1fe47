"""tests/core must pass without Qt: with ROTBGR_BLOCK_QT=1, importing Qt fails here.

`make test` runs tests/core that way (with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1, so pytest-qt is not loaded), as if Qt
were not installed, then runs the whole suite normally.
"""

from __future__ import annotations

import importlib.abc
import os
import sys

_BLOCKED = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "qasync", "pytestqt", "app")


class _QtBlocker(importlib.abc.MetaPathFinder):
    """Refuses to import Qt bindings, the app or pytest-qt."""

    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname.split(".")[0] in _BLOCKED:
            raise ImportError(f"{fullname} is blocked: tests/core must run without Qt")
        return None


if os.environ.get("ROTBGR_BLOCK_QT") == "1":
    if any(name.split(".")[0] in _BLOCKED for name in sys.modules):
        loaded = sorted(n for n in sys.modules if n.split(".")[0] in _BLOCKED)
        raise RuntimeError(f"Qt was imported before tests/core started: {loaded}")
    sys.meta_path.insert(0, _QtBlocker())
