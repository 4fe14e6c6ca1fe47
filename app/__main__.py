"""``python -m app [FOLDER]``: start the RotBGR desktop app (also the ``rotbgr-gui`` entry point)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the app."""
    parser = argparse.ArgumentParser(prog="rotbgr gui", description="RotBGR: put images upright, with review.")
    parser.add_argument("folder", nargs="?", default=None,
                        help="folder to open, or an image to open with its folder (default: the welcome page)")
    parser.add_argument("--sample", action="store_true", help="open the bundled sample folder")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Create the QApplication and the qasync event loop, show the window, run until it closes."""
    args = build_parser().parse_args(argv)
    import qasync
    from PySide6.QtWidgets import QApplication

    from app import theme
    from app.mainwindow import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("RotBGR")
    app.setApplicationDisplayName("RotBGR")
    app.setOrganizationName("RotBGR")
    app.setDesktopFileName("rotbgr")
    theme.apply_theme(app)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    window = MainWindow()
    window.show()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl+C or a kill closes the window properly (saving)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, window.close)
    folder = str(theme.SAMPLE_FOLDER) if args.sample else args.folder
    if folder:
        loop.call_soon(window.open_dropped, [folder])
    with loop:
        loop.run_until_complete(closed.wait())
    window.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
