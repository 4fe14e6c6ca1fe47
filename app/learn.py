"""Learn from upright pictures: fine-tune the model on a folder of upright pictures and the review's decisions.

The folder is one the user knows to be upright (a photo library, say), not the folder under review, whose pictures
are the ones to fix: those teach through the review, each turned upright by its confirmed correction.
The work is ``rotbgr train --from-folder`` (:mod:`rotbgr_core.training.train`) run as a child process
(``QProcess``): training holds the CPU for minutes, and a child keeps the window responsive, can be stopped at
once, and cannot take the app down with it. The command holds out a fifth of the folder, scores the current and
the fine-tuned model on it, and writes new weights only if they score better; this dialog then offers to use them.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, QProcessEnvironment, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.model import Item, atomic_write_text, decision_record

#: Below this many pictures the dialog says that the held-out check is rough.
FEW_PICTURES = 50
#: The trainer's least number of pictures.
MIN_PICTURES = 10


def count_pictures(folder: Path, limit: int = FEW_PICTURES) -> int:
    """How many pictures the trainer would read in ``folder`` (and below), counting no further than ``limit``.

    The dialog only needs to know "under 10", "under 50" or "enough": a photo library of 100,000 files (or a
    half-typed ``/``) is not walked whole.
    """
    from rotbgr_core.training.train import is_folder_picture

    return sum(1 for _ in itertools.islice((p for p in folder.rglob("*") if is_folder_picture(p)), limit))


def write_review(items: Iterable[Item], folder: str, path: Path) -> int:
    """Write the reviewed items' decisions (JSONL, absolute image paths) for ``--corrections``; returns the count.

    The file goes beside the app's own data, never into the user's folder; it is replaced whole.
    """
    from rotbgr_core.training.train import REVIEWED_STATES

    lines = []
    for item in items:
        record = decision_record(item)
        if record["state"] not in REVIEWED_STATES or record["final_angle"] is None:
            continue
        image = Path(item.key)
        record["path"] = str(image if image.is_absolute() else Path(folder) / image)
        lines.append(json.dumps(record) + "\n")
    atomic_write_text(path, "".join(lines))
    return len(lines)


def learn_command(folder: str, steps: int, out: Path, work: Path, weights: str = "",
                  corrections: Path | None = None) -> list[str]:
    """The ``rotbgr train --from-folder`` arguments (after the Python executable) for one run."""
    args = ["-m", "rotbgr_core", "train", "--from-folder", folder, "--steps", str(steps), "--out", str(out),
            "--work", str(work)]
    if weights:
        args += ["--weights", weights]
    if corrections is not None:
        args += ["--corrections", str(corrections)]
    return args


def read_summary(stdout: str) -> dict[str, Any] | None:
    """The command's JSON summary: its last stdout line that parses as an object, if any."""
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "kept" in value:
            return value
    return None


class LearnDialog(QDialog):
    """Run one fine-tuning on a folder, show its log, and offer the result.

    Signals:
        adopt(str): the user chose to use the new weights file.
        started(str): a run started on this folder of upright pictures.
    """

    adopt = Signal(str)
    started = Signal(str)

    def __init__(self, models_dir: Path, work_dir: Path, weights: str = "", decisions: Path | None = None,
                 reviewed: int = 0, folder: str = "", parent: QWidget | None = None) -> None:
        """Offer a run.

        ``models_dir`` receives the new weights, ``work_dir`` the trainer's checkpoints; ``decisions`` is the
        review written by :func:`write_review` (``reviewed`` records); ``folder``: the upright pictures, if known.
        """
        super().__init__(parent)
        self.setWindowTitle("Learn from Upright Pictures")
        self.models_dir = models_dir
        self.work_dir = work_dir
        self.weights = weights
        self.decisions = decisions
        self.reviewed = reviewed
        self.summary: dict[str, Any] | None = None
        self.out: Path | None = None
        self.process: QProcess | None = None
        self._stdout = ""

        intro = QLabel(
            "Choose a folder of pictures that are already upright, such as your photo library: RotBGR turns them "
            "in every way and learns from them, and from the images you accepted or adjusted here. A fifth of the "
            "folder is kept aside to check the result: the new model is offered only if it does better there. "
            "The model you use now is never changed."
        )
        intro.setWordWrap(True)
        self.folder_edit = QLineEdit(folder)
        self.folder_edit.setPlaceholderText("A folder of upright pictures")
        browse = QPushButton("Choose…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.steps = QSpinBox()
        self.steps.setRange(1, 5000)
        self.steps.setValue(150)
        self.steps.setSuffix(" steps")
        self.steps.setToolTip("About 1-2 seconds a step on a laptop CPU; 150 is a few minutes")
        self.use_review = QCheckBox(f"Also learn from my review ({reviewed:,} accepted or adjusted images)")
        self.use_review.setChecked(decisions is not None and reviewed > 0)
        self.use_review.setEnabled(decisions is not None and reviewed > 0)
        form = QFormLayout()
        form.addRow("Upright pictures", folder_row)
        form.addRow("Training", self.steps)
        form.addRow("", self.use_review)
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMinimumHeight(160)
        self.log.setPlaceholderText("What the training does appears here.")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.buttons = QDialogButtonBox()
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.use_button = QPushButton("Use the New Model")
        self.use_button.setVisible(False)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.close_button = QPushButton("Close")
        for button, role in ((self.start_button, QDialogButtonBox.ButtonRole.AcceptRole),
                             (self.use_button, QDialogButtonBox.ButtonRole.AcceptRole),
                             (self.stop_button, QDialogButtonBox.ButtonRole.ActionRole),
                             (self.close_button, QDialogButtonBox.ButtonRole.RejectRole)):
            self.buttons.addButton(button, role)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.close_button.clicked.connect(self.reject)
        self.use_button.clicked.connect(self._use)
        # The folder is checked once typing pauses, not at every keystroke.
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(300)
        self._check_timer.timeout.connect(self._check_folder)
        self.folder_edit.textChanged.connect(self._folder_edited)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(self.progress)
        layout.addWidget(self.log, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(640, 480)
        self._check_folder()

    @property
    def folder(self) -> str:
        """The chosen folder of upright pictures."""
        return self.folder_edit.text().strip()

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "A folder of upright pictures", self.folder or str(Path.home()))
        if chosen:
            self.folder_edit.setText(chosen)

    def _folder_edited(self) -> None:
        self.start_button.setEnabled(False)
        self._check_timer.start()

    def _check_folder(self) -> None:
        """Count the folder's pictures; Start needs at least the trainer's 10."""
        folder = Path(self.folder) if self.folder else None
        count = count_pictures(folder) if folder is not None and folder.is_dir() else 0
        if folder is None:
            self.hint.setText("")
        elif not folder.is_dir():
            self.hint.setText("This folder does not exist.")
        elif count < MIN_PICTURES:
            self.hint.setText(f"{count:,} pictures here: the training needs at least {MIN_PICTURES}.")
        elif count < FEW_PICTURES:
            self.hint.setText(f"{count:,} pictures: the check on the fifth kept aside is rough; a few hundred "
                              f"upright pictures teach more.")
        else:
            self.hint.setText(f"{count:,} pictures or more.")
        self.start_button.setEnabled(count >= MIN_PICTURES and not self.running)

    @property
    def running(self) -> bool:
        """Whether the training process is alive."""
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def start(self) -> None:
        """Start the training process."""
        if self.running or not self.folder:
            return
        self.models_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.out = self.models_dir / f"{Path(self.folder).name or 'folder'}-{stamp}.pt"
        corrections = self.decisions if self.use_review.isChecked() else None
        process = QProcess(self)
        environment = QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(environment)
        process.readyReadStandardError.connect(self._read_log)
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._failed_to_start)
        self.process = process
        self._stdout = ""
        self.summary = None
        self.log.clear()
        self.progress.setRange(0, 0)  # busy
        self.status.setText("Learning… you can go on reviewing meanwhile.")
        self.start_button.setEnabled(False)
        self.folder_edit.setEnabled(False)
        self.steps.setEnabled(False)
        self.use_review.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.use_button.setVisible(False)
        self.started.emit(self.folder)
        process.start(sys.executable, learn_command(self.folder, self.steps.value(), self.out, self.work_dir,
                                                    self.weights, corrections))

    def stop(self) -> None:
        """Stop the training; nothing is written."""
        if self.running:
            assert self.process is not None
            self.status.setText("Stopping…")
            self.process.kill()
            self.process.waitForFinished(5000)

    def reject(self) -> None:
        """Closing the dialog stops a training in progress."""
        self.stop()
        super().reject()

    def _read_log(self) -> None:
        assert self.process is not None
        text = bytes(self.process.readAllStandardError().data()).decode("utf-8", "replace")
        for line in text.splitlines():
            if line.strip():
                self.log.appendPlainText(line.rstrip())

    def _read_stdout(self) -> None:
        assert self.process is not None
        self._stdout += bytes(self.process.readAllStandardOutput().data()).decode("utf-8", "replace")

    def _failed_to_start(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._done(f"Could not start the training ({sys.executable}).")

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_log()
        self._read_stdout()
        if status != QProcess.ExitStatus.NormalExit:
            self._done("Stopped. Nothing was written; the model you use is unchanged.")
            return
        summary = read_summary(self._stdout)
        self.summary = summary
        if code != 0 or summary is None:
            self._done(f"The training failed (exit code {code}); see the log above. The model you use is unchanged.")
            return
        before, after = 100.0 * float(summary["base"]), 100.0 * float(summary["tuned"])
        scores = f"{before:.1f}% → {after:.1f}% fully correct on {summary['held_out']:,} held-out test images"
        if summary.get("kept") and summary.get("out") and Path(str(summary["out"])).is_file():
            self._done(f"Better on the pictures kept aside: {scores}. Saved as {summary['out']}.")
            self.use_button.setVisible(True)
            self.use_button.setDefault(True)
        else:
            self._done(f"No gain on the pictures kept aside ({scores}): nothing was saved, the model stays.")

    def _done(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.status.setText(message)
        self.start_button.setText("Start Again")
        self.folder_edit.setEnabled(True)
        self.steps.setEnabled(True)
        self._check_folder()
        self.use_review.setEnabled(self.decisions is not None and self.reviewed > 0)
        self.stop_button.setEnabled(False)

    def _use(self) -> None:
        if self.summary and self.summary.get("out"):
            self.adopt.emit(str(self.summary["out"]))
        self.accept()
