"""The main window: grid and detail views, menus, toolbar, status bar, and the orchestration of the workers."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from PySide6.QtCore import QByteArray, QCoreApplication, QItemSelectionModel, QModelIndex, QSize, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QSlider,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.actions import Actions
from app.detail import DetailView
from app.dialogs import HelpOverlay, SettingsDialog, WelcomePage
from app.exportdialog import ExportDialog, ExportService
from app.grid import Filmstrip, GridView, ThumbnailDelegate
from app.inference import InferenceService, PredictorFactory, RateMeter, default_factory
from app.itemsmodel import ItemsModel
from app.learn import LearnDialog, write_review
from app.model import Item, ItemFilter, ItemState, Session, SessionStore, SortKey, matches, write_decisions
from app.preview import PreviewService
from app.qtcompat import protect_singletons
from app.scan import scan_folder
from app.settings import AppPaths, Preferences, app_paths, load_preferences, save_preferences, window_state
from app.thumbnails import ThumbnailService, cache_pixels
from app.workers import GeneratorWorker, Pool

PAGE_WELCOME, PAGE_GRID, PAGE_DETAIL = 0, 1, 2
#: How often Python hands the GIL between threads: short, so the UI thread waits little for workers.
SWITCH_INTERVAL_S = 0.001
MAX_RECENT = 10

SORTS = (
    ("File name", SortKey.NAME, "sort_name"),
    ("Lowest confidence first", SortKey.CONFIDENCE, "sort_confidence"),
    ("Largest correction first", SortKey.ANGLE, "sort_angle"),
    ("State", SortKey.STATE, "sort_state"),
)
FILTERS = (
    ("All images", ItemFilter.ALL, "filter_all"),
    ("To review", ItemFilter.TO_REVIEW, "filter_review"),
    ("Low confidence", ItemFilter.LOW_CONFIDENCE, "filter_low"),
    ("Pending", ItemFilter.PENDING, ""),
    ("Predicted", ItemFilter.PREDICTED, ""),
    ("Adjusted", ItemFilter.ADJUSTED, ""),
    ("Accepted", ItemFilter.ACCEPTED, ""),
    ("Rejected", ItemFilter.REJECTED, ""),
    ("Exported", ItemFilter.EXPORTED, ""),
    ("Errors", ItemFilter.ERROR, ""),
)


def thumbnail_threads() -> int:
    """Threads making thumbnails: half the CPUs (1 to 4), so the UI thread and the model keep theirs."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


def preload_decoders() -> None:
    """Import the image plugins now, in the UI thread, before workers start.

    Otherwise the first worker to open an image imports them all while holding the
    interpreter lock, and the UI stalls for that long.
    """
    from PIL import Image

    Image.init()
    try:
        import pypdfium2  # noqa: F401
    except ImportError:
        pass


def freeze_long_lived_objects() -> None:
    """Put every object alive now out of the cyclic garbage collector's reach (``gc.freeze``).

    Qt's bindings, torch and the loaded model leave hundreds of thousands of long-lived
    objects.  A full collection walks them all while holding the interpreter lock -
    about 100 ms on a small CPU - and it runs in whichever thread happens to trigger it,
    so the UI thread stalls for that long (the worst pause while a large folder is
    predicted).  Frozen objects are never scanned again, so later full collections only
    walk what the app made since, a few milliseconds.  Called once the window is built
    and again once the model is loaded; garbage that exists at that moment is kept,
    which is a few kilobytes.
    """
    gc.freeze()


class Banner(QFrame):
    """A dismissable one-line message above the grid (no modal boxes for problems)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        icon = QLabel()
        icon.setPixmap(theme.icon("alert").pixmap(QSize(18, 18)))
        self.label = QLabel("")
        self.label.setWordWrap(True)
        close = QToolButton()
        close.setIcon(theme.icon("reject"))
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout.addWidget(icon)
        layout.addWidget(self.label, 1)
        layout.addWidget(close)
        self.hide()

    def show_message(self, text: str) -> None:
        """Show ``text``."""
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    """RotBGR's window."""

    def __init__(
        self,
        paths: AppPaths | None = None,
        predictor_factory: PredictorFactory | None = None,
    ) -> None:
        """A window whose files live under ``paths`` and whose model comes from ``predictor_factory``."""
        protect_singletons()
        preload_decoders()
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        super().__init__()
        self.paths = paths or app_paths()
        self.prefs: Preferences = load_preferences(self.paths)
        self.store = SessionStore(self.paths.sessions)
        self.session: Session | None = None
        self._custom_factory = predictor_factory is not None
        self.actions = Actions(self)
        self.thumbnails = ThumbnailService(self.paths.thumbnails, threads=thumbnail_threads(), parent=self)
        self.thumbnails.pixels = cache_pixels(self.prefs.thumbnail_size)
        self.previews = PreviewService(parent=self)
        factory = predictor_factory or default_factory(self.prefs.weights)
        self.inference = InferenceService(factory, self.prefs.device, self.prefs.batch_size, self)
        self.exporter = ExportService(self)
        self.scan_pool = Pool("scan", 1)
        self.save_pool = Pool("save", 1)
        self._scan_worker: GeneratorWorker | None = None
        self._open_task: asyncio.Future[None] | None = None
        self._export_dialog: ExportDialog | None = None
        self._learn_dialog: LearnDialog | None = None
        self._pending_select: str | None = None
        self._rate = RateMeter()
        self._last_progress = 0.0
        self._closed = False

        self.model = ItemsModel(self)
        self.model.threshold = self.prefs.confidence_threshold
        self.selection = QItemSelectionModel(self.model)
        self.delegate = ThumbnailDelegate(self.thumbnails, self.prefs.thumbnail_size)
        self.delegate.threshold = self.prefs.confidence_threshold
        self.grid = GridView(self.delegate)
        self.grid.setModel(self.model)
        self.grid.setSelectionModel(self.selection)
        self.strip_delegate = ThumbnailDelegate(self.thumbnails, 76, compact=True)
        self.strip_delegate.threshold = self.prefs.confidence_threshold
        self.filmstrip = Filmstrip(self.strip_delegate)
        self.filmstrip.setModel(self.model)
        self.filmstrip.setSelectionModel(self.selection)
        self.detail = DetailView(self.actions, self.previews, self.thumbnails, self.prefs.crop_for)
        self.detail.threshold = self.prefs.confidence_threshold
        self.detail.set_filmstrip(self.filmstrip)
        self.welcome = WelcomePage()
        self.banner = Banner()

        grid_page = QWidget()
        grid_layout = QVBoxLayout(grid_page)
        grid_layout.setContentsMargins(8, 6, 0, 0)
        grid_layout.setSpacing(6)
        grid_layout.addWidget(self.banner)
        grid_layout.addWidget(self.grid, 1)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        self.stack.addWidget(grid_page)
        self.stack.addWidget(self.detail)
        self.setCentralWidget(self.stack)
        self.help_overlay = HelpOverlay(self.actions, self)

        self._build_toolbar()
        self._build_menus()
        self._build_status_bar()
        self._connect()

        self._save_timer = QTimer(self, singleShot=True, timeout=lambda: self.save_session_now(wait=False))
        self._order_timer = QTimer(self, singleShot=True, interval=1500, timeout=self._refresh_order)
        self._status_timer = QTimer(self, singleShot=True, interval=250, timeout=self._update_counts)
        self._priority_timer = QTimer(self, singleShot=True, interval=120, timeout=self._send_priorities)

        self.setWindowTitle("RotBGR")
        self.setAcceptDrops(True)
        self.resize(1360, 860)
        self._restore_window()
        self._update_actions()
        self._show_page(PAGE_WELCOME)
        freeze_long_lived_objects()

    # -- construction ----------------------------------------------------------------------------------------------

    def _tool_button(self, action: QAction, text: bool = False) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setIconSize(QSize(20, 20))
        button.setToolButtonStyle(
            Qt.ToolButtonStyle.ToolButtonTextBesideIcon if text else Qt.ToolButtonStyle.ToolButtonIconOnly
        )
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(20, 20))
        a = self.actions
        self.open_button = self._tool_button(a.open, text=True)
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.recent_menu = QMenu("Open &Recent", self)
        self.open_button.setMenu(self.recent_menu)
        bar.addWidget(self.open_button)
        export_button = self._tool_button(a.export, text=True)
        bar.addWidget(export_button)
        bar.addSeparator()
        for name in ("view_grid", "view_detail"):
            bar.addWidget(self._tool_button(a[name]))
        bar.addSeparator()
        for name in ("undo", "redo"):
            bar.addWidget(self._tool_button(a[name]))
        bar.addSeparator()
        for name in ("accept", "reject"):
            bar.addWidget(self._tool_button(a[name], text=True))
        bar.addSeparator()

        bar.addWidget(self._label(theme.icon("sort")))
        self.sort_combo = QComboBox()
        self.sort_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for text, key, _ in SORTS:
            self.sort_combo.addItem(text, key)
        self.sort_combo.setToolTip("Order of the images (Ctrl+1 … Ctrl+4)")
        self.sort_combo.setMinimumWidth(205)
        bar.addWidget(self.sort_combo)
        bar.addWidget(self._label(theme.icon("filter")))
        self.filter_combo = QComboBox()
        self.filter_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.filter_combo.setMinimumWidth(170)
        for text, key, _ in FILTERS:
            self.filter_combo.addItem(text, key)
        self.filter_combo.setToolTip("Which images to show")
        bar.addWidget(self.filter_combo)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Find by name")
        self.search.setToolTip("Show only images whose path contains this text (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(170)
        self.search.setMaximumWidth(240)
        self.search.addAction(theme.icon("search"), QLineEdit.ActionPosition.LeadingPosition)
        bar.addWidget(self.search)

        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().horizontalPolicy().Expanding,
                             spacer.sizePolicy().verticalPolicy().Preferred)
        bar.addWidget(spacer)
        self.size_slider = QSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(96, 320)
        self.size_slider.setSingleStep(8)
        self.size_slider.setFixedWidth(90)
        self.size_slider.setValue(self.prefs.thumbnail_size)
        self.size_slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.size_slider.setToolTip("Thumbnail size (Ctrl+= / Ctrl+-)")
        bar.addSeparator()
        for name in ("settings", "help"):
            bar.addWidget(self._tool_button(a[name]))
        self.addToolBar(bar)
        self.toolbar = bar

    @staticmethod
    def _label(icon: object, size: int = 18) -> QLabel:
        label = QLabel()
        label.setPixmap(icon.pixmap(QSize(size, size)))  # type: ignore[attr-defined]
        label.setContentsMargins(6, 0, 2, 0)
        return label

    def _build_menus(self) -> None:
        a = self.actions
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(a.open)
        file_menu.addMenu(self.recent_menu)
        file_menu.addAction(a.open_sample)
        file_menu.addSeparator()
        file_menu.addAction(a.export)
        file_menu.addAction(a.export_decisions)
        file_menu.addAction(a.learn)
        file_menu.addSeparator()
        file_menu.addAction(a.settings)
        file_menu.addSeparator()
        file_menu.addAction(a.quit)
        review = bar.addMenu("&Review")
        for name in ("accept", "reject", "clear_decision", None, "undo", "redo", None, "select_all", None,
                     "repredict", "stop"):
            review.addSeparator() if name is None else review.addAction(a[name])
        adjust = bar.addMenu("&Adjust")
        for name in ("nudge_up", "nudge_down", "nudge_up_big", "nudge_down_big", "nudge_up_fine", "nudge_down_fine",
                     None, "rotate_left", "rotate_right", "mirror", None, "line_h", "line_v", None, "reset"):
            adjust.addSeparator() if name is None else adjust.addAction(a[name])
        view = bar.addMenu("&View")
        for name in ("view_grid", "view_detail", None, "fit", "zoom_100", "zoom_in", "zoom_out", "overlay", None,
                     "bigger", "smaller", None, "full_screen"):
            view.addSeparator() if name is None else view.addAction(a[name])
        sort_menu = bar.addMenu("&Sort")
        self.sort_group = QActionGroup(self)
        for _text, key, name in SORTS:
            action = a[name]
            action.setData(key)
            self.sort_group.addAction(action)
            sort_menu.addAction(action)
        sort_menu.addSeparator()
        self.filter_group = QActionGroup(self)
        for text, key, name in FILTERS:
            action = a[name] if name else QAction(f"Show {text}", self)
            action.setCheckable(True)
            action.setData(key)
            self.filter_group.addAction(action)
            sort_menu.addAction(action)
        sort_menu.addSeparator()
        sort_menu.addAction(a.find)
        go = bar.addMenu("&Go")
        for name in ("next", "previous", "first", "last", None, "back"):
            go.addSeparator() if name is None else go.addAction(a[name])
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(a.help)
        help_menu.addAction(a.about)
        for action in a.all():
            self.addAction(action)  # shortcuts work even where no menu shows them
        a.sort_name.setChecked(True)
        a.filter_all.setChecked(True)

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.counts_label = QLabel("")
        self.counts_label.setTextFormat(Qt.TextFormat.RichText)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFixedWidth(150)
        self.progress_bar.setFixedHeight(10)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.hide()
        self.progress_label = QLabel("")
        self.device_label = QLabel("")
        self.device_icon = QLabel()
        self.device_icon.setPixmap(theme.icon("cpu").pixmap(QSize(16, 16)))
        self.device_icon.hide()
        status.addPermanentWidget(self.counts_label)
        status.addPermanentWidget(self._label(theme.icon("image"), 14))
        status.addPermanentWidget(self.size_slider)
        status.addPermanentWidget(self.progress_bar)
        status.addPermanentWidget(self.progress_label)
        status.addPermanentWidget(self.device_icon)
        status.addPermanentWidget(self.device_label)

    def _connect(self) -> None:
        a = self.actions
        a.open.triggered.connect(self.choose_folder)
        a.open_sample.triggered.connect(lambda: self.open_folder(str(theme.SAMPLE_FOLDER)))
        a.export.triggered.connect(self.show_export)
        a.export_decisions.triggered.connect(self.export_decisions)
        a.learn.triggered.connect(self.show_learn)
        a.settings.triggered.connect(self.show_settings)
        a.quit.triggered.connect(self.close)
        a.accept.triggered.connect(lambda: self._decide(True))
        a.reject.triggered.connect(lambda: self._decide(False))
        a.clear_decision.triggered.connect(lambda: self._edit(lambda s, k: s.clear_decision(k)))
        a.undo.triggered.connect(self.undo)
        a.redo.triggered.connect(self.redo)
        a.select_all.triggered.connect(self._select_all)
        a.repredict.triggered.connect(self.repredict)
        a.stop.triggered.connect(self.inference.cancel)
        for name, delta in (("nudge_up", 0.1), ("nudge_down", -0.1), ("nudge_up_big", 1.0), ("nudge_down_big", -1.0),
                            ("nudge_up_fine", 0.01), ("nudge_down_fine", -0.01)):
            a[name].triggered.connect(lambda _c=False, d=delta: self._edit(lambda s, k: s.nudge(k, d)))
        a.rotate_left.triggered.connect(lambda: self._edit(lambda s, k: s.rotate_quarter(k, 1)))
        a.rotate_right.triggered.connect(lambda: self._edit(lambda s, k: s.rotate_quarter(k, -1)))
        a.mirror.triggered.connect(lambda: self._edit(lambda s, k: s.toggle_mirror(k)))
        a.reset.triggered.connect(lambda: self._edit(lambda s, k: s.reset(k)))
        a.line_h.toggled.connect(lambda on: self._line_mode("h", on))
        a.line_v.toggled.connect(lambda on: self._line_mode("v", on))
        a.view_grid.triggered.connect(lambda: self._show_page(PAGE_GRID))
        a.view_detail.triggered.connect(self.show_detail)
        a.fit.triggered.connect(self.detail.fit)
        a.zoom_100.triggered.connect(lambda: self.detail.zoom_to(1.0))
        a.zoom_in.triggered.connect(lambda: self.detail.zoom_by(1.25))
        a.zoom_out.triggered.connect(lambda: self.detail.zoom_by(0.8))
        a.overlay.toggled.connect(self.detail.set_overlay)
        a.bigger.triggered.connect(lambda: self.set_thumbnail_size(self.prefs.thumbnail_size + 24))
        a.smaller.triggered.connect(lambda: self.set_thumbnail_size(self.prefs.thumbnail_size - 24))
        a.full_screen.toggled.connect(lambda on: self.showFullScreen() if on else self.showNormal())
        a.next.triggered.connect(lambda: self.step(1))
        a.previous.triggered.connect(lambda: self.step(-1))
        a.first.triggered.connect(lambda: self.go_to_row(0))
        a.last.triggered.connect(lambda: self.go_to_row(self.model.rowCount() - 1))
        a.back.triggered.connect(self._back)
        a.help.triggered.connect(self.help_overlay.toggle)
        a.about.triggered.connect(self._about)
        a.find.triggered.connect(lambda: (self.search.setFocus(), self.search.selectAll()))
        self.sort_group.triggered.connect(lambda act: self._set_sort(act.data()))
        self.filter_group.triggered.connect(lambda act: self._set_filter(act.data()))
        self.sort_combo.currentIndexChanged.connect(lambda _i: self._set_sort(self.sort_combo.currentData()))
        self.filter_combo.currentIndexChanged.connect(lambda _i: self._set_filter(self.filter_combo.currentData()))
        self.search.textChanged.connect(lambda text: self.model.set_view(text=text))
        self.search.returnPressed.connect(self.grid.setFocus)
        self.size_slider.valueChanged.connect(self.set_thumbnail_size)

        self.welcome.open_requested.connect(self.choose_folder)
        self.welcome.sample_requested.connect(lambda: self.open_folder(str(theme.SAMPLE_FOLDER)))
        self.welcome.recent_requested.connect(self.open_folder)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)

        self.grid.activated_key.connect(lambda _key: self.show_detail())
        self.selection.currentChanged.connect(self._on_current_changed)
        self.selection.selectionChanged.connect(lambda *_: self._schedule_priorities())
        self.grid.verticalScrollBar().valueChanged.connect(lambda _v: self._schedule_priorities())
        self.model.modelReset.connect(self._on_model_reset)
        self.model.rowsInserted.connect(lambda *_: self._update_actions())
        self.model.layoutChanged.connect(self._on_layout_changed)
        self.detail.angle_edited.connect(self._on_angle_edited)

        self.thumbnails.ready.connect(self.model.touch)
        self.inference.results.connect(self._on_results)
        self.inference.progress.connect(self._on_progress)
        self.inference.device_ready.connect(self._on_device_ready)
        self.inference.failed.connect(self._on_inference_failed)
        self.inference.finished.connect(self._on_inference_finished)

    # -- pages -----------------------------------------------------------------------------------------------------

    def _show_page(self, page: int) -> None:
        if page != PAGE_WELCOME and self.session is None:
            page = PAGE_WELCOME
        self.stack.setCurrentIndex(page)
        detail = page == PAGE_DETAIL
        self.actions.set_detail_navigation(detail)
        if not detail:
            self.actions.line_h.setChecked(False)
            self.actions.line_v.setChecked(False)
        if page == PAGE_GRID:
            current = self.selection.currentIndex()
            if current.isValid():
                self.grid.scrollTo(current)
            self.grid.setFocus()
        elif detail:
            self._show_current_in_detail()
            current = self.selection.currentIndex()
            if current.isValid():
                self.filmstrip.scrollTo(current, Filmstrip.ScrollHint.PositionAtCenter)
            self.detail.corrected.setFocus()
        elif page == PAGE_WELCOME:
            self.welcome.set_recent(self.recent_folders())
        self._update_actions()
        self._schedule_priorities()

    @property
    def page(self) -> int:
        """The page shown (welcome, grid, detail)."""
        return self.stack.currentIndex()

    def show_detail(self) -> None:
        """Open the detail view on the current image (the first one if none)."""
        if self.session is None or self.model.rowCount() == 0:
            return
        if not self.selection.currentIndex().isValid():
            self.go_to_row(0)
        self._show_page(PAGE_DETAIL)

    def _back(self) -> None:
        if self.help_overlay.isVisible():
            self.help_overlay.hide()
        elif self.actions.line_h.isChecked() or self.actions.line_v.isChecked():
            self.actions.line_h.setChecked(False)
            self.actions.line_v.setChecked(False)
        elif self.page == PAGE_DETAIL:
            self._show_page(PAGE_GRID)
        elif self.search.hasFocus():
            self.search.clear()
            self.grid.setFocus()

    # -- opening folders -------------------------------------------------------------------------------------------

    def choose_folder(self) -> None:
        """Ask for a folder and open it."""
        start = self.session.folder if self.session else (self.recent_folders() or [str(Path.home())])[0]
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of images", start)
        if folder:
            self.open_folder(folder)

    def open_folder(self, folder: str, select: str | None = None) -> asyncio.Future[None]:
        """Open ``folder`` (runs on the qasync loop; returns the task)."""
        if self._open_task is not None and not self._open_task.done():
            self._open_task.cancel()
        self._pending_select = select
        task = asyncio.ensure_future(self.open_folder_async(folder))
        self._open_task = task
        return task

    async def open_folder_async(self, folder: str) -> None:
        """List the folder in the background, restore its session, then start predicting."""
        folder = str(Path(folder).expanduser().absolute())
        if not Path(folder).is_dir():
            self.banner.show_message(f"Cannot open {folder}: it is not a folder.")
            self.statusBar().showMessage("Not a folder", 5000)
            return
        self.close_folder()
        session = Session(folder)
        saved = self.store.load(folder)
        self.session = session
        session.subscribe(self._on_session_changed)
        self.model.set_session(session)
        self.banner.hide()
        self._add_recent(folder)
        self.setWindowTitle(f"{Path(folder).name or folder} — RotBGR")
        self._show_page(PAGE_GRID)
        self.statusBar().showMessage(f"Listing {folder}…")

        def add(items: list[Item]) -> None:
            if session is self.session:
                session.add_items(items, saved)
                if not self.selection.currentIndex().isValid() and self.model.rowCount():
                    self._select_pending_or_first()

        worker = GeneratorWorker(lambda cancel: scan_folder(folder, cancel), "scan")
        worker.signals.yielded.connect(add)
        worker.signals.failed.connect(
            lambda message, _tb: self.banner.show_message(f"Cannot list the folder: {message}")
        )
        self._scan_worker = worker
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        worker.signals.finished.connect(lambda: done.done() or done.set_result(None))
        self.scan_pool.start(worker)
        try:
            await done
        except asyncio.CancelledError:
            worker.cancel()
            raise
        finally:
            self._scan_worker = None
        if session is not self.session:
            return
        self.statusBar().showMessage(f"{len(session):,} images in {folder}", 4000)
        if not len(session):
            self.banner.show_message("No supported images in this folder (JPEG, PNG, TIFF, WebP, BMP, GIF, PDF).")
        self._select_pending_or_first()
        self.model.refresh()
        self._update_counts()
        self.start_predictions()

    def _select_pending_or_first(self) -> None:
        key = self._pending_select
        index = self.model.index_of(key) if key else QModelIndex()
        if index.isValid():
            self._pending_select = None
        elif self.selection.currentIndex().isValid():
            return
        else:
            index = self.model.index(0, 0)
        if index.isValid():
            self.selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def close_folder(self) -> None:
        """Save and close the open folder, stopping its background work."""
        if self._scan_worker is not None:
            self._scan_worker.cancel()
        self.inference.cancel()
        if self.session is not None:
            self.save_session_now()
            self.session.unsubscribe(self._on_session_changed)
        self.thumbnails.reset()
        self.previews.reset()
        self.session = None
        self.model.set_session(None)
        self.detail.show_item(None)
        self._set_progress_idle()

    # -- predictions -----------------------------------------------------------------------------------------------

    def start_predictions(self) -> None:
        """Predict every item that has no prediction yet, visible ones first."""
        if self.session is None:
            return
        order = {key: i for i, key in enumerate(self.model.keys())}
        todo = [item for item in self.session.items if item.predicted is None and item.error is None]
        todo.sort(key=lambda item: order.get(item.key, len(order)))
        if not todo:
            self._set_progress_idle()
            return
        self.inference.device = self.prefs.device
        self.inference.batch_size = self.prefs.batch_size
        self._rate.restart()
        self.inference.start([(item.key, item.input_item) for item in todo])
        self._send_priorities()

    def repredict(self) -> None:
        """Predict the selected items again (their predictions are replaced; your corrections stay)."""
        if self.session is None:
            return
        keys = self._targets()
        for key in keys:
            item = self.session.get(key)
            item.predicted, item.confidence, item.error = None, None, None
        self.model.refresh()
        self.inference.cancel()
        self.start_predictions()

    def _on_results(self, results: list[tuple[str, object]]) -> None:
        if self.session is None:
            return
        self.session.set_results(results)  # type: ignore[arg-type]
        if self.model.sort != SortKey.NAME or self.model.item_filter != ItemFilter.ALL:
            if not self._order_timer.isActive():
                self._order_timer.start()

    def _on_progress(self, done: int, total: int) -> None:
        if total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self._last_progress < 0.25:
            return  # a progress bar repaints at once: a few times a second is enough
        self._last_progress = now
        # QProgressBar.setValue repaints synchronously: do it on its own turn of the event loop, not
        # inside the slot that has just applied a batch of results, so the two costs never add up.
        QTimer.singleShot(0, lambda: self._show_progress(done, total))

    def _show_progress(self, done: int, total: int) -> None:
        if not self.inference.running:
            return  # the run ended (or was cancelled) meanwhile: the bar is already idle
        self.progress_bar.show()
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(done)
        self.progress_label.setText(f"Predicting {self._rate.text(done, total)}")

    def _on_device_ready(self, name: str, label: str) -> None:
        freeze_long_lived_objects()  # the model and its libraries are loaded now
        self.device_icon.show()
        self.device_label.setText(f"{label} · {name}")
        self.device_label.setToolTip(f"Predictions run on {label} with the {name} model")

    def _on_inference_failed(self, message: str) -> None:
        self.banner.show_message(f"The model could not run: {message}. Check the device in Settings.")

    def _on_inference_finished(self, cancelled: bool) -> None:
        if not self.inference.running:
            self._set_progress_idle()
            if cancelled:
                self.statusBar().showMessage("Predictions stopped", 4000)
            self._refresh_order()

    def _set_progress_idle(self) -> None:
        self.progress_bar.hide()
        self.progress_label.setText("")

    def _schedule_priorities(self) -> None:
        if not self._priority_timer.isActive():
            self._priority_timer.start()

    def _send_priorities(self) -> None:
        if self.session is None or not self.inference.running:
            return
        keys: list[str] = []
        current = self.selection.currentIndex()
        if current.isValid():
            keys.append(self.model.key_at(current.row()) or "")
            row = current.row()
            keys += [k for k in (self.model.key_at(r) for r in range(row + 1, row + 6)) if k]
        keys += [k for k in (self.model.key_at(i.row()) for i in self.selection.selectedIndexes()[:50]) if k]
        if self.page == PAGE_GRID:
            keys += self.grid.visible_keys()
        self.inference.prioritize(list(dict.fromkeys(k for k in keys if k)))

    def _refresh_order(self) -> None:
        current = self.selection.currentIndex()
        self.model.refresh()
        if current.isValid() and self.page == PAGE_GRID:
            self.grid.scrollTo(self.selection.currentIndex())

    # -- selection and navigation ----------------------------------------------------------------------------------

    def current_item(self) -> Item | None:
        """The item under the cursor."""
        index = self.selection.currentIndex()
        return self.model.item_at(index.row()) if index.isValid() else None

    def _targets(self) -> list[str]:
        if self.page == PAGE_DETAIL:
            item = self.current_item()
            return [item.key] if item else []
        rows = sorted({i.row() for i in self.selection.selectedIndexes()})
        keys = [k for k in (self.model.key_at(r) for r in rows) if k]
        if not keys:
            item = self.current_item()
            keys = [item.key] if item else []
        return keys

    def go_to_row(self, row: int) -> None:
        """Make ``row`` current and the only selection."""
        if not 0 <= row < self.model.rowCount():
            return
        index = self.model.index(row, 0)
        self.selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if self.page == PAGE_GRID:
            self.grid.scrollTo(index)
        else:
            self.filmstrip.scrollTo(index, Filmstrip.ScrollHint.PositionAtCenter)

    def go_to_key(self, key: str) -> bool:
        """Make ``key`` current if it is shown."""
        row = self.model.row_of(key)
        if row is None:
            return False
        self.go_to_row(row)
        return True

    def step(self, delta: int) -> None:
        """Go ``delta`` images forward (or back)."""
        count = self.model.rowCount()
        if not count:
            return
        current = self.selection.currentIndex()
        row = current.row() + delta if current.isValid() else 0
        self.go_to_row(max(0, min(count - 1, row)))

    def _select_all(self) -> None:
        if self.search.hasFocus():
            self.search.selectAll()
        else:
            self.grid.selectAll()

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self.page == PAGE_DETAIL:
            self._show_current_in_detail()
        self._update_actions()
        self._schedule_priorities()

    def _show_current_in_detail(self) -> None:
        item = self.current_item()
        current = self.selection.currentIndex()
        neighbours: list[Item] = []
        if current.isValid():
            for row in (current.row() + 1, current.row() - 1, current.row() + 2):
                neighbour = self.model.item_at(row)
                if neighbour is not None:
                    neighbours.append(neighbour)
            self.detail.position_text = f"{current.row() + 1:,} of {self.model.rowCount():,}"
        self.detail.show_item(item, neighbours)

    def _on_model_reset(self) -> None:
        if self.session is not None and self.model.rowCount() and not self.selection.currentIndex().isValid():
            self._select_pending_or_first()
        self._update_actions()

    def _on_layout_changed(self) -> None:
        current = self.selection.currentIndex()
        if current.isValid() and self.page == PAGE_DETAIL:
            self.detail.position_text = f"{current.row() + 1:,} of {self.model.rowCount():,}"
            self.detail.refresh()

    # -- edits -----------------------------------------------------------------------------------------------------

    def _edit(self, change: object) -> set[str]:
        if self.session is None:
            return set()
        self.detail.commit_typing()
        keys = self._targets()
        if not keys:
            return set()
        result: set[str] = change(self.session, keys)  # type: ignore[operator]
        return result

    def _decide(self, accept: bool) -> None:
        if self.search.hasFocus():
            self.grid.setFocus()
            return
        keys = self._targets()
        changed = self._edit(lambda s, k: s.accept(k) if accept else s.reject(k))
        if len(keys) == 1 and (changed or self.page == PAGE_DETAIL):
            self.step(1)

    def _on_angle_edited(self, angle: float, tag: str) -> None:
        item = self.current_item()
        if self.session is None or item is None:
            return
        self.session.set_angle([item.key], angle, tag=None if tag == "line" else tag)
        if tag == "line":
            self.actions.line_h.setChecked(False)
            self.actions.line_v.setChecked(False)
            self.statusBar().showMessage(f"Levelled: angle set to {angle:+.2f}°", 4000)

    def _line_mode(self, mode: str, on: bool) -> None:
        other = self.actions.line_v if mode == "h" else self.actions.line_h
        if on:
            other.setChecked(False)
            if self.page != PAGE_DETAIL:
                self.show_detail()
            self.detail.set_line_mode(mode)
            what = "horizontal" if mode == "h" else "vertical"
            self.statusBar().showMessage(f"Drag along a line that should be {what} (Esc to cancel)")
        elif not other.isChecked():
            self.detail.set_line_mode(None)
            self.statusBar().clearMessage()

    def undo(self) -> None:
        """Undo the last change, and show the image it touched."""
        if self.session is not None:
            self._reveal(self.session.undo())

    def redo(self) -> None:
        """Redo, and show the image it touched."""
        if self.session is not None:
            self._reveal(self.session.redo())

    def _reveal(self, keys: set[str]) -> None:
        current = self.current_item()
        if len(keys) == 1 and (current is None or current.key not in keys):
            self.go_to_key(next(iter(keys)))

    def _on_session_changed(self, keys: set[str]) -> None:
        item = self.current_item()
        if item is not None and item.key in keys and self.page == PAGE_DETAIL:
            self.detail.refresh()
        self._schedule_save(keys)
        if not self._status_timer.isActive():
            self._status_timer.start()
        self._update_undo()

    def _schedule_save(self, keys: set[str]) -> None:
        delay = 2000 if self.inference.running and len(keys) > 1 else 300
        if not self._save_timer.isActive() or self._save_timer.remainingTime() > delay:
            self._save_timer.start(delay)

    def save_session_now(self, wait: bool = True) -> None:
        """Write the session file (atomically).

        With ``wait`` it is written before this returns (closing, switching folders); otherwise
        the state is copied now and written by the saver thread, so the UI never waits for the disk.
        """
        self._save_timer.stop()
        if self.session is None or not len(self.session):
            return
        folder, data = self.session.folder, self.session.to_json()
        if wait:
            self.save_pool.pool.waitForDone(10_000)
            try:
                self.store.write(folder, data)
            except OSError as exc:
                self.statusBar().showMessage(f"Could not save the review: {exc}", 8000)
            return

        def write(_cancel: object) -> Iterator[str]:
            try:
                self.store.write(folder, data)
            except OSError as exc:
                yield f"Could not save the review: {exc}"

        worker = GeneratorWorker(write, "save")  # type: ignore[arg-type]
        worker.signals.yielded.connect(lambda message: self.statusBar().showMessage(message, 8000))
        self.save_pool.start(worker)

    # -- state of the UI -------------------------------------------------------------------------------------------

    def _update_undo(self) -> None:
        session = self.session
        a = self.actions
        a.undo.setEnabled(bool(session and session.can_undo))
        a.redo.setEnabled(bool(session and session.can_redo))
        a.undo.setText(f"&Undo {session.undo_text}" if session and session.can_undo else "&Undo")
        a.redo.setText(f"Re&do {session.redo_text}" if session and session.can_redo else "Re&do")

    def _update_actions(self) -> None:
        has_items = self.session is not None and self.model.rowCount() > 0
        detail = self.page == PAGE_DETAIL
        a = self.actions
        for name in ("accept", "reject", "clear_decision", "nudge_up", "nudge_down", "nudge_up_big", "nudge_down_big",
                     "nudge_up_fine", "nudge_down_fine", "rotate_left", "rotate_right", "mirror", "reset",
                     "line_h", "line_v", "next", "previous", "first", "last", "view_detail", "select_all",
                     "repredict"):
            a[name].setEnabled(has_items)
        for name in ("fit", "zoom_100", "zoom_in", "zoom_out", "overlay"):
            a[name].setEnabled(has_items and detail)
        a.view_grid.setEnabled(self.session is not None)
        a.export.setEnabled(self.session is not None)
        a.export_decisions.setEnabled(self.session is not None)
        a.view_grid.setCheckable(True)
        a.view_detail.setCheckable(True)
        a.view_grid.setChecked(self.page == PAGE_GRID)
        a.view_detail.setChecked(detail)
        item = self.current_item()
        if item is not None and not (self.page == PAGE_GRID and len(self._targets()) > 1):
            a.mirror.setChecked(item.correction.mirrored)
        self._update_undo()

    def _update_counts(self) -> None:
        if self.session is None:
            self.counts_label.setText("")
            return
        counts = self.session.counts()
        total = len(self.session)
        threshold = self.prefs.confidence_threshold
        low = sum(1 for i in self.session.items if matches(i, ItemFilter.LOW_CONFIDENCE, threshold))
        parts = [f"<b style='color:#e3e6ea'>{total:,}</b> images"]
        for state in ItemState:
            if counts[state]:
                colour = theme.STATE_COLOURS[state].name()
                parts.append(f"<span style='color:{colour}'>●</span> {counts[state]:,} {state.value}")
        if low:
            parts.append(f"<span style='color:{theme.WARN.name()}'>▲ {low:,} below "
                         f"{100 * self.prefs.confidence_threshold:.0f}%</span>")
        self.counts_label.setText("&nbsp;&nbsp;".join(parts))
        review = counts[ItemState.PENDING] + counts[ItemState.PREDICTED] + counts[ItemState.ADJUSTED]
        for i, (text, key, _) in enumerate(FILTERS):
            number = {
                ItemFilter.ALL: total, ItemFilter.TO_REVIEW: review, ItemFilter.LOW_CONFIDENCE: low,
            }.get(key)
            if number is None:
                number = counts.get(ItemState(key.value), 0)
            self.filter_combo.setItemText(i, f"{text}  ({number:,})")

    def counts_text(self) -> str:
        """The status bar's counters as plain text (for tests and screen readers)."""
        from PySide6.QtGui import QTextDocument

        document = QTextDocument()
        document.setHtml(self.counts_label.text())
        return document.toPlainText()

    # -- sort, filter, size ----------------------------------------------------------------------------------------

    def _set_sort(self, key: SortKey) -> None:
        key = SortKey(key)
        for i in range(self.sort_combo.count()):
            if self.sort_combo.itemData(i) == key and self.sort_combo.currentIndex() != i:
                self.sort_combo.setCurrentIndex(i)
        for _text, sort, name in SORTS:
            self.actions[name].setChecked(sort == key)
        if self.model.sort != key:
            self.model.set_view(sort=key)
            current = self.selection.currentIndex()
            if current.isValid():
                self.grid.scrollTo(current)

    def _set_filter(self, key: ItemFilter) -> None:
        key = ItemFilter(key)
        for i in range(self.filter_combo.count()):
            if self.filter_combo.itemData(i) == key and self.filter_combo.currentIndex() != i:
                self.filter_combo.setCurrentIndex(i)
        for action in self.filter_group.actions():
            action.setChecked(action.data() == key)
        if self.model.item_filter != key:
            keep = self.current_item()
            self.model.set_view(item_filter=key)
            if keep is None or not self.go_to_key(keep.key):
                self.go_to_row(0)

    def set_thumbnail_size(self, size: int) -> None:
        """Change the grid's thumbnail size (96–320 px)."""
        size = max(96, min(320, int(size)))
        self.prefs.thumbnail_size = size
        if self.size_slider.value() != size:
            self.size_slider.setValue(size)
        self.delegate.size = size
        self.thumbnails.set_pixels(cache_pixels(size))
        self.grid.doItemsLayout()
        self.grid.viewport().update()

    # -- dialogs ---------------------------------------------------------------------------------------------------

    def show_settings(self) -> SettingsDialog:
        """Open the settings dialog (window-modal); returns it."""
        dialog = SettingsDialog(self.prefs, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.accepted.connect(lambda: self.apply_preferences(dialog.preferences()))
        dialog.open()
        return dialog

    def apply_preferences(self, prefs: Preferences) -> None:
        """Use new preferences now, and save them."""
        old = self.prefs
        self.prefs = prefs
        threshold = prefs.confidence_threshold
        self.model.threshold = threshold
        for delegate in (self.delegate, self.strip_delegate):
            delegate.threshold = threshold
        self.detail.threshold = threshold
        self.detail.crop_for = prefs.crop_for
        self.set_thumbnail_size(prefs.thumbnail_size)
        device_changed = (prefs.device, prefs.weights) != (old.device, old.weights)
        if device_changed:
            if not self._custom_factory:
                self.inference.factory = default_factory(prefs.weights)
            self.inference.reset_predictors()
        if device_changed or prefs.batch_size != old.batch_size:
            if self.inference.running:
                self.inference.cancel()
                self.start_predictions()
        self.model.refresh()
        self.detail.refresh()
        self._update_counts()
        save_preferences(prefs, self.paths)

    def show_export(self) -> ExportDialog | None:
        """Open the export dialog (window-modal); returns it."""
        if self.session is None:
            return None
        if self._export_dialog is not None and self._export_dialog.isVisible():
            self._export_dialog.raise_()
            return self._export_dialog
        rows = sorted({i.row() for i in self.selection.selectedIndexes()})
        selection = [k for k in (self.model.key_at(r) for r in rows) if k]
        session = self.session
        dialog = ExportDialog(session, selection, self.prefs, self.exporter, self)
        dialog.setWindowModality(Qt.WindowModality.NonModal)  # review can go on while it writes
        dialog.finished.connect(lambda _r: save_preferences(self.prefs, self.paths))
        dialog.export_finished.connect(lambda: self._save_after_export(session))
        self._export_dialog = dialog
        dialog.open()
        return dialog

    def _save_after_export(self, session: Session) -> None:
        """Record what was exported, even if another folder was opened meanwhile."""
        if session is self.session:
            self.save_session_now(wait=False)
        else:
            try:
                self.store.save(session)
            except OSError as exc:
                self.statusBar().showMessage(f"Could not save the review: {exc}", 8000)

    def _remember_learn_folder(self, folder: str) -> None:
        if folder != self.prefs.learn_folder:
            self.prefs = dataclasses.replace(self.prefs, learn_folder=folder)
            save_preferences(self.prefs, self.paths)

    def show_learn(self) -> LearnDialog:
        """Open "Learn from Upright Pictures", with the open folder's review (non-modal: review goes on)."""
        if self._learn_dialog is not None and self._learn_dialog.isVisible():
            self._learn_dialog.raise_()
            return self._learn_dialog
        models = self.paths.data / "models"
        decisions = models / "review-decisions.jsonl"
        reviewed = 0
        if self.session is not None:
            try:
                reviewed = write_review(self.session.items, self.session.folder, decisions)
            except OSError as exc:
                self.statusBar().showMessage(f"Could not write the review for learning: {exc}", 8000)
        dialog = LearnDialog(models, self.paths.cache / "from-folder", self.prefs.weights,
                             decisions if reviewed else None, reviewed, self.prefs.learn_folder, self)
        dialog.started.connect(self._remember_learn_folder)
        dialog.setWindowModality(Qt.WindowModality.NonModal)
        dialog.adopt.connect(lambda path: self.apply_preferences(dataclasses.replace(self.prefs, weights=path)))
        self._learn_dialog = dialog
        dialog.open()
        return dialog

    def export_decisions(self, path: str | None = None) -> Path | None:
        """Save every item's decision as CSV or JSONL (by the file's suffix)."""
        if self.session is None:
            return None
        if not path:
            name = f"{Path(self.session.folder).name}-decisions.csv"
            default = str(Path(self.prefs.export_dir or Path.home()) / name)
            path, chosen = QFileDialog.getSaveFileName(
                self, "Export decisions", default, "CSV (*.csv);;JSON Lines (*.jsonl)"
            )
            if not path:
                return None
            if not Path(path).suffix:
                path += ".jsonl" if "jsonl" in chosen else ".csv"
        target = Path(path)
        fmt = "jsonl" if target.suffix.lower() in (".jsonl", ".json", ".ndjson") else "csv"
        order = self.model.keys() if self.model.rowCount() else []
        rest = [i for i in self.session.items if i.key not in set(order)]
        items = [self.session.get(k) for k in order] + rest
        count = write_decisions(items, target, fmt)
        self.statusBar().showMessage(f"Saved {count:,} decisions to {target}", 6000)
        return target

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About RotBGR",
            "<h3>RotBGR</h3><p>Finds how much images are rotated (any angle), whether they are mirrored, "
            "and how sure it is; then puts them upright.</p>"
            f"<p>Model: {self.inference.predictor_name or 'not loaded yet'} on "
            f"{self.inference.device_label or self.prefs.device}</p>",
        )

    # -- recent folders, window state ------------------------------------------------------------------------------

    def recent_folders(self) -> list[str]:
        """Recently opened folders, newest first."""
        value = window_state(self.paths).value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, folder: str) -> None:
        folders = [folder] + [f for f in self.recent_folders() if f != folder]
        window_state(self.paths).setValue("recent", folders[:MAX_RECENT])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        folders = [f for f in self.recent_folders() if Path(f).is_dir()]
        for folder in folders:
            action = self.recent_menu.addAction(theme.icon("folder"), folder)
            action.triggered.connect(lambda _c=False, f=folder: self.open_folder(f))
        if not folders:
            self.recent_menu.addAction("No recent folders").setEnabled(False)

    def _restore_window(self) -> None:
        state = window_state(self.paths)
        geometry = state.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        overlay = state.value("overlay", False)
        self.actions.overlay.setChecked(overlay in (True, "true"))

    def _save_window(self) -> None:
        state = window_state(self.paths)
        state.setValue("geometry", self.saveGeometry())
        state.setValue("overlay", self.actions.overlay.isChecked())
        state.sync()

    # -- drag and drop ---------------------------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt API
        """Accept folders and files."""
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt API
        """Open a dropped folder, or the folder of a dropped image (selecting it)."""
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        event.acceptProposedAction()
        self.open_dropped(paths)

    def open_dropped(self, paths: Sequence[str]) -> None:
        """Open what was dropped."""
        first = Path(paths[0])
        if first.is_dir() or not first.exists():
            self.open_folder(str(first))
        else:
            self.open_folder(str(first.parent), select=str(first.absolute()))

    # -- closing ---------------------------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Save everything and stop every worker (waits for them)."""
        if self._closed:
            return
        self._closed = True
        if self._open_task is not None and not self._open_task.done():
            self._open_task.cancel()
        if self._scan_worker is not None:
            self._scan_worker.cancel()
        if self._learn_dialog is not None:
            self._learn_dialog.stop()  # a training child process is killed: it writes nothing
        self.exporter.shutdown()  # the file being written is finished (or removed), then it stops
        self.inference.shutdown()
        self.scan_pool.drain()
        QCoreApplication.sendPostedEvents()  # take in the results that finished meanwhile (e.g. exported files)
        self.save_session_now(wait=True)
        self.save_pool.pool.waitForDone(10_000)
        self.thumbnails.shutdown()
        self.previews.shutdown()
        for timer in (self._save_timer, self._order_timer, self._status_timer, self._priority_timer):
            timer.stop()
        try:
            save_preferences(self.prefs, self.paths)
            self._save_window()
        except OSError:
            pass

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        """Save and stop before closing."""
        self.shutdown()
        super().closeEvent(event)

    def keyPressEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        """``?`` opens the help overlay even where the shortcut system does not see it."""
        from PySide6.QtGui import QKeyEvent

        if isinstance(event, QKeyEvent) and event.text() == "?":
            self.help_overlay.toggle()
            return
        super().keyPressEvent(event)  # type: ignore[arg-type]

