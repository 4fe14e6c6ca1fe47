"""The thumbnail grid and the filmstrip: thumbnails drawn upright with angle, confidence and state badges."""

from __future__ import annotations

import time
from collections import OrderedDict

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPainterPath, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from app import theme
from app.itemsmodel import ItemsModel, Role
from app.model import Item, ItemState
from app.render import draw_upright
from app.thumbnails import ThumbnailService, ThumbRequest

ModelIndex = QModelIndex | QPersistentModelIndex
#: Finished cards kept ready to draw (about 180 kB each at the default size).
CARD_CACHE_ITEMS = 320
#: Time one paint pass may spend drawing new cards; the rest are drawn on the next pass.
PAINT_BUDGET_S = 0.012


def angle_text(angle: float) -> str:
    """``+2.3°``, ``-90°``, ``+0.05°``: short, with a sign."""
    if abs(angle) < 0.005:
        return "0°"
    if abs(angle - round(angle)) < 0.005:
        return f"{angle:+.0f}°"
    if abs(angle) < 1:
        return f"{angle:+.2f}°"
    return f"{angle:+.1f}°"


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints one item as a card: the upright thumbnail, badges, name and state."""

    def __init__(
        self, thumbnails: ThumbnailService, size: int = 176, compact: bool = False, parent: QWidget | None = None
    ) -> None:
        """Draw thumbnails of ``size`` pixels; ``compact`` drops the text lines (filmstrip)."""
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.size = size
        self.compact = compact
        self.threshold = 0.85
        self._font = QFont()
        self._small = QFont()
        self._small.setPointSizeF(max(7.0, self._font.pointSizeF() * 0.82))
        self._bold_small = QFont(self._small)
        self._bold_small.setBold(True)
        self._cards: OrderedDict[tuple[object, ...], QPixmap] = OrderedDict()
        self._last_card: dict[str, QPixmap] = {}
        self._pass_start = time.perf_counter()
        self.deferred = False

    def sizeHint(self, option: QStyleOptionViewItem, index: ModelIndex) -> QSize:  # noqa: N802 - Qt API
        """Every cell has the same size."""
        if self.compact:
            return QSize(self.size + 10, self.size + 10)
        return QSize(self.size + 18, self.size + 56)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        """Draw the card from a cache of finished cards (drawing one is costly, drawing a pixmap is not)."""
        item: Item | None = index.data(Role.ITEM)
        if item is None:
            return
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hover = bool(option.state & QStyle.StateFlag.State_MouseOver)
        image = self.thumbnails.image(item.key)
        error = self.thumbnails.error(item.key) if image is None else None
        if image is None and error is None:
            self.thumbnails.request(ThumbRequest(item.key, item.input_item, item.mtime_ns, item.size))
        size = option.rect.size()
        ratio = painter.device().devicePixelRatioF() if painter.device() is not None else 1.0
        key = (
            item.key, image.cacheKey() if image is not None else error, item.correction, item.state,
            item.confidence, item.kind, item.error, item.user is not None, selected, hover,
            size.width(), size.height(), self.size, self.threshold, ratio,
        )
        card = self._cards.get(key)
        if card is None and self._over_budget():
            self.deferred = True  # drawn on a later pass, so one paint never blocks the UI for long
            stale = self._last_card.get(item.key)
            if stale is not None:
                painter.drawPixmap(option.rect.topLeft(), stale)
            else:
                painter.fillRect(QRectF(option.rect).adjusted(3, 3, -3, -3), theme.CARD)
            return
        if card is None:
            card = QPixmap(max(1, round(size.width() * ratio)), max(1, round(size.height() * ratio)))
            card.setDevicePixelRatio(ratio)
            card.fill(Qt.GlobalColor.transparent)
            target = QPainter(card)
            self._paint_card(target, item, image, error is not None, QRectF(0, 0, size.width(), size.height()),
                             selected, hover)
            target.end()
            self._cards[key] = card
            while len(self._cards) > CARD_CACHE_ITEMS:
                self._cards.popitem(last=False)
        else:
            self._cards.move_to_end(key)
        self._last_card[item.key] = card
        if len(self._last_card) > CARD_CACHE_ITEMS:
            self._last_card.pop(next(iter(self._last_card)))
        painter.drawPixmap(option.rect.topLeft(), card)

    def begin_pass(self) -> None:
        """A view starts painting: new cards may take :data:`PAINT_BUDGET_S` of this pass."""
        self._pass_start = time.perf_counter()
        self.deferred = False

    def _over_budget(self) -> bool:
        return time.perf_counter() - self._pass_start > PAINT_BUDGET_S

    def _paint_card(
        self, painter: QPainter, item: Item, image: QImage | None, broken: bool, cell: QRectF, selected: bool,
        hover: bool,
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        rect = cell.adjusted(3, 3, -3, -3)
        state = item.state
        low = item.confidence is not None and item.confidence < self.threshold and state in (
            ItemState.PREDICTED, ItemState.ADJUSTED,
        )
        card = QPainterPath()
        card.addRoundedRect(rect, 9, 9)
        background = QColor("#2f3540") if selected else (theme.CARD_HOVER if hover else theme.CARD)
        painter.fillPath(card, background)
        if selected:
            painter.setPen(QPen(theme.ACCENT, 2.0))
            painter.drawPath(card)
        elif low:
            painter.setPen(QPen(theme.confidence_colour(item.confidence, self.threshold), 1.6))
            painter.drawPath(card)
        pad = 5.0 if self.compact else 8.0
        image_rect = QRectF(rect.left() + pad, rect.top() + pad, rect.width() - 2 * pad, self.size - 2 * pad + 4)
        if self.compact:
            image_rect.setHeight(rect.height() - 2 * pad)
        if image is None:
            self._paint_placeholder(painter, image_rect, broken or state == ItemState.ERROR)
        else:
            correction = item.correction
            drawn = draw_upright(painter, image, image_rect, correction.angle, correction.mirrored, upscale=True)
            if state == ItemState.REJECTED:
                painter.fillRect(drawn, QColor(27, 29, 33, 130))
        self._paint_badges(painter, item, image_rect)
        if not self.compact:
            self._paint_text(painter, item, QRectF(rect.left() + 10, image_rect.bottom() + 6, rect.width() - 20, 40))

    def _paint_placeholder(self, painter: QPainter, rect: QRectF, broken: bool) -> None:
        inner = rect.adjusted(rect.width() * 0.22, rect.height() * 0.18, -rect.width() * 0.22, -rect.height() * 0.18)
        path = QPainterPath()
        path.addRoundedRect(inner, 6, 6)
        painter.fillPath(path, QColor("#24272c"))
        glyph = theme.icon("alert" if broken else "image")
        side = min(inner.width(), inner.height()) * 0.4
        glyph_rect = QRect(
            int(inner.center().x() - side / 2), int(inner.center().y() - side / 2), int(side), int(side)
        )
        painter.setOpacity(0.9 if broken else 0.35)
        glyph.paint(painter, glyph_rect)
        painter.setOpacity(1.0)

    def _pill(self, painter: QPainter, anchor: QPointF, text: str, fg: QColor, bg: QColor, right: bool) -> QRectF:
        painter.setFont(self._bold_small)
        metrics = QFontMetrics(self._bold_small)
        width = metrics.horizontalAdvance(text) + 12
        height = metrics.height() + 4
        left = anchor.x() - width if right else anchor.x()
        pill = QRectF(left, anchor.y() - height, width, height)
        path = QPainterPath()
        path.addRoundedRect(pill, height / 2, height / 2)
        painter.fillPath(path, bg)
        painter.setPen(fg)
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, text)
        return pill

    def _paint_badges(self, painter: QPainter, item: Item, rect: QRectF) -> None:
        state = item.state
        bottom = rect.bottom() - 4
        if state != ItemState.ERROR and (item.predicted is not None or item.user is not None):
            correction = item.correction
            text = angle_text(correction.angle) + ("  ⇋" if correction.mirrored else "")
            colour = theme.STATE_COLOURS[ItemState.ADJUSTED] if item.user is not None else theme.TEXT
            self._pill(painter, QPointF(rect.left() + 4, bottom), text, colour, QColor(12, 13, 16, 200), right=False)
        if item.confidence is not None and state != ItemState.ERROR and not self.compact:
            colour = theme.confidence_colour(item.confidence, self.threshold)
            bg = QColor(colour)
            bg.setAlpha(60)
            dark = QColor(12, 13, 16, 200)
            pill_text = theme.confidence_text(item.confidence)
            pill = self._pill(painter, QPointF(rect.right() - 4, bottom), pill_text, colour, dark, right=True)
            path = QPainterPath()
            path.addRoundedRect(pill, pill.height() / 2, pill.height() / 2)
            painter.fillPath(path, bg)
        self._paint_state_mark(painter, state, QPointF(rect.right() - 12, rect.top() + 12))

    def _paint_state_mark(self, painter: QPainter, state: ItemState, centre: QPointF) -> None:
        radius = 9.0 if not self.compact else 7.0
        colour = theme.STATE_COLOURS[state]
        if state == ItemState.PREDICTED:
            return
        if state == ItemState.PENDING:
            painter.setPen(QPen(QColor(210, 214, 220, 150), 2.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            box = QRectF(centre.x() - radius + 2, centre.y() - radius + 2, 2 * radius - 4, 2 * radius - 4)
            painter.drawArc(box, 90 * 16, -270 * 16)
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(centre, radius, radius)
        pen = QPen(QColor("#101215"), 2.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        x, y, r = centre.x(), centre.y(), radius * 0.45
        path = QPainterPath()
        if state in (ItemState.ACCEPTED,):
            path.moveTo(x - r, y)
            path.lineTo(x - r * 0.2, y + r * 0.8)
            path.lineTo(x + r, y - r * 0.7)
        elif state == ItemState.REJECTED:
            path.moveTo(x - r * 0.8, y - r * 0.8)
            path.lineTo(x + r * 0.8, y + r * 0.8)
            path.moveTo(x + r * 0.8, y - r * 0.8)
            path.lineTo(x - r * 0.8, y + r * 0.8)
        elif state == ItemState.ADJUSTED:
            path.addEllipse(QPointF(x, y), r * 0.45, r * 0.45)
            path.moveTo(x - r, y + r)
            path.lineTo(x - r * 0.2, y + r * 0.2)
        elif state == ItemState.EXPORTED:
            path.moveTo(x, y - r)
            path.lineTo(x, y + r * 0.6)
            path.moveTo(x - r * 0.7, y)
            path.lineTo(x, y + r * 0.7)
            path.lineTo(x + r * 0.7, y)
        elif state == ItemState.ERROR:
            path.moveTo(x, y - r)
            path.lineTo(x, y + r * 0.2)
            path.moveTo(x, y + r * 0.85)
            path.lineTo(x, y + r * 0.9)
        painter.drawPath(path)

    def _paint_text(self, painter: QPainter, item: Item, rect: QRectF) -> None:
        metrics = QFontMetrics(self._font)
        painter.setFont(self._font)
        painter.setPen(theme.TEXT)
        name = metrics.elidedText(item.name, Qt.TextElideMode.ElideMiddle, int(rect.width()))
        name_rect = QRectF(rect.left(), rect.top(), rect.width(), metrics.height() + 3)
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft, name)
        state = item.state
        painter.setFont(self._small)
        small = QFontMetrics(self._small)
        y = rect.top() + metrics.height() + 2
        dot = QPointF(rect.left() + 4, y + small.height() / 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.STATE_COLOURS[state])
        painter.drawEllipse(dot, 3.5, 3.5)
        painter.setPen(theme.MUTED)
        label = theme.STATE_LABELS[state]
        if state == ItemState.ERROR and item.error:
            label = item.error
        elif item.kind in ("document", "photo") and state != ItemState.PENDING:
            label += f" · {item.kind}"
        label = small.elidedText(label, Qt.TextElideMode.ElideRight, int(rect.width() - 14))
        label_rect = QRectF(rect.left() + 13, y, rect.width() - 13, small.height() + 2)
        painter.drawText(label_rect, Qt.AlignmentFlag.AlignLeft, label)


class GridView(QListView):
    """The thumbnail grid."""

    activated_key = Signal(str)

    def __init__(self, delegate: ThumbnailDelegate, parent: QWidget | None = None) -> None:
        """A wrapping icon grid that uses ``delegate``."""
        super().__init__(parent)
        self.setObjectName("grid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(400)
        self.setSpacing(6)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setMouseTracking(True)
        self.setItemDelegate(delegate)
        self.delegate = delegate
        self.empty_text = "No images match this filter"
        self.doubleClicked.connect(self._on_double_clicked)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        """Paint within a time budget; come back for cards left undrawn; say so when nothing matches."""
        paint_in_slices(self, self.delegate, event)
        if self.model() is not None and self.model().rowCount() == 0:
            painter = QPainter(self.viewport())
            painter.setPen(theme.MUTED)
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            painter.end()

    def _on_double_clicked(self, index: QModelIndex) -> None:
        key = index.data(Role.KEY)
        if key:
            self.activated_key.emit(key)

    def visible_keys(self, limit: int = 200) -> list[str]:
        """Keys of the items currently on screen, top-left first."""
        model = self.model()
        if not isinstance(model, ItemsModel) or model.rowCount() == 0:
            return []
        viewport = self.viewport().rect()
        first = self.indexAt(QPoint(self.spacing() + 4, self.spacing() + 4))
        start = first.row() if first.isValid() else self._first_visible_row(model, viewport)
        keys = []
        for row in range(max(0, start), model.rowCount()):
            rect = self.visualRect(model.index(row, 0))
            if rect.top() > viewport.bottom():
                break
            if rect.intersects(viewport):
                key = model.key_at(row)
                if key:
                    keys.append(key)
            if len(keys) >= limit:
                break
        return keys

    def _first_visible_row(self, model: ItemsModel, viewport: QRect) -> int:
        low, high = 0, model.rowCount() - 1
        while low < high:
            mid = (low + high) // 2
            if self.visualRect(model.index(mid, 0)).bottom() < viewport.top():
                low = mid + 1
            else:
                high = mid
        return low


class Filmstrip(QListView):
    """A one-row strip of small thumbnails under the detail view, sharing the grid's model and selection."""

    def __init__(self, delegate: ThumbnailDelegate, parent: QWidget | None = None) -> None:
        """A horizontal strip that uses ``delegate`` (compact)."""
        super().__init__(parent)
        self.setObjectName("filmstrip")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSpacing(2)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setItemDelegate(delegate)
        self.delegate = delegate
        self.setFixedHeight(delegate.size + 30)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        """Paint within a time budget."""
        paint_in_slices(self, self.delegate, event)


def paint_in_slices(view: QListView, delegate: ThumbnailDelegate, event: QPaintEvent) -> None:
    """Let ``view`` paint; if its delegate ran out of time, paint again on the next turn of the event loop."""
    delegate.begin_pass()
    QListView.paintEvent(view, event)
    if delegate.deferred:
        QTimer.singleShot(0, view.viewport().update)
