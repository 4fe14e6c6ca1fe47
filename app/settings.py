"""Where the app keeps its files, and the user's preferences, declared in one place.

* Preferences (device, batch size, crop defaults, threshold, thumbnail size, export
  defaults) live in ``settings.json`` in the user config folder, with a schema
  version.  Unknown keys are ignored and invalid values fall back to defaults.
* Window state (geometry, splitters, recent folders) is kept apart, in a QSettings
  INI file next to it (see :func:`window_state`).
* Sessions live in the user data folder, thumbnails in the user cache folder.

Setting ``ROTBGR_APP_HOME`` puts all three under one folder (tests use it so they
never touch the real home).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from app.model import atomic_write_text

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

APP_NAME = "rotbgr"
ENV_HOME = "ROTBGR_APP_HOME"
#: Version of ``settings.json``; bump it and add a step to :func:`_migrate` when fields change meaning.
SCHEMA_VERSION = 1

CROP_MODES = ("inscribed", "expand", "none")
DEVICES = ("auto", "cpu", "cuda")
EXPORT_FORMATS = ("keep", "jpeg", "png", "tiff", "webp")
EXPORT_NAMING = ("suffix", "tree")
EXPORT_SCOPES = ("accepted", "confidence", "selection")


@dataclass(frozen=True)
class AppPaths:
    """The app's own folders."""

    config: Path
    data: Path
    cache: Path

    @property
    def settings_file(self) -> Path:
        """User preferences."""
        return self.config / "settings.json"

    @property
    def window_file(self) -> Path:
        """Window state (QSettings, INI format)."""
        return self.config / "window.ini"

    @property
    def sessions(self) -> Path:
        """Saved review sessions, one per folder."""
        return self.data / "sessions"

    @property
    def thumbnails(self) -> Path:
        """The thumbnail cache."""
        return self.cache / "thumbnails"


def app_paths() -> AppPaths:
    """The app's folders: under ``$ROTBGR_APP_HOME`` when set, else the platform's user folders."""
    home = os.environ.get(ENV_HOME)
    if home:
        base = Path(home)
        return AppPaths(base / "config", base / "data", base / "cache")
    return AppPaths(
        platformdirs.user_config_path(APP_NAME),
        platformdirs.user_data_path(APP_NAME),
        platformdirs.user_cache_path(APP_NAME),
    )


def _choice(*options: str) -> dict[str, Any]:
    return {"choices": options}


def _range(low: float, high: float) -> dict[str, Any]:
    return {"range": (low, high)}


@dataclass
class Preferences:
    """Everything the user can set, with its default and its allowed values (in the field metadata)."""

    device: str = field(default="auto", metadata=_choice(*DEVICES))
    batch_size: int = field(default=8, metadata=_range(1, 256))
    crop_photo: str = field(default="inscribed", metadata=_choice(*CROP_MODES))
    crop_document: str = field(default="expand", metadata=_choice(*CROP_MODES))
    confidence_threshold: float = field(default=0.85, metadata=_range(0.0, 1.0))
    thumbnail_size: int = field(default=176, metadata=_range(96, 320))
    weights: str = field(default="", metadata={"text": True})
    export_dir: str = field(default="", metadata={"text": True})
    learn_folder: str = field(default="", metadata={"text": True})  # the last folder of upright pictures learnt from
    export_format: str = field(default="keep", metadata=_choice(*EXPORT_FORMATS))
    export_quality: int = field(default=0, metadata=_range(0, 100))  # 0: like the input
    export_naming: str = field(default="suffix", metadata=_choice(*EXPORT_NAMING))
    export_suffix: str = field(default="_rotated", metadata={"text": True})
    export_scope: str = field(default="accepted", metadata=_choice(*EXPORT_SCOPES))
    export_min_confidence: float = field(default=0.85, metadata=_range(0.0, 1.0))
    export_crop: str = field(default="auto", metadata=_choice("auto", *CROP_MODES))

    def crop_for(self, kind: str) -> str:
        """The default crop mode for an item of ``kind`` (documents keep the whole page)."""
        return self.crop_photo if kind == "photo" else self.crop_document

    def validated(self) -> Preferences:
        """A copy with every invalid value replaced by its default."""
        defaults = Preferences()
        values: dict[str, Any] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            default = getattr(defaults, spec.name)
            values[spec.name] = _valid(value, default, spec.metadata)
        return Preferences(**values)

    def to_json(self) -> dict[str, Any]:
        """File form, with the schema version."""
        return {"schema_version": SCHEMA_VERSION, **asdict(self)}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Preferences:
        """Parse file data, migrating older schemas and ignoring unknown keys."""
        data = _migrate(dict(data))
        known = {spec.name for spec in fields(Preferences)}
        return Preferences(**{k: v for k, v in data.items() if k in known}).validated()


def _valid(value: Any, default: Any, meta: Any) -> Any:
    if isinstance(default, bool) or not isinstance(value, type(default)) and not (
        isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
    ):
        return default
    if "choices" in meta and value not in meta["choices"]:
        return default
    if "range" in meta:
        low, high = meta["range"]
        if not low <= value <= high:
            return default
        return type(default)(value)
    return value


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring settings written by older versions up to :data:`SCHEMA_VERSION`."""
    version = data.pop("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        return {}  # written by a newer app: start from defaults rather than misread it
    return data


def load_preferences(paths: AppPaths) -> Preferences:
    """The saved preferences, or the defaults."""
    try:
        data = json.loads(paths.settings_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Preferences()
    return Preferences.from_json(data) if isinstance(data, dict) else Preferences()


def save_preferences(preferences: Preferences, paths: AppPaths) -> None:
    """Write the preferences atomically."""
    atomic_write_text(paths.settings_file, json.dumps(preferences.validated().to_json(), indent=2) + "\n")


def window_state(paths: AppPaths) -> QSettings:
    """QSettings for window geometry, splitters and recent folders (INI file in the config folder)."""
    from PySide6.QtCore import QSettings

    paths.config.mkdir(parents=True, exist_ok=True)
    return QSettings(str(paths.window_file), QSettings.Format.IniFormat)
