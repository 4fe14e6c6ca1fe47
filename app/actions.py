"""Every command of the app as a QAction, declared once: menus, buttons, shortcuts and the help overlay use them."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from app import theme


@dataclass(frozen=True)
class Spec:
    """How one action looks and is reached."""

    name: str
    text: str
    group: str
    shortcuts: tuple[str, ...] = ()
    icon: str = ""
    tip: str = ""
    checkable: bool = False


SPECS: tuple[Spec, ...] = (
    # File
    Spec("open", "&Open Folder…", "File", ("Ctrl+O",), "folder-open", "Open a folder of images"),
    Spec("open_sample", "Open &Sample Folder", "File", (), "image", "Open the bundled sample images"),
    Spec("export", "&Export Images…", "File", ("Ctrl+E",), "export", "Write corrected copies of the images"),
    Spec("export_decisions", "Export &Decisions…", "File", ("Ctrl+Shift+E",), "decisions",
         "Save every item's state and final correction as CSV or JSONL"),
    Spec("learn", "&Learn from Upright Pictures…", "File", (), "",
         "Fine-tune the model on a folder of upright pictures and your review; offered only if it does better"),
    Spec("settings", "Se&ttings…", "File", ("Ctrl+,",), "settings", "Device, batch size, crop defaults, threshold"),
    Spec("quit", "&Quit", "File", ("Ctrl+Q",), "", "Quit (your review is saved)"),
    # Review
    Spec("accept", "&Accept", "Review", ("Return", "Enter"), "accept",
         "Accept the correction and go to the next image"),
    Spec("reject", "&Reject", "Review", ("R",), "reject", "Reject this image and go to the next one"),
    Spec("clear_decision", "&Undecide", "Review", ("U",), "", "Clear the accept/reject decision"),
    Spec("undo", "&Undo", "Review", ("Ctrl+Z",), "undo", "Undo the last change"),
    Spec("redo", "Re&do", "Review", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo", "Redo what was undone"),
    Spec("select_all", "Select &All", "Review", ("Ctrl+A",), "", "Select every visible image"),
    Spec("repredict", "Predict &Again", "Review", ("Ctrl+Shift+P",), "refresh",
         "Run the model again on the selected images"),
    Spec("stop", "&Stop Predicting", "Review", (), "stop", "Stop the background predictions"),
    # Adjust
    Spec("nudge_up", "Angle +0.1°", "Adjust", ("]",), "", "Turn 0.1° counter-clockwise"),
    Spec("nudge_down", "Angle −0.1°", "Adjust", ("[",), "", "Turn 0.1° clockwise"),
    Spec("nudge_up_big", "Angle +1°", "Adjust", ("Shift+]", "}"), "", "Turn 1° counter-clockwise"),
    Spec("nudge_down_big", "Angle −1°", "Adjust", ("Shift+[", "{"), "", "Turn 1° clockwise"),
    Spec("nudge_up_fine", "Angle +0.01°", "Adjust", ("Alt+]",), "", "Turn 0.01° counter-clockwise"),
    Spec("nudge_down_fine", "Angle −0.01°", "Adjust", ("Alt+[",), "", "Turn 0.01° clockwise"),
    Spec("rotate_left", "Rotate 90° Left", "Adjust", ("Ctrl+Left",), "rotate-ccw", "Turn a quarter counter-clockwise"),
    Spec("rotate_right", "Rotate 90° Right", "Adjust", ("Ctrl+Right",), "rotate-cw", "Turn a quarter clockwise"),
    Spec("mirror", "&Mirror", "Adjust", ("M",), "mirror", "Flip left-right (toggle)", True),
    Spec("reset", "Reset to &Prediction", "Adjust", ("Backspace",), "reset", "Back to the model's answer"),
    Spec("line_h", "Draw a &Horizontal Line", "Adjust", ("H",), "line-h",
         "Drag along something that should be level", True),
    Spec("line_v", "Draw a &Vertical Line", "Adjust", ("V",), "line-v",
         "Drag along something that should be upright", True),
    # View
    Spec("view_grid", "&Grid", "View", ("G",), "grid", "Thumbnail grid"),
    Spec("view_detail", "&Detail", "View", ("E",), "compare", "Original and corrected side by side"),
    Spec("fit", "&Fit", "View", ("F",), "fit", "Fit the images in the window"),
    Spec("zoom_100", "&100%", "View", ("1",), "zoom-100", "One image pixel per screen pixel"),
    Spec("zoom_in", "Zoom &In", "View", ("+", "="), "zoom-in", "Zoom in"),
    Spec("zoom_out", "Zoom &Out", "View", ("-",), "zoom-out", "Zoom out"),
    Spec("overlay", "Level &Grid Overlay", "View", ("O",), "overlay", "Show a grid to judge straightness", True),
    Spec("bigger", "Larger Thumbnails", "View", ("Ctrl+=", "Ctrl++"), "", "Larger thumbnails"),
    Spec("smaller", "Smaller Thumbnails", "View", ("Ctrl+-",), "", "Smaller thumbnails"),
    Spec("full_screen", "Full &Screen", "View", ("F11",), "", "Full screen", True),
    # Sort & filter
    Spec("sort_name", "Sort by File &Name", "Sort & filter", ("Ctrl+1",), "", "File order", True),
    Spec("sort_confidence", "Sort by &Lowest Confidence", "Sort & filter", ("Ctrl+2",), "",
         "Least certain first: review these first", True),
    Spec("sort_angle", "Sort by Largest &Correction", "Sort & filter", ("Ctrl+3",), "", "Biggest turns first", True),
    Spec("sort_state", "Sort by &State", "Sort & filter", ("Ctrl+4",), "", "Grouped by review state", True),
    Spec("filter_all", "Show &All", "Sort & filter", ("Ctrl+Shift+A",), "", "Every image", True),
    Spec("filter_review", "Show &To Review", "Sort & filter", ("Ctrl+Shift+T",), "",
         "Images not accepted or rejected yet", True),
    Spec("filter_low", "Show &Low Confidence", "Sort & filter", ("Ctrl+Shift+L",), "",
         "Images below the confidence threshold", True),
    Spec("find", "&Find by Name", "Sort & filter", ("Ctrl+F",), "search", "Filter by file name"),
    # Go
    Spec("next", "&Next Image", "Go", ("Space",), "next", "Next image"),
    Spec("previous", "&Previous Image", "Go", ("Shift+Space",), "prev", "Previous image"),
    Spec("first", "&First Image", "Go", ("Home",), "", "First image"),
    Spec("last", "&Last Image", "Go", ("End",), "", "Last image"),
    Spec("back", "Back to Grid", "Go", ("Escape",), "", "Leave the detail view, or the line tool"),
    # Help
    Spec("help", "&Keyboard Shortcuts", "Help", ("F1", "?"), "help", "Show every shortcut"),
    Spec("about", "&About RotBGR", "Help", (), "", "About RotBGR"),
)

#: Short labels for toolbar buttons that show text.
ICON_TEXT = {"open": "Open", "export": "Export", "accept": "Accept", "reject": "Reject"}

#: Arrow keys navigate in the detail view (in the grid they move the selection in two dimensions).
DETAIL_NEXT_KEYS = ("Right", "Down")
DETAIL_PREVIOUS_KEYS = ("Left", "Up")


class Actions(QObject):
    """The app's QActions, by name (``actions["accept"]`` or ``actions.accept``)."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._actions: dict[str, QAction] = {}
        self.specs = {spec.name: spec for spec in SPECS}
        for spec in SPECS:
            action = QAction(spec.text, parent)
            action.setObjectName(f"action_{spec.name}")
            if spec.shortcuts:
                action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if spec.icon:
                action.setIcon(theme.icon(spec.icon))
            action.setCheckable(spec.checkable)
            action.setStatusTip(spec.tip)
            action.setIconText(ICON_TEXT.get(spec.name, spec.text.replace("&", "").rstrip("…")))
            shortcut = shortcut_text(spec)
            action.setToolTip(f"{spec.tip or spec.text.replace('&', '')}" + (f"  ({shortcut})" if shortcut else ""))
            self._actions[spec.name] = action

    def __getitem__(self, name: str) -> QAction:
        return self._actions[name]

    def __getattr__(self, name: str) -> QAction:
        actions = self.__dict__.get("_actions")
        if actions is not None and name in actions:
            return actions[name]
        raise AttributeError(name)

    def all(self) -> list[QAction]:
        """Every action, in declaration order."""
        return list(self._actions.values())

    def set_detail_navigation(self, detail: bool) -> None:
        """Arrow keys go to the next/previous image in the detail view only."""
        next_keys = self.specs["next"].shortcuts + (DETAIL_NEXT_KEYS if detail else ())
        previous_keys = self.specs["previous"].shortcuts + (DETAIL_PREVIOUS_KEYS if detail else ())
        self["next"].setShortcuts([QKeySequence(s) for s in next_keys])
        self["previous"].setShortcuts([QKeySequence(s) for s in previous_keys])


def shortcut_text(spec: Spec) -> str:
    """Human text for a spec's shortcuts, e.g. ``Ctrl+Shift+Z / Ctrl+Y``."""
    shown = [s for s in spec.shortcuts if s not in ("}", "{", "Enter", "Ctrl++", "Ctrl+Y")]
    if spec.name == "next":
        shown = ["Space", "→", "↓"]
    if spec.name == "previous":
        shown = ["Shift+Space", "←", "↑"]
    return " / ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) if len(s) > 1 else s
                      for s in shown)
