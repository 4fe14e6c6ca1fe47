"""The detail view: original and corrected side by side, synchronised zoom and pan, and the fine-tuning controls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QPixmap,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsView,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.actions import Actions
from app.grid import angle_text
from app.model import Item, ItemState, angle_from_line
from app.preview import Preview, PreviewService
from app.render import correction_transform
from app.thumbnails import ThumbnailService
from rotbgr_core.geometry import decompose, inscribed_size, normalize_angle

MIN_ZOOM = 0.01
MAX_ZOOM = 16.0


def crop_rect(width: float, height: float, angle: float, crop: str) -> QRectF:
    """The output canvas of the core's correction, centred on the origin, in original pixels.

    Mirrors :func:`rotbgr_core.geometry.correct_image`: quarter turns are exact, the
    residual is resampled, and ``crop`` decides the canvas (``inscribed`` uses the
    core's :func:`~rotbgr_core.geometry.inscribed_size`).
    """
    parts = decompose(normalize_angle(angle))
    if parts.quarter_turns % 2:
        width, height = height, width
    if parts.is_exact or crop == "none":
        w, h = width, height
    elif crop == "inscribed":
        w, h = inscribed_size(max(1, round(width)), max(1, round(height)), parts.residual)
    else:
        bounds = correction_transform(width, height, parts.residual, False).mapRect(QRectF(0, 0, width, height))
        w, h = bounds.width(), bounds.height()
    return QRectF(-w / 2.0, -h / 2.0, w, h)


class ImagePane(QGraphicsView):
    """One zoomable, pannable image; the corrected pane also shows the crop and the level grid."""

    view_changed = Signal()
    user_zoomed = Signal()
    line_drawn = Signal(QPointF, QPointF)

    def __init__(self, corrected: bool, parent: QWidget | None = None) -> None:
        """A pane showing the original image, or (``corrected``) the image as it will be written."""
        super().__init__(parent)
        self.corrected = corrected
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor("#141518"))
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        scene = self.scene()
        self._backdrop = QGraphicsRectItem()
        self._backdrop.setPen(QPen(Qt.PenStyle.NoPen))
        self._backdrop.setVisible(False)
        scene.addItem(self._backdrop)
        self.pixmap_item = QGraphicsPixmapItem()
        self.pixmap_item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        scene.addItem(self.pixmap_item)
        self._shade = QGraphicsPathItem()
        self._shade.setBrush(QColor(8, 9, 11, 170))
        self._shade.setPen(QPen(Qt.PenStyle.NoPen))
        self._shade.setZValue(2)
        scene.addItem(self._shade)
        self._frame = QGraphicsRectItem()
        frame_pen = QPen(QColor(255, 255, 255, 200), 1.2, Qt.PenStyle.DashLine)
        frame_pen.setCosmetic(True)
        self._frame.setPen(frame_pen)
        self._frame.setZValue(3)
        scene.addItem(self._frame)
        self._line = QGraphicsLineItem()
        line_pen = QPen(QColor("#ffcc33"), 2.0)
        line_pen.setCosmetic(True)
        self._line.setPen(line_pen)
        self._line.setZValue(4)
        self._line.setVisible(False)
        scene.addItem(self._line)
        self._line_start: QPointF | None = None
        self._hide_line = QTimer(self)
        self._hide_line.setSingleShot(True)
        self._hide_line.setInterval(900)
        self._hide_line.timeout.connect(lambda: self._line.setVisible(False))
        self.show_grid = False
        self.line_mode: str | None = None
        self.message = ""
        self.crop = "expand"
        self.angle = 0.0
        self.mirrored = False
        self.scale_factor = 1.0
        self.content = QRectF()
        self.horizontalScrollBar().valueChanged.connect(lambda _v: self.view_changed.emit())
        self.verticalScrollBar().valueChanged.connect(lambda _v: self.view_changed.emit())

    # -- content ------------------------------------------------------------------------

    def set_image(self, image: QImage | None, scale: float = 1.0, fill: QColor | None = None) -> None:
        """Show ``image``, whose pixels are ``scale`` original pixels wide."""
        self.pixmap_item.setPixmap(QPixmap.fromImage(image) if image is not None else QPixmap())
        self.scale_factor = scale
        if fill is not None:
            self._backdrop.setBrush(fill)
        self._update_geometry()

    def has_image(self) -> bool:
        """Whether an image is shown."""
        return not self.pixmap_item.pixmap().isNull()

    def set_correction(self, angle: float, mirrored: bool, crop: str) -> None:
        """Show the image corrected by ``(angle, mirrored)`` with the ``crop`` canvas (corrected pane only)."""
        self.angle, self.mirrored, self.crop = angle, mirrored, crop
        self._update_geometry()

    def _update_geometry(self) -> None:
        pixmap = self.pixmap_item.pixmap()
        if pixmap.isNull():
            self._shade.setVisible(False)
            self._frame.setVisible(False)
            self._backdrop.setVisible(False)
            self.content = QRectF()
            self.viewport().update()
            return
        s = self.scale_factor
        width, height = pixmap.width() * s, pixmap.height() * s
        angle, mirrored = (self.angle, self.mirrored) if self.corrected else (0.0, False)
        self.pixmap_item.setTransform(QTransform.fromScale(s, s) * correction_transform(width, height, angle, mirrored))
        bounds = self.pixmap_item.sceneBoundingRect()
        if self.corrected:
            crop = crop_rect(width, height, angle, self.crop)
            outside = QPainterPath()
            outside.addPolygon(self.pixmap_item.mapToScene(self.pixmap_item.boundingRect()))
            outside.closeSubpath()
            inside = QPainterPath()
            inside.addRect(crop)
            self._shade.setPath(outside.subtracted(inside))
            self._frame.setRect(crop)
            self._backdrop.setRect(crop)
            self._shade.setVisible(True)
            self._frame.setVisible(True)
            self._backdrop.setVisible(True)
            self.content = crop.united(bounds)  # what the crop leaves out stays visible, dimmed
        else:
            self.content = bounds
        margin = max(self.content.width(), self.content.height()) * 0.02
        self.setSceneRect(self.content.adjusted(-margin, -margin, margin, margin))
        self.viewport().update()

    # -- zoom and pan -----------------------------------------------------------------------

    def zoom(self) -> float:
        """Screen pixels per original image pixel."""
        return self.transform().m11()

    def set_zoom(self, zoom: float) -> None:
        """Zoom to ``zoom`` screen pixels per original pixel, around the view centre."""
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        current = self.zoom()
        if current > 0 and abs(zoom - current) > 1e-9:
            self.scale(zoom / current, zoom / current)

    def fit_zoom(self) -> float:
        """The zoom that fits the content in the pane."""
        if self.content.isEmpty():
            return 1.0
        area = self.viewport().rect().adjusted(12, 12, -12, -12)
        return min(area.width() / self.content.width(), area.height() / self.content.height())

    def image_point_at_centre(self) -> QPointF:
        """The image pixel (preview coordinates) under the pane's centre."""
        return self.pixmap_item.mapFromScene(self.mapToScene(self.viewport().rect().center()))

    def centre_on_image_point(self, point: QPointF) -> None:
        """Pan so that the image pixel ``point`` is under the pane's centre."""
        self.centerOn(self.pixmap_item.mapToScene(point))

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt API
        """Zoom around the mouse."""
        if not self.has_image():
            return
        factor = 1.0015 ** event.angleDelta().y()
        target = min(MAX_ZOOM, max(MIN_ZOOM, self.zoom() * factor))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.scale(target / self.zoom(), target / self.zoom())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.user_zoomed.emit()
        self.view_changed.emit()
        event.accept()

    # -- level line tool ----------------------------------------------------------------------

    def set_line_mode(self, mode: str | None) -> None:
        """``"h"`` or ``"v"`` to draw a line that should be horizontal or vertical; ``None`` to pan."""
        self.line_mode = mode
        if mode:
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
            self.viewport().unsetCursor()
            self._line_start = None

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        """Start a level line in line mode; pan otherwise."""
        if self.line_mode and event.button() == Qt.MouseButton.LeftButton and self.has_image():
            self._hide_line.stop()
            self._line_start = self.mapToScene(event.position().toPoint())
            self._line.setLine(QLineF(self._line_start, self._line_start))
            self._line.setVisible(True)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        """Stretch the level line."""
        if self._line_start is not None:
            self._line.setLine(QLineF(self._line_start, self.mapToScene(event.position().toPoint())))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        """Finish the level line and report it in image coordinates."""
        if self._line_start is not None and event.button() == Qt.MouseButton.LeftButton:
            end = self.mapToScene(event.position().toPoint())
            start, self._line_start = self._line_start, None
            self._line.setLine(QLineF(start, end))
            self._hide_line.start()
            self.line_drawn.emit(self.pixmap_item.mapFromScene(start), self.pixmap_item.mapFromScene(end))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def draw_line_for_test(self, start: QPointF, end: QPointF) -> None:
        """Report a line between two image points as if the user drew it (used by tests)."""
        self.line_drawn.emit(start, end)

    # -- painting -------------------------------------------------------------------------------

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802 - Qt API
        """The level grid (in screen space) and any message."""
        painter.save()
        painter.resetTransform()
        area = self.viewport().rect()
        if self.show_grid and self.has_image():
            spacing = 48
            centre = area.center()
            minor = QPen(QColor(255, 255, 255, 46), 1)
            major = QPen(QColor(76, 200, 255, 150), 1)
            for i in range(-(area.width() // spacing) - 1, area.width() // spacing + 2):
                x = centre.x() + i * spacing
                painter.setPen(major if i == 0 else minor)
                painter.drawLine(x, area.top(), x, area.bottom())
            for i in range(-(area.height() // spacing) - 1, area.height() // spacing + 2):
                y = centre.y() + i * spacing
                painter.setPen(major if i == 0 else minor)
                painter.drawLine(area.left(), y, area.right(), y)
        if self.message:
            painter.setPen(theme.MUTED)
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        painter.restore()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        """Let the owner refit."""
        super().resizeEvent(event)
        self.view_changed.emit()


class AngleSpinBox(QDoubleSpinBox):
    """Degrees in [-180, 180): arrows step 0.1°, 0.01° with Ctrl, 1° with Shift."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("angleSpin")
        self.setRange(-180.0, 180.0)
        self.setDecimals(2)
        self.setSingleStep(0.1)
        self.setWrapping(True)
        self.setSuffix("°")
        self.setKeyboardTracking(False)
        self.setAccelerated(True)
        self.setAlignment(Qt.AlignmentFlag.AlignRight)

    def stepBy(self, steps: int) -> None:  # noqa: N802 - Qt API
        """Step by 0.1°, or 0.01° with Ctrl, or 1° with Shift."""
        modifiers = QApplication.keyboardModifiers()
        step = 0.1
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            step = 0.01
        elif modifiers & Qt.KeyboardModifier.ShiftModifier:
            step = 1.0
        self.setValue(normalize_angle(round(self.value() + steps * step, 4)))


class ConfidenceBar(QWidget):
    """A slim bar showing the confidence, coloured against the threshold, with the threshold marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.value: float | None = None
        self.threshold = 0.85
        self.setMinimumHeight(8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """Slim."""
        return QSize(120, 8)

    def set_value(self, value: float | None, threshold: float) -> None:
        """Show ``value`` against ``threshold``."""
        self.value, self.threshold = value, threshold
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        """Draw the bar."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0, 1, 0, -1)
        track = QPainterPath()
        track.addRoundedRect(rect, 3, 3)
        painter.fillPath(track, QColor("#34383f"))
        if self.value is not None:
            fill = QRectF(rect.left(), rect.top(), rect.width() * max(0.0, min(1.0, self.value)), rect.height())
            path = QPainterPath()
            path.addRoundedRect(fill, 3, 3)
            painter.fillPath(path, theme.confidence_colour(self.value, self.threshold))
        x = rect.left() + rect.width() * self.threshold
        painter.setPen(QPen(QColor(255, 255, 255, 160), 1.5))
        painter.drawLine(QPointF(x, rect.top() - 1), QPointF(x, rect.bottom() + 1))
        painter.end()


def _section(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setObjectName("sectionTitle")
    return label


def _tool(action_button: QToolButton) -> QToolButton:
    action_button.setIconSize(QSize(20, 20))
    action_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    action_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    return action_button


class DetailView(QWidget):
    """Original and corrected side by side with the inspector on the right."""

    angle_edited = Signal(float, str)
    """The user set an angle: the new angle and a merge tag for undo (``spin``, ``slider``, ``line``)."""

    def __init__(
        self,
        actions: Actions,
        previews: PreviewService,
        thumbnails: ThumbnailService,
        crop_for: Callable[[str], str],
        parent: QWidget | None = None,
    ) -> None:
        """The view uses the app's ``actions`` for its buttons, so shortcuts and menus stay in sync."""
        super().__init__(parent)
        self.actions = actions
        self.previews = previews
        self.thumbnails = thumbnails
        self.crop_for = crop_for
        self.threshold = 0.85
        self.item: Item | None = None
        self.position_text = ""
        self._syncing = False
        self._fit_mode = True
        self._updating = False
        self._slider_base = 0.0

        self.original = ImagePane(corrected=False)
        self.corrected = ImagePane(corrected=True)
        self.original_title = QLabel("Original")
        self.corrected_title = QLabel("Corrected")
        for title in (self.original_title, self.corrected_title):
            title.setObjectName("paneTitle")
        panes = QSplitter(Qt.Orientation.Horizontal)
        panes.setChildrenCollapsible(False)
        panes.setHandleWidth(2)
        for title, pane in ((self.original_title, self.original), (self.corrected_title, self.corrected)):
            box = QWidget()
            column = QVBoxLayout(box)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(0)
            column.addWidget(title)
            column.addWidget(pane, 1)
            panes.addWidget(box)
        self.panes = panes

        self.centre = QWidget()
        centre_layout = QVBoxLayout(self.centre)
        centre_layout.setContentsMargins(0, 0, 0, 0)
        centre_layout.setSpacing(0)
        centre_layout.addWidget(panes, 1)
        self._strip_slot = centre_layout

        self.inspector = self._build_inspector()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.centre, 1)
        layout.addWidget(self.inspector)

        for pane in (self.original, self.corrected):
            pane.view_changed.connect(lambda p=pane: self._on_view_changed(p))
            pane.user_zoomed.connect(self._leave_fit)
            pane.line_drawn.connect(self._on_line)
        previews.ready.connect(self._on_preview_ready)
        previews.failed.connect(self._on_preview_failed)

    # -- layout ------------------------------------------------------------------------------

    def set_filmstrip(self, strip: QWidget) -> None:
        """Put the filmstrip under the panes."""
        self._strip_slot.addWidget(strip)

    def _build_inspector(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("inspector")
        frame.setFixedWidth(308)
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(6)

        self.title = QLabel("—")
        self.title.setObjectName("itemTitle")
        self.title.setWordWrap(True)
        self.subtitle = QLabel("")
        self.subtitle.setObjectName("muted")
        self.subtitle.setWordWrap(True)
        self.state_chip = QLabel("")
        self.state_chip.setObjectName("chip")
        chip_row = QHBoxLayout()
        chip_row.addWidget(self.state_chip)
        chip_row.addStretch(1)
        self.position_label = QLabel("")
        self.position_label.setObjectName("muted")
        chip_row.addWidget(self.position_label)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addLayout(chip_row)

        layout.addWidget(_section("Model"))
        model_grid = QGridLayout()
        model_grid.setHorizontalSpacing(12)
        model_grid.setVerticalSpacing(4)
        self.model_angle = QLabel("—")
        self.model_angle.setObjectName("bigValue")
        self.model_mirror = QLabel("—")
        self.model_confidence = QLabel("—")
        self.confidence_bar = ConfidenceBar()
        model_grid.addWidget(self._muted("Angle"), 0, 0)
        model_grid.addWidget(self.model_angle, 0, 1)
        model_grid.addWidget(self._muted("Mirrored"), 1, 0)
        model_grid.addWidget(self.model_mirror, 1, 1)
        model_grid.addWidget(self._muted("Confidence"), 2, 0)
        confidence_row = QHBoxLayout()
        confidence_row.addWidget(self.confidence_bar, 1)
        confidence_row.addWidget(self.model_confidence)
        model_grid.addLayout(confidence_row, 2, 1)
        model_grid.setColumnStretch(1, 1)
        layout.addLayout(model_grid)

        layout.addWidget(_section("Correction"))
        angle_row = QHBoxLayout()
        self.spin = AngleSpinBox()
        self.spin.setToolTip("Angle in degrees, counter-clockwise.  Arrows: 0.1°, Ctrl: 0.01°, Shift: 1°")
        self.spin.valueChanged.connect(self._on_spin)
        self.mirror_button = _tool(QToolButton())
        self.mirror_button.setDefaultAction(self.actions.mirror)
        angle_row.addWidget(self.spin, 1)
        angle_row.addWidget(self.mirror_button)
        layout.addLayout(angle_row)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-4500, 4500)
        self.slider.setSingleStep(10)
        self.slider.setPageStep(100)
        self.slider.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.slider.setToolTip("Fine angle within ±45° of the quarter turn (0.1° steps; drag for any value)")
        self.slider.valueChanged.connect(self._on_slider)
        self.slider.sliderPressed.connect(self._on_slider_pressed)
        layout.addWidget(self.slider)
        ticks = QHBoxLayout()
        for text, align in (("−45°", Qt.AlignmentFlag.AlignLeft), ("0°", Qt.AlignmentFlag.AlignHCenter),
                            ("+45°", Qt.AlignmentFlag.AlignRight)):
            tick = self._muted(text)
            tick.setAlignment(align)
            ticks.addWidget(tick, 1)
        layout.addLayout(ticks)
        tools = QHBoxLayout()
        tools.setSpacing(2)
        for name in ("rotate_left", "rotate_right", "reset"):
            button = _tool(QToolButton())
            button.setDefaultAction(self.actions[name])
            tools.addWidget(button)
        tools.addStretch(1)
        for name in ("line_h", "line_v"):
            button = _tool(QToolButton())
            button.setDefaultAction(self.actions[name])
            tools.addWidget(button)
        layout.addLayout(tools)

        layout.addWidget(_section("Preview"))
        crop_row = QHBoxLayout()
        crop_row.addWidget(self._muted("Crop"))
        self.crop_combo = QComboBox()
        self.crop_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for text, value in (("By kind", "auto"), ("Inscribed: no empty corners", "inscribed"),
                            ("Expand: keep everything", "expand"), ("None: same size", "none")):
            self.crop_combo.addItem(text, value)
        self.crop_combo.setToolTip("How the corrected image is framed (export chooses its own crop)")
        self.crop_combo.currentIndexChanged.connect(lambda _i: self._apply_correction())
        crop_row.addWidget(self.crop_combo, 1)
        layout.addLayout(crop_row)
        view_row = QHBoxLayout()
        view_row.setSpacing(2)
        for name in ("fit", "zoom_100", "zoom_out", "zoom_in", "overlay"):
            button = _tool(QToolButton())
            button.setDefaultAction(self.actions[name])
            view_row.addWidget(button)
        view_row.addStretch(1)
        self.zoom_label = self._muted("Fit")
        view_row.addWidget(self.zoom_label)
        layout.addLayout(view_row)

        layout.addWidget(_section("Decision"))
        decide = QHBoxLayout()
        self.accept_button = QPushButton(theme.icon("accept"), "  Accept")
        self.accept_button.setProperty("role", "accept")
        self.accept_button.setToolTip(self.actions.accept.toolTip())
        self.accept_button.clicked.connect(self.actions.accept.trigger)
        self.reject_button = QPushButton(theme.icon("reject"), "  Reject")
        self.reject_button.setProperty("role", "reject")
        self.reject_button.setToolTip(self.actions.reject.toolTip())
        self.reject_button.clicked.connect(self.actions.reject.trigger)
        for button in (self.accept_button, self.reject_button):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.setMinimumHeight(34)
            decide.addWidget(button)
        layout.addLayout(decide)
        hint = self._muted("↵ accept · R reject · [ ] ±0.1° · Shift ±1° · F1 all keys")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addStretch(1)

        nav = QHBoxLayout()
        for name in ("previous", "next"):
            button = _tool(QToolButton())
            button.setDefaultAction(self.actions[name])
            nav.addWidget(button)
            if name == "previous":
                nav.addStretch(1)
                self.nav_label = self._muted("")
                nav.addWidget(self.nav_label)
                nav.addStretch(1)
        layout.addLayout(nav)
        return frame

    @staticmethod
    def _muted(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("muted")
        return label

    # -- showing an item ---------------------------------------------------------------------

    def show_item(self, item: Item | None, neighbours: list[Item] | None = None) -> None:
        """Show ``item`` (loading its preview) and prefetch ``neighbours``."""
        changed = item is None or self.item is None or item.key != self.item.key
        self.item = item
        if item is None:
            for pane in (self.original, self.corrected):
                pane.set_image(None)
                pane.message = "No image selected"
            self.refresh()
            return
        if changed:
            self._fit_mode = True
            preview = self.previews.get(item.key)
            if preview is not None:
                self._set_preview(preview)
            else:
                thumb = self.thumbnails.image(item.key)
                for pane in (self.original, self.corrected):
                    pane.set_image(thumb, 1.0)
                    pane.message = "" if thumb is not None else "Loading…"
                self._fit()
            prefetch = [(n.key, n.input_item) for n in (neighbours or []) if n.state != ItemState.ERROR]
            if item.state != ItemState.ERROR:
                self.previews.request(item.key, item.input_item, prefetch)
            else:
                for pane in (self.original, self.corrected):
                    pane.set_image(None)
                    pane.message = f"This image cannot be read:\n{item.error}"
        self.refresh()

    def _set_preview(self, preview: Preview) -> None:
        for pane in (self.original, self.corrected):
            pane.set_image(preview.image, preview.scale, preview.fill)
            pane.message = ""
        self._apply_correction()
        self._fit()

    def _on_preview_ready(self, key: str) -> None:
        if self.item is not None and key == self.item.key:
            preview = self.previews.get(key)
            if preview is not None:
                self._set_preview(preview)
                self.refresh()

    def _on_preview_failed(self, key: str, error: str) -> None:
        if self.item is not None and key == self.item.key:
            for pane in (self.original, self.corrected):
                pane.set_image(None)
                pane.message = f"This image cannot be read:\n{error}"

    def current_crop(self) -> str:
        """The crop mode shown in the corrected pane."""
        chosen = self.crop_combo.currentData()
        if chosen == "auto":
            return self.crop_for(self.item.kind if self.item is not None else "unknown")
        return str(chosen)

    def _apply_correction(self) -> None:
        item = self.item
        if item is None:
            return
        correction = item.correction
        kind = item.kind if item.kind in ("document", "photo") else "unknown kind"
        self.crop_combo.setItemText(0, f"By kind ({kind}): {self.crop_for(item.kind)}")
        self.corrected.set_correction(correction.angle, correction.mirrored, self.current_crop())
        title = f"Corrected  ·  {angle_text(correction.angle)}"
        if correction.mirrored:
            title += "  ·  mirrored"
        title += f"  ·  {self.current_crop()} crop"
        self.corrected_title.setText(title)
        if self._fit_mode:
            self._fit()

    def refresh(self) -> None:
        """Update every control from the current item."""
        item = self.item
        self._updating = True
        try:
            enabled = item is not None and item.state != ItemState.ERROR
            for widget in (self.spin, self.slider, self.crop_combo, self.accept_button, self.reject_button):
                widget.setEnabled(enabled)
            if item is None:
                self.title.setText("No image")
                self.subtitle.setText("")
                self.state_chip.setText("")
                return
            self.title.setText(item.name)
            self.title.setToolTip(item.key)
            details = []
            preview = self.previews.get(item.key)
            if preview is not None:
                details.append(f"{preview.original_width:,} × {preview.original_height:,} px")
            if item.kind in ("document", "photo"):
                details.append(item.kind)
            if item.page is not None:
                details.append(f"page {item.page} of {item.page_count}")
            folder = str(Path(item.file).parent)
            folder = self.subtitle.fontMetrics().elidedText(folder, Qt.TextElideMode.ElideMiddle, 270)
            self.subtitle.setText(" · ".join(details) + ("\n" if details else "") + folder)
            self.subtitle.setToolTip(item.file)
            state = item.state
            colour = theme.STATE_COLOURS[state]
            self.state_chip.setText(theme.STATE_LABELS[state].upper())
            self.state_chip.setStyleSheet(
                f"background: rgba({colour.red()},{colour.green()},{colour.blue()},45); color: {colour.name()};"
            )
            self.position_label.setText("")
            self.nav_label.setText(self.position_text)
            if item.predicted is not None:
                self.model_angle.setText(f"{item.predicted.angle:+.2f}°")
                self.model_mirror.setText("Yes" if item.predicted.mirrored else "No")
                self.model_confidence.setText(theme.confidence_text(item.confidence or 0))
                self.confidence_bar.set_value(item.confidence, self.threshold)
            else:
                waiting = "error" if state == ItemState.ERROR else "predicting…"
                self.model_angle.setText(waiting)
                self.model_mirror.setText("—")
                self.model_confidence.setText("—")
                self.confidence_bar.set_value(None, self.threshold)
            correction = item.correction
            self.spin.setValue(correction.angle)
            parts = decompose(normalize_angle(correction.angle))
            self._slider_base = correction.angle - parts.residual
            self.slider.setValue(round(parts.residual * 100))
            self.actions.mirror.setChecked(correction.mirrored)
            self._apply_correction()
        finally:
            self._updating = False

    # -- edits -----------------------------------------------------------------------------------

    def _on_spin(self, value: float) -> None:
        if self._updating or self.item is None:
            return
        self.angle_edited.emit(normalize_angle(value), "spin")

    def _on_slider_pressed(self) -> None:
        if self.item is not None:
            parts = decompose(normalize_angle(self.item.correction.angle))
            self._slider_base = self.item.correction.angle - parts.residual

    def _on_slider(self, value: int) -> None:
        if self._updating or self.item is None:
            return
        self.angle_edited.emit(normalize_angle(self._slider_base + value / 100.0), "slider")

    def _on_line(self, start: QPointF, end: QPointF) -> None:
        if self.item is None or not self.original.line_mode:
            return
        vertical = self.original.line_mode == "v"  # points are input-image coordinates in either pane
        angle = angle_from_line((start.x(), start.y()), (end.x(), end.y()), vertical, self.item.correction.angle)
        if angle is not None:
            self.angle_edited.emit(angle, "line")

    def commit_typing(self) -> None:
        """Apply a value being typed in the spin box."""
        if self.spin.hasFocus():
            self.spin.interpretText()

    # -- view ---------------------------------------------------------------------------------------

    def set_line_mode(self, mode: str | None) -> None:
        """Turn the level-line tool on (``"h"``/``"v"``) or off."""
        for pane in (self.original, self.corrected):
            pane.set_line_mode(mode)

    def set_overlay(self, shown: bool) -> None:
        """Show or hide the level grid over the corrected image."""
        self.corrected.show_grid = shown
        self.corrected.viewport().update()

    def fit(self) -> None:
        """Fit both images (same zoom)."""
        self._fit_mode = True
        self._fit()

    def _fit(self) -> None:
        zoom = min(self.original.fit_zoom(), self.corrected.fit_zoom())
        self._syncing = True
        try:
            for pane in (self.original, self.corrected):
                pane.set_zoom(zoom)
                pane.centerOn(pane.content.center())
        finally:
            self._syncing = False
        self._update_zoom_label()

    def zoom_to(self, zoom: float) -> None:
        """Set both panes to ``zoom`` (1.0 is 100%)."""
        self._leave_fit()
        self._syncing = True
        try:
            point = self.corrected.image_point_at_centre()
            for pane in (self.original, self.corrected):
                pane.set_zoom(zoom)
                pane.centre_on_image_point(point)
        finally:
            self._syncing = False
        self._update_zoom_label()

    def zoom_by(self, factor: float) -> None:
        """Zoom both panes by ``factor``."""
        self.zoom_to(self.corrected.zoom() * factor)

    def _leave_fit(self) -> None:
        self._fit_mode = False

    def _on_view_changed(self, source: ImagePane) -> None:
        if self._syncing:
            return
        if self._fit_mode and not source.underMouse():
            self._fit()
            return
        other = self.corrected if source is self.original else self.original
        self._syncing = True
        try:
            other.set_zoom(source.zoom())
            other.centre_on_image_point(source.image_point_at_centre())
        finally:
            self._syncing = False
        self._update_zoom_label()

    def _update_zoom_label(self) -> None:
        zoom = self.corrected.zoom()
        self.zoom_label.setText(f"{'Fit · ' if self._fit_mode else ''}{100 * zoom:.0f}%")

    def showEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        """Refit when shown."""
        super().showEvent(event)  # type: ignore[arg-type]
        if self._fit_mode:
            QTimer.singleShot(0, self._fit)

