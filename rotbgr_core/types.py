"""Typed results shared by the library, the CLI, the server and the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Estimate:
    """What a predictor says about one decoded image, before it has a path."""

    angle: float
    mirrored: bool
    confidence: float
    kind: str = "unknown"


@dataclass(frozen=True)
class Prediction:
    """A successful prediction for one input item (a file, or a page of one)."""

    path: str
    angle: float
    mirrored: bool
    confidence: float
    kind: str = "unknown"

    @property
    def ok(self) -> bool:
        """Always true: this item was predicted."""
        return True

    def to_record(self) -> dict[str, Any]:
        """The SPEC's JSON fields for ``rotbgr predict``."""
        return {
            "path": self.path,
            "angle": round(self.angle, 3),
            "mirrored": self.mirrored,
            "confidence": round(self.confidence, 4),
            "error": None,
        }


@dataclass(frozen=True)
class Failure:
    """An input item that could not be read or predicted, with a clear reason."""

    path: str
    error: str

    @property
    def ok(self) -> bool:
        """Always false: this item failed."""
        return False

    def to_record(self) -> dict[str, Any]:
        """The SPEC's JSON fields for an unreadable input."""
        return {
            "path": self.path,
            "angle": None,
            "mirrored": None,
            "confidence": None,
            "error": self.error,
        }


ItemResult = Prediction | Failure
