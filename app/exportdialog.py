"""Batch export: the dialog (options, progress, summary) and the service that runs it in one writer thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import theme
from app.export_adapter import ExportResult, export_tasks
from app.exportplan import (
    ExportPlan,
    ExportSettings,
    PlanError,
    plan_tasks,
    report_record,
    select_items,
    write_report,
)
from app.inference import format_duration
from app.model import Correction, Session, atomic_write_text, decision_record
from app.settings import Preferences
from app.workers import CancelFlag, GeneratorWorker, Pool

REPORT_NAME = "report.jsonl"


@dataclass
class ExportSummary:
    """How an export went."""

    total: int
    results: list[ExportResult] = field(default_factory=list)
    cancelled: bool = False
    elapsed: float = 0.0
    report: Path | None = None

    @property
    def written(self) -> int:
        """Files written."""
        return sum(1 for r in self.results if r.ok)

    @property
    def failures(self) -> list[ExportResult]:
        """Items that could not be written."""
        return [r for r in self.results if not r.ok]


class ExportService(QObject):
    """Runs exports in a single writer thread; one export at a time."""

    progress = Signal(int, int)
    result = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = Pool("export", 1)
        self._worker: GeneratorWorker | None = None

    @property
    def running(self) -> bool:
        """Whether an export is in progress."""
        return self._worker is not None

    async def run(
        self,
        plan: ExportPlan,
        out_format: str,
        quality: int | None,
        report_records: dict[str, dict[str, object]],
        report_path: Path | None,
        on_result: Callable[[ExportResult], None] | None = None,
    ) -> ExportSummary:
        """Export the plan's tasks in the background and return the summary (awaitable on the qasync loop).

        ``report_records`` holds, per key, the review fields copied when the export started; each
        line of the report adds what the core did.
        """
        if self._worker is not None:
            raise RuntimeError("an export is already running")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        tasks = list(plan.tasks)
        summary = ExportSummary(total=len(tasks))
        start = time.monotonic()

        def work(cancel: CancelFlag) -> Iterator[ExportResult]:
            lines: list[dict[str, object]] = []
            try:
                for result in export_tasks(tasks, plan.layout, out_format, quality, cancel):
                    lines.append(report_record(report_records.get(result.key, {"path": result.key}), result))
                    yield result
            finally:
                if report_path is not None and lines:
                    try:
                        write_report(report_path, lines)
                    except OSError:
                        pass  # the files are written; only the report is missing

        worker = GeneratorWorker(work, "export")
        self._worker = worker

        def on_value(result: ExportResult) -> None:
            summary.results.append(result)
            if on_result is not None:
                on_result(result)
            self.result.emit(result)
            self.progress.emit(len(summary.results), summary.total)

        worker.signals.yielded.connect(on_value)
        worker.signals.finished.connect(lambda: done.done() or done.set_result(None))
        self.progress.emit(0, summary.total)
        self._pool.start(worker)
        try:
            await done
        finally:
            summary.cancelled = worker.cancel_flag.is_cancelled()
            summary.elapsed = time.monotonic() - start
            summary.report = report_path if report_path is not None and summary.results else None
            self._worker = None
        return summary

    def cancel(self) -> None:
        """Stop after the file being written (which is completed or removed, never left partial)."""
        if self._worker is not None:
            self._worker.cancel()

    def shutdown(self, timeout_ms: int = 15_000) -> bool:
        """Cancel and wait for the writer thread."""
        self.cancel()
        return self._pool.drain(timeout_ms)


def build_plan(
    session: Session, settings: ExportSettings, selection: Sequence[str], preferences: Preferences
) -> ExportPlan:
    """The tasks of an export (raises :class:`PlanError` with a message for the user)."""
    items = select_items(session.items, settings.scope, settings.min_confidence, selection)
    if not items:
        raise PlanError("No images match this choice.")
    return plan_tasks(items, settings, session.folder, preferences.crop_for)


class Pages(QWidget):
    """Pages shown one at a time; unlike a QStackedWidget, it is only as large as the page shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._pages: list[QWidget] = []
        self._current = 0

    def addWidget(self, page: QWidget) -> None:  # noqa: N802 - same API as QStackedWidget
        """Add a page (hidden unless it is the first)."""
        self._layout.addWidget(page)
        page.setVisible(not self._pages)
        self._pages.append(page)

    def widget(self, index: int) -> QWidget:
        """Page ``index``."""
        return self._pages[index]

    def count(self) -> int:
        """Number of pages."""
        return len(self._pages)

    def currentIndex(self) -> int:  # noqa: N802 - same API as QStackedWidget
        """The page shown."""
        return self._current

    def setCurrentIndex(self, index: int) -> None:  # noqa: N802 - same API as QStackedWidget
        """Show page ``index`` only."""
        self._current = index
        for i, page in enumerate(self._pages):
            page.setVisible(i == index)


class ExportDialog(QDialog):
    """Options, then progress (count, rate, time left, Cancel), then the summary with the failures."""

    export_finished = Signal()
    """The export ended (completed or cancelled); the session holds what was written."""

    def __init__(
        self,
        session: Session,
        selection: Sequence[str],
        preferences: Preferences,
        service: ExportService,
        parent: QWidget | None = None,
    ) -> None:
        """Export from ``session``; ``selection`` is the keys selected in the grid."""
        super().__init__(parent)
        self.setWindowTitle("Export Images")
        self.setMinimumWidth(620)
        self.session = session
        self.selection = list(selection)
        self.preferences = preferences
        self.service = service
        self.summary: ExportSummary | None = None
        self.task: asyncio.Task[ExportSummary] | None = None
        self._start = 0.0
        self.pages = Pages()
        self.pages.addWidget(self._options_page())
        self.pages.addWidget(self._progress_page())
        self.pages.addWidget(self._summary_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 18, 20, 16)
        layout.addWidget(self.pages)
        service.progress.connect(self._on_progress)
        self._update_counts()

    # -- options -------------------------------------------------------------------------------

    def _options_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        heading = QLabel("Export corrected copies")
        heading.setObjectName("itemTitle")
        layout.addWidget(heading)
        note = QLabel("Your originals are never changed. Each file is written completely or not at all.")
        note.setObjectName("muted")
        layout.addWidget(note)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(10)
        prefs = self.preferences

        folder_row = QHBoxLayout()
        self.output_edit = QLineEdit(prefs.export_dir)
        self.output_edit.setPlaceholderText("Choose where the corrected images go")
        self.output_edit.textChanged.connect(self._update_counts)
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse)
        folder_row.addWidget(self.output_edit, 1)
        folder_row.addWidget(browse)
        form.addRow("Output folder", folder_row)

        naming = QVBoxLayout()
        naming.setSpacing(8)
        self.naming_suffix = QRadioButton("Add a suffix, all in the output folder")
        self.naming_tree = QRadioButton("Same names, same folder tree under the output folder")
        self.naming_group = QButtonGroup(self)
        self.naming_group.addButton(self.naming_suffix)
        self.naming_group.addButton(self.naming_tree)
        (self.naming_tree if prefs.export_naming == "tree" else self.naming_suffix).setChecked(True)
        suffix_row = QHBoxLayout()
        suffix_row.addWidget(self.naming_suffix)
        self.suffix_edit = QLineEdit(prefs.export_suffix)
        self.suffix_edit.setMaximumWidth(140)
        suffix_row.addWidget(self.suffix_edit)
        suffix_row.addStretch(1)
        naming.addLayout(suffix_row)
        naming.addWidget(self.naming_tree)
        self.naming_group.buttonToggled.connect(lambda *_: self._update_counts())
        form.addRow("Names", naming)

        format_row = QHBoxLayout()
        self.format_combo = QComboBox()
        for text, value in (("Keep each file's format", "keep"), ("JPEG", "jpeg"), ("PNG (lossless)", "png"),
                            ("TIFF (lossless)", "tiff"), ("WebP", "webp")):
            self.format_combo.addItem(text, value)
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(prefs.export_format)))
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(0, 100)
        self.quality_spin.setSpecialValueText("Quality like the input")
        self.quality_spin.setValue(prefs.export_quality)
        self.quality_spin.setPrefix("Quality ")
        self.quality_spin.setToolTip("JPEG/WebP quality; at the minimum, each JPEG keeps its own estimated quality")
        self.format_combo.currentIndexChanged.connect(self._update_counts)
        format_row.addWidget(self.format_combo, 1)
        format_row.addWidget(self.quality_spin)
        form.addRow("Format", format_row)

        self.crop_combo = QComboBox()
        crop_auto = f"By kind: documents {prefs.crop_document}, photos {prefs.crop_photo}"
        for text, value in ((crop_auto, "auto"), ("Inscribed: no empty corners", "inscribed"),
                            ("Expand: keep the whole image", "expand"), ("None: keep the original size", "none")):
            self.crop_combo.addItem(text, value)
        self.crop_combo.setCurrentIndex(max(0, self.crop_combo.findData(prefs.export_crop)))
        form.addRow("Crop", self.crop_combo)

        scope = QVBoxLayout()
        scope.setSpacing(8)
        self.scope_accepted = QRadioButton()
        confidence_row = QHBoxLayout()
        self.scope_confidence = QRadioButton("Confidence at least")
        self.min_confidence = QDoubleSpinBox()
        self.min_confidence.setRange(0.0, 1.0)
        self.min_confidence.setSingleStep(0.05)
        self.min_confidence.setDecimals(2)
        self.min_confidence.setValue(prefs.export_min_confidence)
        self.min_confidence.valueChanged.connect(self._update_counts)
        self.min_confidence.setFixedSize(118, 32)
        self.confidence_count = QLabel("")
        self.confidence_count.setObjectName("muted")
        confidence_row.addWidget(self.scope_confidence)
        confidence_row.addWidget(self.min_confidence)
        confidence_row.addWidget(self.confidence_count)
        confidence_row.addStretch(1)
        self.scope_selection = QRadioButton()
        self.scope_group = QButtonGroup(self)
        for button in (self.scope_accepted, self.scope_confidence, self.scope_selection):
            self.scope_group.addButton(button)
        {"accepted": self.scope_accepted, "confidence": self.scope_confidence,
         "selection": self.scope_selection}[prefs.export_scope].setChecked(True)
        self.scope_group.buttonToggled.connect(lambda *_: self._update_counts())
        scope.addWidget(self.scope_accepted)
        scope.addLayout(confidence_row)
        scope.addWidget(self.scope_selection)
        form.addRow("Images", scope)
        layout.addLayout(form)

        self.plan_label = QLabel("")
        self.plan_label.setWordWrap(True)
        self.plan_label.setObjectName("muted")
        layout.addWidget(self.plan_label)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        cancel = QPushButton("Cancel")
        cancel.setAutoDefault(False)
        cancel.clicked.connect(self.reject)
        self.export_button = QPushButton(theme.icon("export"), "  Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        buttons.addWidget(cancel)
        buttons.addWidget(self.export_button)
        layout.addLayout(buttons)
        return page

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output_edit.text() or str(Path.home()))
        if folder:
            self.output_edit.setText(folder)

    def settings(self) -> ExportSettings:
        """The export settings chosen in the dialog."""
        scope = "accepted"
        if self.scope_confidence.isChecked():
            scope = "confidence"
        elif self.scope_selection.isChecked():
            scope = "selection"
        return ExportSettings(
            output_dir=Path(self.output_edit.text().strip()).expanduser() if self.output_edit.text().strip()
            else Path(),
            naming="tree" if self.naming_tree.isChecked() else "suffix",
            suffix=self.suffix_edit.text(),
            out_format=str(self.format_combo.currentData()),
            quality=self.quality_spin.value(),
            crop=str(self.crop_combo.currentData()),
            scope=scope,
            min_confidence=self.min_confidence.value(),
        )

    def _update_counts(self) -> None:
        items = self.session.items
        accepted = len(select_items(items, "accepted"))
        confident = len(select_items(items, "confidence", self.min_confidence.value()))
        selected = len(select_items(items, "selection", selection=self.selection))
        self.scope_accepted.setText(f"Accepted only ({accepted:,})")
        self.scope_confidence.setText("Confidence at least")
        self.confidence_count.setText(f"({confident:,})")
        self.confidence_count.setToolTip("Images you adjusted or accepted are included whatever their confidence")
        self.scope_selection.setText(f"The selection ({selected:,})")
        self.quality_spin.setEnabled(self.format_combo.currentData() in ("keep", "jpeg", "webp"))
        self.suffix_edit.setEnabled(self.naming_suffix.isChecked())
        settings = self.settings()
        try:
            plan = build_plan(self.session, settings, self.selection, self.preferences)
        except PlanError as exc:
            self.plan_label.setText(str(exc))
            self.plan_label.setStyleSheet(f"color: {theme.WARN.name()};")
            self.export_button.setEnabled(False)
            return
        count = len(plan.tasks)
        example = plan.example(settings.out_format)
        try:
            shown = str(example.relative_to(Path(plan.layout.output_dir)))
        except ValueError:
            shown = example.name
        self.plan_label.setStyleSheet("")
        self.plan_label.setText(
            f"{count:,} image{'s' if count != 1 else ''} will be written to {settings.output_dir}, "
            f"e.g. {shown} (an existing file is never replaced: a number is added).\n"
            f"A report of what was done to each file ({REPORT_NAME}) is saved with them."
        )
        self.export_button.setEnabled(True)

    # -- progress ------------------------------------------------------------------------------

    def _progress_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.progress_title = QLabel("Exporting…")
        self.progress_title.setObjectName("itemTitle")
        layout.addWidget(self.progress_title)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setFixedHeight(12)
        layout.addSpacing(8)
        layout.addWidget(self.progress_bar)
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("bigValue")
        layout.addWidget(self.progress_label)
        self.current_label = QLabel("")
        self.current_label.setObjectName("muted")
        layout.addWidget(self.current_label)
        self.failures_label = QLabel("")
        layout.addWidget(self.failures_label)
        note = QLabel("Keep reviewing meanwhile if you like: the images are written in the background, "
                      "each one complete or not at all.")
        note.setObjectName("muted")
        note.setWordWrap(True)
        layout.addSpacing(6)
        layout.addWidget(note)
        layout.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.stop_button = QPushButton(theme.icon("stop"), "  Cancel")
        self.stop_button.clicked.connect(self.cancel_export)
        buttons.addWidget(self.stop_button)
        layout.addLayout(buttons)
        return page

    def start(self) -> None:
        """Plan and start the export (it runs on the qasync loop; see :meth:`run`)."""
        try:
            plan = build_plan(self.session, self.settings(), self.selection, self.preferences)
        except PlanError as exc:
            self.plan_label.setText(str(exc))
            return
        self._remember()
        self.task = asyncio.ensure_future(self.run(plan))

    async def run(self, plan: ExportPlan) -> ExportSummary:
        """Show progress, run the export, then show the summary."""
        settings = self.settings()
        self._set_page(1)
        tasks = plan.tasks
        self.progress_bar.setRange(0, len(tasks))
        self._start = time.monotonic()
        self._failures = 0
        records = {t.key: decision_record(self.session.get(t.key)) for t in tasks if t.key in self.session}
        corrections = {t.key: Correction(t.angle, t.mirrored).normalized() for t in tasks}

        def on_result(result: ExportResult) -> None:
            if result.ok and result.output:
                self.session.mark_exported(result.key, corrections[result.key], result.output)
            else:
                self._failures += 1
                self.failures_label.setText(f"<span style='color:{theme.BAD.name()}'>{self._failures} failed</span>")
            self.current_label.setText(Path(result.key).name)

        report = Path(plan.layout.output_dir) / REPORT_NAME
        summary = await self.service.run(plan, settings.out_format, settings.quality, records, report, on_result)
        self.summary = summary
        self._show_summary(summary, settings.output_dir)
        self.export_finished.emit()
        return summary

    def _on_progress(self, done: int, total: int) -> None:
        if self.pages.currentIndex() != 1:
            return
        self.progress_bar.setValue(done)
        elapsed = time.monotonic() - self._start
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{done:,} of {total:,}"
        if done and rate > 0:
            text += f"  ·  {rate:.1f} images/s  ·  {format_duration((total - done) / rate)} left"
        self.progress_label.setText(text)

    def cancel_export(self) -> None:
        """Stop the export after the current file."""
        self.stop_button.setEnabled(False)
        self.progress_title.setText("Cancelling…")
        self.service.cancel()

    # -- summary -------------------------------------------------------------------------------

    def _summary_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary_title = QLabel("")
        self.summary_title.setObjectName("itemTitle")
        self.summary_detail = QLabel("")
        self.summary_detail.setObjectName("muted")
        self.summary_detail.setWordWrap(True)
        layout.addWidget(self.summary_title)
        layout.addWidget(self.summary_detail)
        self.failure_table = QTableWidget(0, 2)
        self.failure_table.setHorizontalHeaderLabels(["File", "Problem"])
        self.failure_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.failure_table.horizontalHeader().setStretchLastSection(True)
        self.failure_table.verticalHeader().setVisible(False)
        self.failure_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.failure_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.failure_table.setMinimumHeight(140)
        layout.addSpacing(6)
        layout.addWidget(self.failure_table, 1)
        buttons = QHBoxLayout()
        self.save_errors_button = QPushButton("Save Problem List…")
        self.save_errors_button.setAutoDefault(False)
        self.save_errors_button.clicked.connect(self._save_errors)
        self.open_folder_button = QPushButton(theme.icon("folder-open"), "  Open Output Folder")
        self.open_folder_button.setAutoDefault(False)
        self.open_folder_button.clicked.connect(self._open_output)
        close = QPushButton("Close")
        close.setDefault(True)
        close.clicked.connect(self.accept)
        buttons.addWidget(self.save_errors_button)
        buttons.addStretch(1)
        buttons.addWidget(self.open_folder_button)
        buttons.addWidget(close)
        layout.addLayout(buttons)
        return page

    def _set_page(self, index: int) -> None:
        """Show a page and fit the dialog to it (hidden pages take no room)."""
        self.pages.setCurrentIndex(index)
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        width = max(self.minimumWidth(), self.sizeHint().width())
        height = self.sizeHint().height()
        if layout.hasHeightForWidth():
            height = min(height, layout.totalHeightForWidth(width))
        self.resize(width, height)  # never below the layout's minimum: Qt clamps it

    def _show_summary(self, summary: ExportSummary, folder: Path) -> None:
        self._output = folder
        failures = summary.failures
        if summary.cancelled:
            title = f"Cancelled: {summary.written:,} of {summary.total:,} written"
        elif failures:
            title = f"Exported {summary.written:,} images, {len(failures):,} failed"
        else:
            title = f"Exported {summary.written:,} image{'s' if summary.written != 1 else ''}"
        self.summary_title.setText(title)
        detail = f"In {folder} · {format_duration(summary.elapsed)}"
        if summary.report is not None:
            detail += f" · report in {summary.report.name}"
        if not failures and not summary.cancelled:
            detail += "\nEvery file was written."
        self.summary_detail.setText(detail)
        self.failure_table.setRowCount(len(failures))
        for row, failure in enumerate(failures):
            self.failure_table.setItem(row, 0, QTableWidgetItem(Path(failure.key).name))
            self.failure_table.setItem(row, 1, QTableWidgetItem(failure.error or failure.action))
            self.failure_table.item(row, 0).setToolTip(failure.key)
        self.failure_table.setVisible(bool(failures))
        self.save_errors_button.setVisible(bool(failures))
        self._set_page(2)

    def _save_errors(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save problem list", str(self._output / "problems.csv"),
                                              "CSV (*.csv)")
        if path:
            self.save_failures(Path(path))

    def save_failures(self, path: Path) -> None:
        """Write the failures as CSV (file, problem)."""
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["path", "problem"])
        for failure in self.summary.failures if self.summary else []:
            writer.writerow([failure.key, failure.error or failure.action])
        atomic_write_text(path, buffer.getvalue())

    def _open_output(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._output)))

    def _remember(self) -> None:
        settings = self.settings()
        prefs = self.preferences
        prefs.export_dir = str(settings.output_dir)
        prefs.export_naming = settings.naming
        prefs.export_suffix = settings.suffix
        prefs.export_format = settings.out_format
        prefs.export_quality = settings.quality
        prefs.export_crop = settings.crop
        prefs.export_scope = settings.scope
        prefs.export_min_confidence = settings.min_confidence

    def reject(self) -> None:
        """Closing while exporting cancels the export first."""
        if self.service.running:
            self.cancel_export()
            return
        super().reject()
