"""Work-arounds for bugs in the Qt bindings, applied once when the window is built.

PySide6 6.12.0 on Python 3.11 loses references to Python's singletons: every call of a
C++ method that returns ``void`` (``QPainter.setPen``, ``QLabel.setText``, ...) drops one
reference to ``None``, and every ``Signal.emit()`` drops one to ``True``.  Python 3.12+
makes these objects immortal so nothing happens there, but on 3.11 the interpreter
aborts ("none_dealloc: deallocating None", "bool_dealloc") after some thousands of such
calls, i.e. within a minute of using the app.  PySide6 6.11 is not affected.

:func:`protect_singletons` detects the leak and, only if it is present, gives ``None``,
``True`` and ``False`` reference counts so large that they can never reach zero.
"""

from __future__ import annotations

import ctypes
import sys

_applied = False
#: Extra references given to each singleton: room for 2**48 lost references.
HEADROOM = 1 << 48


def singleton_refs_leak(calls: int = 64) -> bool:
    """Whether this PySide6 loses references to ``None`` (void calls) or ``True`` (signal emission)."""
    from PySide6.QtCore import QObject, QRectF, Signal

    class _Probe(QObject):
        ping = Signal()

    rect = QRectF(0, 0, 1, 1)
    probe = _Probe()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        rect.setWidth(2.0)
        probe.ping.emit()
    lost_none = none_before - sys.getrefcount(None)
    lost_true = true_before - sys.getrefcount(True)
    return lost_none >= calls // 2 or lost_true >= calls // 2


def protect_singletons() -> bool:
    """Make ``None``, ``True`` and ``False`` effectively immortal if the bindings leak them; True if applied."""
    global _applied
    if _applied or sys.version_info >= (3, 12) or not singleton_refs_leak():
        return _applied
    for singleton in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt is the first field of every object
        refcount.value += HEADROOM
    _applied = True
    return True

