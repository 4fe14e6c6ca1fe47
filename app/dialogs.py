"""The settings dialog, the keyboard help overlay and the welcome page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QPainterPath, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.actions import SPECS, Actions, shortcut_text
from app.settings import CROP_MODES, Preferences

CROP_TEXT = {
    "inscribed": "Inscribed: no empty corners (crops a little)",
    "expand": "Expand: keep everything (fills the corners)",
    "none": "None: keep the original size",
}


def cuda_available() -> bool:
    """Whether torch sees a CUDA device."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - no torch, no CUDA
        return False


class SettingsDialog(QDialog):
    """Device, batch size, crop defaults, confidence threshold, thumbnail size, model weights."""

    def __init__(self, preferences: Preferences, parent: QWidget | None = None, has_cuda: bool | None = None):
        """Edit a copy of ``preferences``; read the result from :meth:`preferences`."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(560)
        self._initial = preferences
        has_cuda = cuda_available() if has_cuda is None else has_cuda
        layout = QVBoxLayout(self)
        layout.setContentsMargins(22, 18, 22, 16)
        heading = QLabel("Settings")
        heading.setObjectName("itemTitle")
        layout.addWidget(heading)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(10)

        form.addRow(self._group("Model"))
        self.device = QComboBox()
        self.device.addItem("Automatic: CUDA when available, else CPU", "auto")
        self.device.addItem("CPU", "cpu")
        self.device.addItem("CUDA GPU" if has_cuda else "CUDA GPU (not available on this machine)", "cuda")
        if not has_cuda:
            self.device.model().item(2).setEnabled(False)  # type: ignore[attr-defined]
        form.addRow("Device", self.device)
        device_note = QLabel("A CUDA GPU was found." if has_cuda else "No CUDA GPU found: the model runs on the CPU.")
        device_note.setObjectName("muted")
        form.addRow("", device_note)
        self.batch = QSpinBox()
        self.batch.setRange(1, 256)
        self.batch.setToolTip("Images per model batch: larger is faster on a GPU, uses more memory")
        form.addRow("Batch size", self.batch)
        weights_row = QHBoxLayout()
        self.weights = QLineEdit()
        self.weights.setPlaceholderText("The model shipped with RotBGR")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_weights)
        weights_row.addWidget(self.weights, 1)
        weights_row.addWidget(browse)
        form.addRow("Weights", weights_row)

        form.addRow(self._group("Correction"))
        self.crop_photo = QComboBox()
        self.crop_document = QComboBox()
        for combo in (self.crop_photo, self.crop_document):
            for mode in CROP_MODES:
                combo.addItem(CROP_TEXT[mode], mode)
        form.addRow("Crop for photos", self.crop_photo)
        form.addRow("Crop for documents", self.crop_document)

        form.addRow(self._group("Review"))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.threshold.setToolTip("Items below this confidence are marked for review")
        form.addRow("Confidence threshold", self.threshold)
        threshold_note = QLabel("Images below it are outlined in amber or red and counted as low confidence.")
        threshold_note.setObjectName("muted")
        threshold_note.setWordWrap(True)
        form.addRow("", threshold_note)
        thumb_row = QHBoxLayout()
        self.thumb = QSlider(Qt.Orientation.Horizontal)
        self.thumb.setRange(96, 320)
        self.thumb.setSingleStep(8)
        self.thumb.setPageStep(32)
        self.thumb_label = QLabel("")
        self.thumb_label.setMinimumWidth(60)
        self.thumb.valueChanged.connect(lambda v: self.thumb_label.setText(f"{v} px"))
        thumb_row.addWidget(self.thumb, 1)
        thumb_row.addWidget(self.thumb_label)
        form.addRow("Thumbnail size", thumb_row)
        layout.addLayout(form)
        layout.addSpacing(14)
        layout.addStretch(1)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            lambda: self._load(Preferences())
        )
        layout.addWidget(buttons)
        self._load(preferences)

    @staticmethod
    def _group(text: str) -> QLabel:
        label = QLabel(text.upper())
        label.setObjectName("sectionTitle")
        return label

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model weights", self.weights.text() or str(Path.home()),
                                              "PyTorch weights (*.pt *.pth);;All files (*)")
        if path:
            self.weights.setText(path)

    def _load(self, prefs: Preferences) -> None:
        self.device.setCurrentIndex(max(0, self.device.findData(prefs.device)))
        self.batch.setValue(prefs.batch_size)
        self.weights.setText(prefs.weights)
        self.crop_photo.setCurrentIndex(max(0, self.crop_photo.findData(prefs.crop_photo)))
        self.crop_document.setCurrentIndex(max(0, self.crop_document.findData(prefs.crop_document)))
        self.threshold.setValue(prefs.confidence_threshold)
        self.thumb.setValue(prefs.thumbnail_size)
        self.thumb_label.setText(f"{prefs.thumbnail_size} px")

    def preferences(self) -> Preferences:
        """The edited preferences (other fields as they were)."""
        from dataclasses import replace

        return replace(
            self._initial,
            device=str(self.device.currentData()),
            batch_size=self.batch.value(),
            weights=self.weights.text().strip(),
            crop_photo=str(self.crop_photo.currentData()),
            crop_document=str(self.crop_document.currentData()),
            confidence_threshold=round(self.threshold.value(), 2),
            thumbnail_size=self.thumb.value(),
        ).validated()


class HelpOverlay(QWidget):
    """Every shortcut, drawn over the window; any key or click closes it."""

    GROUP_ORDER = ("Review", "Adjust", "Go", "View", "Sort & filter", "File", "Help")

    def __init__(self, actions: Actions, parent: QWidget) -> None:
        """Cover ``parent`` (hidden until :meth:`toggle`)."""
        super().__init__(parent)
        self.actions = actions
        self.setVisible(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        parent.installEventFilter(self)

    def toggle(self) -> None:
        """Show or hide."""
        if self.isVisible():
            self.hide()
        else:
            parentw = self.parentWidget()
            assert parentw is not None
            self.setGeometry(parentw.rect())
            self.raise_()
            self.show()
            self.setFocus()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        """Follow the parent's size."""
        if event.type() == QEvent.Type.Resize and self.isVisible():
            parentw = self.parentWidget()
            if parentw is not None:
                self.setGeometry(parentw.rect())
        return False

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        """Any key closes."""
        self.hide()
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        """A click closes."""
        self.hide()
        event.accept()

    def entries(self) -> dict[str, list[tuple[str, str]]]:
        """``group -> [(keys, what it does)]`` from the actions, so help never disagrees with the menus."""
        groups: dict[str, list[tuple[str, str]]] = {}
        for spec in SPECS:
            keys = shortcut_text(spec)
            if not keys:
                continue
            groups.setdefault(spec.group, []).append((keys, spec.text.replace("&", "")))
        return groups

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        """A dimmed window with a card listing the shortcuts in columns."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(8, 9, 12, 200))
        groups = self.entries()
        order = [g for g in self.GROUP_ORDER if g in groups]
        columns = [order[0:2], order[2:4], order[4:5], order[5:]]
        font = painter.font()
        title_font = painter.font()
        title_font.setPointSizeF(font.pointSizeF() * 1.6)
        title_font.setBold(True)
        head_font = painter.font()
        head_font.setBold(True)
        head_font.setPointSizeF(font.pointSizeF() * 0.85)
        key_font = painter.font()
        key_font.setBold(True)
        row_h = 25
        painter.setFont(key_font)
        metrics = painter.fontMetrics()
        key_w = max(metrics.horizontalAdvance(keys) for group in groups.values() for keys, _ in group) + 18
        painter.setFont(font)
        col_w = min(key_w + 200, max(key_w + 150, (self.width() - 120) // 4))
        heights = [sum(len(groups[g]) * row_h + 40 for g in col) for col in columns]
        card_w = col_w * len(columns) + 60
        card_h = max(heights) + 110
        card = QRectF((self.width() - card_w) / 2, max(20, (self.height() - card_h) / 2), card_w, card_h)
        path = QPainterPath()
        path.addRoundedRect(card, 16, 16)
        painter.fillPath(path, QColor("#23262b"))
        painter.setPen(QColor("#3a3f47"))
        painter.drawPath(path)
        painter.setFont(title_font)
        painter.setPen(theme.TEXT)
        painter.drawText(QRectF(card.left() + 30, card.top() + 20, card_w - 60, 36), "Keyboard shortcuts")
        painter.setFont(font)
        painter.setPen(theme.MUTED)
        painter.drawText(
            QRectF(card.left() + 30, card.top() + 20, card_w - 60, 36),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            "Press any key to close",
        )
        for c, column in enumerate(columns):
            x = card.left() + 30 + c * col_w
            y = card.top() + 76
            for group in column:
                painter.setFont(head_font)
                painter.setPen(QColor("#8a919b"))
                painter.drawText(QRectF(x, y, col_w, 20), group.upper())
                y += 28
                for keys, text in groups[group]:
                    painter.setFont(key_font)
                    key_rect = QRectF(x, y, key_w, row_h - 5)
                    pill = QPainterPath()
                    pill.addRoundedRect(key_rect, 5, 5)
                    painter.fillPath(pill, QColor("#30343b"))
                    painter.setPen(QColor("#e9edf2"))
                    painter.drawText(key_rect, Qt.AlignmentFlag.AlignCenter, keys)
                    painter.setFont(font)
                    painter.setPen(theme.TEXT)
                    label = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, col_w - key_w - 22)
                    painter.drawText(QRectF(x + key_w + 10, y, col_w - key_w - 14, row_h - 5),
                                     Qt.AlignmentFlag.AlignVCenter, label)
                    y += row_h
                y += 12
        painter.end()


class WelcomePage(QWidget):
    """Shown when no folder is open: open a folder, the sample, or a recent folder; or drop one."""

    open_requested = Signal()
    sample_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        card = QFrame()
        card.setObjectName("welcomeCard")
        card.setFixedWidth(560)
        layout = QVBoxLayout(card)
        layout.setContentsMargins(36, 32, 36, 28)
        layout.setSpacing(10)
        logo = QLabel()
        logo.setPixmap(theme.icon("rotbgr").pixmap(QSize(84, 84)))
        logo.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        title = QLabel("RotBGR")
        title.setObjectName("welcomeTitle")
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        subtitle = QLabel("Finds how much each image is rotated or mirrored, and puts it upright.")
        subtitle.setObjectName("welcomeSubtitle")
        subtitle.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        subtitle.setWordWrap(True)
        layout.addWidget(logo)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(10)
        buttons = QHBoxLayout()
        open_button = QPushButton(theme.icon("folder-open"), "  Open Folder…")
        open_button.setProperty("primary", True)
        open_button.setMinimumHeight(38)
        open_button.clicked.connect(self.open_requested)
        sample_button = QPushButton(theme.icon("image"), "  Try the Sample Images")
        sample_button.setMinimumHeight(38)
        sample_button.clicked.connect(self.sample_requested)
        buttons.addWidget(open_button, 1)
        buttons.addWidget(sample_button, 1)
        layout.addLayout(buttons)
        self.recent_title = QLabel("RECENT FOLDERS")
        self.recent_title.setObjectName("sectionTitle")
        layout.addWidget(self.recent_title)
        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(0)
        layout.addLayout(self.recent_box)
        hint = QLabel("…or drop a folder or images anywhere in this window")
        hint.setObjectName("dropHint")
        hint.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(8)
        layout.addWidget(hint)
        row.addWidget(card)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(1)

    def set_recent(self, folders: Sequence[str], exists: Callable[[str], bool] | None = None) -> None:
        """List recent folders (missing ones are left out)."""
        while self.recent_box.count():
            child = self.recent_box.takeAt(0)
            widget = child.widget() if child is not None else None
            if widget is not None:
                widget.deleteLater()
        check = exists or (lambda f: Path(f).is_dir())
        shown = [f for f in folders if check(f)][:6]
        self.recent_title.setVisible(bool(shown))
        for folder in shown:
            button = QPushButton(theme.icon("folder"), f"  {folder}")
            button.setProperty("flat", True)
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setToolTip(folder)
            button.clicked.connect(lambda _c=False, f=folder: self.recent_requested.emit(f))
            self.recent_box.addWidget(button)
