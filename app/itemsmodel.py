"""The Qt list model: a sorted, filtered view of a :class:`app.model.Session`.

The order is computed by :func:`app.model.view_order` and only recomputed when
asked (:meth:`ItemsModel.refresh`), so the grid does not reshuffle under the
user while predictions stream in.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from app import theme
from app.model import Item, ItemFilter, ItemState, Session, SortKey, matches, view_order

ModelIndex = QModelIndex | QPersistentModelIndex


class Role(IntEnum):
    """Custom data roles."""

    KEY = Qt.ItemDataRole.UserRole + 1
    ITEM = Qt.ItemDataRole.UserRole + 2


class ItemsModel(QAbstractListModel):
    """Rows are the session's items that pass the filter, in the chosen order."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.session: Session | None = None
        self.sort = SortKey.NAME
        self.item_filter = ItemFilter.ALL
        self.threshold = 0.85
        self.text = ""
        self._order: list[int] = []
        self._rows: dict[str, int] = {}

    # -- session -------------------------------------------------------------------

    def set_session(self, session: Session | None) -> None:
        """Show ``session`` (or nothing)."""
        if self.session is not None:
            self.session.unsubscribe(self._on_changed)
        self.beginResetModel()
        self.session = session
        self._order = []
        self._rows = {}
        if session is not None:
            session.subscribe(self._on_changed)
            self._compute()
        self.endResetModel()

    def _compute(self) -> None:
        assert self.session is not None
        self._order = view_order(self.session.items, self.sort, self.item_filter, self.threshold, self.text)
        self._rows = {self.session.items[i].key: row for row, i in enumerate(self._order)}

    def set_view(
        self,
        sort: SortKey | None = None,
        item_filter: ItemFilter | None = None,
        threshold: float | None = None,
        text: str | None = None,
    ) -> None:
        """Change the order or the filter and apply it now."""
        if sort is not None:
            self.sort = sort
        if item_filter is not None:
            self.item_filter = item_filter
        if threshold is not None:
            self.threshold = threshold
        if text is not None:
            self.text = text
        self.refresh()

    def refresh(self) -> None:
        """Re-apply order and filter, keeping selections when only the order changed."""
        if self.session is None:
            return
        old_keys = [self.session.items[i].key for i in self._order]
        new_order = view_order(self.session.items, self.sort, self.item_filter, self.threshold, self.text)
        new_keys = [self.session.items[i].key for i in new_order]
        if new_keys == old_keys:
            return
        if set(new_keys) == set(old_keys):
            self.layoutAboutToBeChanged.emit()
            persistent = self.persistentIndexList()
            persisted_keys = [old_keys[p.row()] if 0 <= p.row() < len(old_keys) else None for p in persistent]
            self._order = new_order
            self._rows = {key: row for row, key in enumerate(new_keys)}
            new_indexes = [
                self.index(self._rows[k], 0) if k is not None else QModelIndex() for k in persisted_keys
            ]
            self.changePersistentIndexList(persistent, new_indexes)
            self.layoutChanged.emit()
            return
        self.beginResetModel()
        self._order = new_order
        self._rows = {key: row for row, key in enumerate(new_keys)}
        self.endResetModel()

    def _on_changed(self, keys: set[str]) -> None:
        if self.session is None:
            return
        if any(key not in self._rows and key in self.session for key in keys) and self._new_items_visible(keys):
            if not self._append(keys):
                self.refresh()
            return
        rows = [self._rows[k] for k in keys if k in self._rows]
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), 0))

    def _append(self, keys: set[str]) -> bool:
        """Insert items added at the end of the session as rows at the end (cheaper than a reset while listing)."""
        assert self.session is not None
        if self.sort != SortKey.NAME or self.text:
            return False
        new = sorted(self.session.position(k) for k in keys if k not in self._rows and k in self.session)
        if not new or (self._order and new[0] < self._order[-1]):
            return False
        shown = [i for i in new if matches(self.session.items[i], self.item_filter, self.threshold)]
        if shown:
            first = len(self._order)
            self.beginInsertRows(QModelIndex(), first, first + len(shown) - 1)
            for i in shown:
                self._rows[self.session.items[i].key] = len(self._order)
                self._order.append(i)
            self.endInsertRows()
        return True

    def _new_items_visible(self, keys: set[str]) -> bool:
        assert self.session is not None
        for key in keys:
            if key not in self._rows and key in self.session:
                item = self.session.get(key)
                if matches(item, self.item_filter, self.threshold):
                    return True
        return False

    def touch(self, key: str) -> None:
        """Repaint the row of ``key`` (e.g. its thumbnail arrived)."""
        row = self._rows.get(key)
        if row is not None:
            index = self.index(row, 0)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    # -- lookups ---------------------------------------------------------------------

    def item_at(self, row: int) -> Item | None:
        """The item shown at ``row``."""
        if self.session is None or not 0 <= row < len(self._order):
            return None
        return self.session.items[self._order[row]]

    def key_at(self, row: int) -> str | None:
        """The key shown at ``row``."""
        item = self.item_at(row)
        return item.key if item is not None else None

    def row_of(self, key: str) -> int | None:
        """The row showing ``key``, if it is shown."""
        return self._rows.get(key)

    def index_of(self, key: str) -> QModelIndex:
        """The model index showing ``key`` (invalid if hidden)."""
        row = self._rows.get(key)
        return self.index(row, 0) if row is not None else QModelIndex()

    def keys(self) -> list[str]:
        """Keys in display order."""
        if self.session is None:
            return []
        return [self.session.items[i].key for i in self._order]

    # -- Qt API ------------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt API
        """Number of visible items."""
        return 0 if parent.isValid() else len(self._order)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Item data for the views and delegates."""
        item = self.item_at(index.row()) if index.isValid() else None
        if item is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Role.KEY:
            return item.key
        if role == Role.ITEM:
            return item
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(item)
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        """Items are selectable, not editable."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


def tooltip(item: Item) -> str:
    """A short rich-text summary of an item for hover tips."""
    lines = [f"<b>{_escape(item.name)}</b>", _escape(item.key)]
    state = item.state
    if state == ItemState.ERROR:
        lines.append(f"<span style='color:#f47067'>Error: {_escape(item.error or '')}</span>")
    else:
        if item.predicted is not None:
            lines.append(
                f"Model: {item.predicted.angle:+.2f}°{' · mirrored' if item.predicted.mirrored else ''}"
                f" · confidence {theme.confidence_text(item.confidence or 0)} · {item.kind}"
            )
        if item.user is not None:
            lines.append(f"Yours: {item.user.angle:+.2f}°{' · mirrored' if item.user.mirrored else ''}")
        lines.append(f"State: {state.value}")
        if item.output:
            lines.append(f"Exported to {_escape(item.output)}")
    return "<br>".join(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
