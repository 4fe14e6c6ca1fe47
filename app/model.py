"""The review session: items, their states, the user's corrections, undo/redo and persistence.

Plain Python with no Qt, so it is testable on its own.  The Qt list model in
:mod:`app.itemsmodel` is a thin view over a :class:`Session`.

An item's *state* is derived from what is known about it:

* ``error``: it could not be read or predicted;
* ``exported``: a corrected copy was written with its current correction;
* ``accepted`` / ``rejected``: the user's decision;
* ``adjusted``: the user changed the correction but has not decided yet;
* ``predicted``: the model's answer, untouched;
* ``pending``: nothing known yet.

Only the user's part (correction override and decision) is undoable; predictions
and exports are facts that undo does not erase.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from rotbgr_core.geometry import normalize_angle
from rotbgr_core.imageio import InputItem
from rotbgr_core.types import Failure, Prediction

#: Version of the session file format.
SESSION_SCHEMA = 1
#: Consecutive edits with the same tag on the same items merge into one undo step within this many seconds.
MERGE_WINDOW_S = 2.0


class ItemState(StrEnum):
    """Where an item stands in the review."""

    PENDING = "pending"
    PREDICTED = "predicted"
    ADJUSTED = "adjusted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPORTED = "exported"
    ERROR = "error"


class Decision(StrEnum):
    """The user's verdict on an item."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


class SortKey(StrEnum):
    """Orders of the grid."""

    NAME = "name"
    CONFIDENCE = "confidence"
    ANGLE = "angle"
    STATE = "state"


class ItemFilter(StrEnum):
    """Subsets of the grid."""

    ALL = "all"
    TO_REVIEW = "to_review"
    LOW_CONFIDENCE = "low_confidence"
    PENDING = "pending"
    PREDICTED = "predicted"
    ADJUSTED = "adjusted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPORTED = "exported"
    ERROR = "error"


@dataclass(frozen=True)
class Correction:
    """A correction in the SPEC's convention: rotate ccw by ``angle``, then mirror."""

    angle: float = 0.0
    mirrored: bool = False

    def normalized(self) -> Correction:
        """The same correction with the angle in [-180, 180) and float noise removed."""
        angle = round(normalize_angle(self.angle), 6)
        return Correction(0.0 if angle == 0 else angle, bool(self.mirrored))

    @property
    def is_identity(self) -> bool:
        """Whether nothing changes."""
        return abs(self.angle) < 1e-9 and not self.mirrored

    def to_json(self) -> list[Any]:
        """Compact JSON form ``[angle, mirrored]``."""
        return [self.angle, self.mirrored]

    @staticmethod
    def from_json(value: Any) -> Correction | None:
        """Parse :meth:`to_json` output; ``None`` stays ``None``."""
        if value is None:
            return None
        angle, mirrored = value
        return Correction(float(angle), bool(mirrored)).normalized()


@dataclass
class Item:
    """One image to review: a file, or one page of a PDF or multi-page TIFF."""

    key: str
    file: str
    page: int | None = None
    page_count: int = 1
    mtime_ns: int = 0
    size: int = 0
    predicted: Correction | None = None
    confidence: float | None = None
    kind: str = "unknown"
    error: str | None = None
    user: Correction | None = None
    decision: Decision | None = None
    exported: Correction | None = None
    output: str | None = None

    @property
    def name(self) -> str:
        """Short display name: the file name, plus the page for paged files."""
        base = Path(self.file).name
        return base if self.page is None else f"{base} · p{self.page}"

    @property
    def correction(self) -> Correction:
        """The correction that export will apply: the user's, else the prediction, else none."""
        if self.user is not None:
            return self.user
        if self.predicted is not None:
            return self.predicted
        return Correction()

    @property
    def state(self) -> ItemState:
        """The derived review state (see the module docstring)."""
        if self.error is not None and self.predicted is None:
            return ItemState.ERROR
        if self.exported is not None and self.exported == self.correction and self.decision != Decision.REJECTED:
            return ItemState.EXPORTED
        if self.decision == Decision.ACCEPTED:
            return ItemState.ACCEPTED
        if self.decision == Decision.REJECTED:
            return ItemState.REJECTED
        if self.user is not None:
            return ItemState.ADJUSTED
        if self.predicted is not None:
            return ItemState.PREDICTED
        return ItemState.PENDING

    @property
    def input_item(self) -> InputItem:
        """The core's description of this item, for decoding and export."""
        return InputItem(self.file, self.page, self.page_count)

    @property
    def reviewed(self) -> bool:
        """Whether a person touched this item (adjusted or decided)."""
        return self.user is not None or self.decision is not None

    def needs_prediction(self) -> bool:
        """Whether the model should (re)predict this item."""
        return self.predicted is None

    def snapshot(self) -> Snapshot:
        """The undoable part of the item."""
        return Snapshot(self.user, self.decision)

    def restore(self, snap: Snapshot) -> None:
        """Put back an undoable part."""
        self.user = snap.user
        self.decision = snap.decision

    def to_json(self) -> dict[str, Any]:
        """Session-file form of the item."""
        return {
            "key": self.key,
            "file": self.file,
            "page": self.page,
            "page_count": self.page_count,
            "mtime_ns": self.mtime_ns,
            "size": self.size,
            "predicted": self.predicted.to_json() if self.predicted else None,
            "confidence": self.confidence,
            "kind": self.kind,
            "error": self.error,
            "user": self.user.to_json() if self.user else None,
            "decision": str(self.decision) if self.decision else None,
            "exported": self.exported.to_json() if self.exported else None,
            "output": self.output,
        }

    def apply_saved(self, saved: dict[str, Any]) -> None:
        """Restore what a session file knew about this item.

        The user's work (override, decision) always comes back.  The prediction
        and the export record come back only if the file is unchanged (same
        modification time and size); errors are not restored, so they are retried.
        """
        self.user = Correction.from_json(saved.get("user"))
        decision = saved.get("decision")
        self.decision = Decision(decision) if decision in ("accepted", "rejected") else None
        unchanged = saved.get("mtime_ns") == self.mtime_ns and saved.get("size") == self.size
        if unchanged and saved.get("predicted") is not None:
            self.predicted = Correction.from_json(saved["predicted"])
            confidence = saved.get("confidence")
            self.confidence = float(confidence) if confidence is not None else None
            self.kind = str(saved.get("kind") or "unknown")
        if unchanged and saved.get("exported") is not None:
            self.exported = Correction.from_json(saved["exported"])
            self.output = saved.get("output")


@dataclass(frozen=True)
class Snapshot:
    """The undoable part of an item: the user's correction override and decision."""

    user: Correction | None
    decision: Decision | None


@dataclass
class Command:
    """One undo step: the before and after snapshots of the items it touched."""

    text: str
    before: dict[str, Snapshot]
    after: dict[str, Snapshot]
    tag: str | None = None
    stamp: float = field(default_factory=time.monotonic)


Listener = Callable[[set[str]], None]


class Session:
    """The items of one folder and everything decided about them.

    Every change notifies the listeners with the set of keys that changed, and
    bumps :attr:`revision` (used to know when to save).
    """

    def __init__(self, folder: str) -> None:
        """An empty session for ``folder``."""
        self.folder = folder
        self.items: list[Item] = []
        self._index: dict[str, int] = {}
        self._undo: list[Command] = []
        self._redo: list[Command] = []
        self._listeners: list[Listener] = []
        self.revision = 0
        self.clock: Callable[[], float] = time.monotonic

    # -- items ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def get(self, key: str) -> Item:
        """The item with ``key`` (KeyError if none)."""
        return self.items[self._index[key]]

    def position(self, key: str) -> int:
        """Index of ``key`` in :attr:`items`."""
        return self._index[key]

    def add_items(self, items: Iterable[Item], saved: dict[str, dict[str, Any]] | None = None) -> list[Item]:
        """Append new items (duplicates ignored), restoring saved state where known."""
        added = []
        for item in items:
            if item.key in self._index:
                continue
            if saved and item.key in saved:
                item.apply_saved(saved[item.key])
            self._index[item.key] = len(self.items)
            self.items.append(item)
            added.append(item)
        if added:
            self._changed({item.key for item in added})
        return added

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(keys)`` after every change."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self, keys: set[str]) -> None:
        self.revision += 1
        for listener in list(self._listeners):
            listener(keys)

    # -- facts (not undoable) ------------------------------------------------

    def set_results(self, results: Sequence[tuple[str, Prediction | Failure]]) -> set[str]:
        """Record model results; returns the keys that changed."""
        keys = set()
        for key, result in results:
            if key not in self._index:
                continue
            item = self.get(key)
            if isinstance(result, Prediction):
                item.predicted = Correction(result.angle, result.mirrored).normalized()
                item.confidence = float(result.confidence)
                item.kind = result.kind
                item.error = None
            else:
                item.error = result.error
            keys.add(key)
        if keys:
            self._changed(keys)
        return keys

    def mark_exported(self, key: str, correction: Correction, output: str) -> None:
        """Record that ``key`` was written to ``output`` with ``correction``."""
        if key not in self._index:
            return
        item = self.get(key)
        item.exported = correction
        item.output = output
        self._changed({key})

    # -- user edits (undoable) -----------------------------------------------

    def _edit(
        self,
        keys: Sequence[str],
        text: str,
        change: Callable[[Item], None],
        tag: str | None = None,
    ) -> set[str]:
        keys = [k for k in dict.fromkeys(keys) if k in self._index]
        editable = ("Accept", "Reject", "Clear decision")  # an unreadable item can still be decided on
        targets = [self.get(k) for k in keys if self.get(k).state != ItemState.ERROR or text in editable]
        if not targets:
            return set()
        before = {item.key: item.snapshot() for item in targets}
        for item in targets:
            change(item)
            if item.user is not None:
                item.user = item.user.normalized()
        after = {item.key: item.snapshot() for item in targets}
        changed = {k for k in before if before[k] != after[k]}
        if not changed:
            return set()
        now = self.clock()
        last = self._undo[-1] if self._undo else None
        if (
            tag is not None
            and last is not None
            and last.tag == tag
            and not self._redo
            and set(last.after) == set(after)
            and now - last.stamp <= MERGE_WINDOW_S
        ):
            last.after = after
            last.stamp = now
        else:
            self._undo.append(Command(text, before, after, tag, now))
        self._redo.clear()
        self._changed(changed)
        return changed

    def set_correction(self, keys: Sequence[str], correction: Correction, tag: str | None = None) -> set[str]:
        """Set the user's correction of ``keys``; clears any decision (the item needs a new look)."""

        def change(item: Item) -> None:
            item.user = correction
            item.decision = None

        return self._edit(keys, "Set angle", change, tag)

    def set_angle(self, keys: Sequence[str], angle: float, tag: str | None = "angle") -> set[str]:
        """Set the angle, keeping each item's mirror flag."""

        def change(item: Item) -> None:
            item.user = Correction(angle, item.correction.mirrored)
            item.decision = None

        return self._edit(keys, f"Set angle to {angle:.2f}°", change, tag)

    def nudge(self, keys: Sequence[str], delta: float) -> set[str]:
        """Add ``delta`` degrees to the angle (consecutive nudges undo as one step)."""

        def change(item: Item) -> None:
            current = item.correction
            item.user = Correction(current.angle + delta, current.mirrored)
            item.decision = None

        return self._edit(keys, "Fine-tune angle", change, tag="nudge")

    def rotate_quarter(self, keys: Sequence[str], turns: int) -> set[str]:
        """Turn the corrected image by ``turns`` quarter turns counter-clockwise (negative: clockwise)."""

        def change(item: Item) -> None:
            current = item.correction
            item.user = Correction(current.angle + 90.0 * turns, current.mirrored)
            item.decision = None

        return self._edit(keys, "Rotate 90°" if turns > 0 else "Rotate -90°", change)

    def toggle_mirror(self, keys: Sequence[str]) -> set[str]:
        """Flip the mirror flag."""

        def change(item: Item) -> None:
            current = item.correction
            item.user = Correction(current.angle, not current.mirrored)
            item.decision = None

        return self._edit(keys, "Toggle mirror", change)

    def reset(self, keys: Sequence[str]) -> set[str]:
        """Drop the user's correction and decision: back to the prediction."""

        def change(item: Item) -> None:
            item.user = None
            item.decision = None

        return self._edit(keys, "Reset to prediction", change)

    def accept(self, keys: Sequence[str]) -> set[str]:
        """Accept the current correction."""

        def change(item: Item) -> None:
            item.decision = Decision.ACCEPTED

        return self._edit(keys, "Accept", change)

    def reject(self, keys: Sequence[str]) -> set[str]:
        """Reject: the item will not be exported as accepted."""

        def change(item: Item) -> None:
            item.decision = Decision.REJECTED

        return self._edit(keys, "Reject", change)

    def clear_decision(self, keys: Sequence[str]) -> set[str]:
        """Undecide (back to predicted or adjusted)."""

        def change(item: Item) -> None:
            item.decision = None

        return self._edit(keys, "Clear decision", change)

    # -- undo / redo -----------------------------------------------------------

    @property
    def can_undo(self) -> bool:
        """Whether there is something to undo."""
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        """Whether there is something to redo."""
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        """What undo would undo."""
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        """What redo would redo."""
        return self._redo[-1].text if self._redo else ""

    def undo(self) -> set[str]:
        """Undo the last edit; returns the keys it touched."""
        if not self._undo:
            return set()
        command = self._undo.pop()
        self._redo.append(command)
        return self._restore(command.before)

    def redo(self) -> set[str]:
        """Redo the last undone edit; returns the keys it touched."""
        if not self._redo:
            return set()
        command = self._redo.pop()
        command.tag = None  # a redone step never merges with what follows
        self._undo.append(command)
        return self._restore(command.after)

    def _restore(self, snapshots: dict[str, Snapshot]) -> set[str]:
        """Put items back to ``snapshots`` (of an undo step) and announce the change."""
        for key, snap in snapshots.items():
            if key in self._index:
                self.get(key).restore(snap)
        keys = set(snapshots)
        self._changed(keys)
        return keys

    # -- queries ---------------------------------------------------------------

    def counts(self) -> dict[ItemState, int]:
        """How many items are in each state."""
        result = dict.fromkeys(ItemState, 0)
        for item in self.items:
            result[item.state] += 1
        return result

    def to_json(self) -> dict[str, Any]:
        """Session-file form."""
        return {
            "schema": SESSION_SCHEMA,
            "folder": self.folder,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "items": [item.to_json() for item in self.items],
        }


# -- ordering and filtering ------------------------------------------------------

_STATE_ORDER = {state: i for i, state in enumerate(ItemState)}


def correction_size(correction: Correction) -> float:
    """How far a correction is from doing nothing, in degrees (a mirror counts as 180)."""
    return abs(normalize_angle(correction.angle)) + (180.0 if correction.mirrored else 0.0)


def matches(item: Item, item_filter: ItemFilter, threshold: float) -> bool:
    """Whether ``item`` belongs to ``item_filter``."""
    state = item.state
    if item_filter == ItemFilter.ALL:
        return True
    if item_filter == ItemFilter.TO_REVIEW:
        return state in (ItemState.PENDING, ItemState.PREDICTED, ItemState.ADJUSTED)
    if item_filter == ItemFilter.LOW_CONFIDENCE:
        return item.confidence is not None and item.confidence < threshold
    return state.value == item_filter.value


def view_order(
    items: Sequence[Item],
    sort: SortKey = SortKey.NAME,
    item_filter: ItemFilter = ItemFilter.ALL,
    threshold: float = 0.85,
    text: str = "",
) -> list[int]:
    """Indices of ``items`` that pass the filter and the text search, in display order.

    ``CONFIDENCE`` puts the lowest confidence first, then items not predicted yet,
    then errors; ``ANGLE`` puts the largest correction first.  Ties keep file order.
    """
    needle = text.casefold().strip()
    chosen = [
        i for i, item in enumerate(items)
        if matches(item, item_filter, threshold) and (not needle or needle in item.key.casefold())
    ]
    if sort == SortKey.CONFIDENCE:

        def confidence_key(i: int) -> tuple[int, float, int]:
            item = items[i]
            if item.state == ItemState.ERROR:
                return (2, 0.0, i)
            if item.confidence is None:
                return (1, 0.0, i)
            return (0, item.confidence, i)

        chosen.sort(key=confidence_key)
    elif sort == SortKey.ANGLE:
        chosen.sort(key=lambda i: (-correction_size(items[i].correction), i))
    elif sort == SortKey.STATE:
        chosen.sort(key=lambda i: (_STATE_ORDER[items[i].state], i))
    return chosen


# -- drawing a level line ------------------------------------------------------------


def angle_from_line(
    start: tuple[float, float],
    end: tuple[float, float],
    vertical: bool,
    current: float,
) -> float | None:
    """The correction that makes a line drawn on the *input* image horizontal (or vertical).

    ``start`` and ``end`` are input-image pixel coordinates (y down).  Of the two
    corrections that level the line, the one closest to ``current`` is returned,
    so the coarse orientation the user already has is kept.  ``None`` for a line
    too short to mean anything.  The mirror flag does not change horizontality.
    """
    dx, dy = end[0] - start[0], end[1] - start[1]
    if math.hypot(dx, dy) < 3.0:
        return None
    theta = math.degrees(math.atan2(-dy, dx))  # counter-clockwise from the x axis, as displayed
    target = 90.0 if vertical else 0.0
    base = target - theta
    best = min(
        (base + 180.0 * k for k in range(-3, 4)),
        key=lambda a: abs(normalize_angle(a - current)),
    )
    return round(normalize_angle(best), 6)


# -- decisions as data ------------------------------------------------------------------

DECISION_FIELDS = (
    "path", "angle", "mirrored", "confidence", "error",
    "state", "final_angle", "final_mirrored", "kind", "output",
)


def decision_record(item: Item) -> dict[str, Any]:
    """The SPEC's predict fields plus the review state and the user's final correction."""
    final = item.correction
    predicted = item.predicted
    return {
        "path": item.key,
        "angle": round(predicted.angle, 3) if predicted else None,
        "mirrored": predicted.mirrored if predicted else None,
        "confidence": round(item.confidence, 4) if item.confidence is not None and predicted else None,
        "error": item.error if predicted is None else None,
        "state": str(item.state),
        "final_angle": round(final.angle, 3) if item.state != ItemState.ERROR else None,
        "final_mirrored": final.mirrored if item.state != ItemState.ERROR else None,
        "kind": item.kind,
        "output": item.output,
    }


def write_decisions(items: Iterable[Item], path: Path, fmt: str = "jsonl") -> int:
    """Write one decision record per item as ``jsonl`` or ``csv`` (atomically); returns the count."""
    records = [decision_record(item) for item in items]
    if fmt == "csv":
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=DECISION_FIELDS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
        text = buffer.getvalue()
    elif fmt == "jsonl":
        text = "".join(json.dumps(record) + "\n" for record in records)
    else:
        raise ValueError(f"unknown format {fmt!r}: use csv or jsonl")
    atomic_write_text(path, text)
    return len(records)


# -- persistence -------------------------------------------------------------------------


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="surrogateescape") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        Path(temp).replace(path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def folder_key(folder: str) -> str:
    """A stable file-name-safe key for a folder (its resolved path, hashed)."""
    resolved = os.fsencode(str(Path(folder).resolve()))
    return hashlib.sha256(resolved).hexdigest()[:24]


class SessionStore:
    """Session files in the app's data folder, one per opened folder, never beside the user's files."""

    def __init__(self, root: Path) -> None:
        """Keep sessions under ``root``."""
        self.root = root

    def path_for(self, folder: str) -> Path:
        """The session file of ``folder``."""
        return self.root / f"{folder_key(folder)}.json"

    def load(self, folder: str) -> dict[str, dict[str, Any]]:
        """Saved items of ``folder`` by key; empty when none or unreadable (a bad file is set aside)."""
        path = self.path_for(folder)
        try:
            data = json.loads(path.read_text(encoding="utf-8", errors="surrogateescape"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            path.replace(path.with_suffix(".corrupt.json"))
            return {}
        if not isinstance(data, dict) or data.get("schema") != SESSION_SCHEMA:
            return {}
        return {entry["key"]: entry for entry in data.get("items", []) if isinstance(entry, dict) and "key" in entry}

    def save(self, session: Session) -> Path:
        """Write the session atomically; returns its path."""
        return self.write(session.folder, session.to_json())

    def write(self, folder: str, data: dict[str, Any]) -> Path:
        """Write session data (from :meth:`Session.to_json`) for ``folder`` atomically; safe in any thread."""
        path = self.path_for(folder)
        atomic_write_text(path, json.dumps(data, ensure_ascii=False))
        return path
