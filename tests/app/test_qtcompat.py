"""The PySide6 None-refcount work-around keeps long sessions alive."""

from __future__ import annotations

import subprocess
import sys


def test_many_void_calls_do_not_crash_the_interpreter() -> None:
    code = (
        "from app.qtcompat import protect_singletons\n"
        "from PySide6.QtCore import QRectF\n"
        "protect_singletons()\n"
        "r = QRectF()\n"
        "from PySide6.QtCore import QObject, Signal\n"
        "class P(QObject):\n    ping = Signal()\n"
        "p = P()\n"
        "for _ in range(300_000): r.setWidth(1.0); p.ping.emit()\n"
        "print('alive')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and "alive" in result.stdout, result.stderr[-500:]
