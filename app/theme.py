"""Look and feel: the dark palette, the style sheet, icons and the colours of states and confidence."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from app.model import ItemState

#: The bundled resources (icons, style sheet, sample folder).
RESOURCES = Path(__file__).resolve().parent.parent / "resources"
SAMPLE_FOLDER = RESOURCES / "sample"

WINDOW = QColor("#1b1d21")
PANEL = QColor("#23262b")
CARD = QColor("#2a2d33")
CARD_HOVER = QColor("#30343a")
BORDER = QColor("#363a42")
TEXT = QColor("#e3e6ea")
MUTED = QColor("#8a919b")
ACCENT = QColor("#4c8dff")
GOOD = QColor("#3fb950")
WARN = QColor("#e3a21a")
BAD = QColor("#f0524f")

STATE_COLOURS = {
    ItemState.PENDING: QColor("#7d8590"),
    ItemState.PREDICTED: QColor("#9aa4b1"),
    ItemState.ADJUSTED: QColor("#58a6ff"),
    ItemState.ACCEPTED: QColor("#3fb950"),
    ItemState.REJECTED: QColor("#f0524f"),
    ItemState.EXPORTED: QColor("#a78bfa"),
    ItemState.ERROR: QColor("#f0524f"),
}

STATE_LABELS = {
    ItemState.PENDING: "Pending",
    ItemState.PREDICTED: "Predicted",
    ItemState.ADJUSTED: "Adjusted",
    ItemState.ACCEPTED: "Accepted",
    ItemState.REJECTED: "Rejected",
    ItemState.EXPORTED: "Exported",
    ItemState.ERROR: "Error",
}


def confidence_colour(confidence: float | None, threshold: float) -> QColor:
    """Green at or above the threshold, amber a little below, red well below."""
    if confidence is None:
        return MUTED
    if confidence >= threshold:
        return GOOD
    if confidence >= threshold * 0.6:
        return WARN
    return BAD


def confidence_text(confidence: float) -> str:
    """A confidence as a whole percentage, rounded down.

    Rounded down so that a page flagged below an 85% threshold never reads "85%", and no calibrated
    probability short of certainty reads "100%".
    """
    return f"{math.floor(100 * confidence + 1e-9)}%"


@cache
def icon(name: str) -> QIcon:
    """An icon from ``resources/icons`` (an empty icon if missing)."""
    path = RESOURCES / "icons" / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def style_sheet() -> str:
    """The application style sheet."""
    path = RESOURCES / "style.qss"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    return text.replace("{RES}", RESOURCES.as_posix())


def apply_theme(app: QApplication) -> None:
    """Fusion style with a dark palette and the style sheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Window, WINDOW)
    palette.setColor(QPalette.ColorRole.WindowText, TEXT)
    palette.setColor(QPalette.ColorRole.Base, QColor("#15171a"))
    palette.setColor(QPalette.ColorRole.AlternateBase, PANEL)
    palette.setColor(QPalette.ColorRole.Text, TEXT)
    palette.setColor(QPalette.ColorRole.Button, CARD)
    palette.setColor(QPalette.ColorRole.ButtonText, TEXT)
    palette.setColor(QPalette.ColorRole.Highlight, QColor("#3b6fd8"))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    palette.setColor(QPalette.ColorRole.ToolTipBase, CARD)
    palette.setColor(QPalette.ColorRole.ToolTipText, TEXT)
    palette.setColor(QPalette.ColorRole.PlaceholderText, MUTED)
    palette.setColor(QPalette.ColorRole.Link, ACCENT)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b717a"))
    app.setPalette(palette)
    app.setStyleSheet(style_sheet())
    app.setWindowIcon(icon("rotbgr"))
