"""The ``rotbgr`` command line (``shared/SPEC.md`` section 3).

Results go to stdout, progress and logs to stderr.  Exit status: 0 when every
input succeeded, 1 when some failed and the rest were processed, 2 for bad
usage.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Generator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rotbgr_core.predictor import Predictor
    from rotbgr_core.types import ItemResult

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
#: A run stopped by Ctrl-C (128 + SIGINT, what a shell reports for it); not one of the SPEC's outcomes.
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors exit with the SPEC's usage status."""

    def error(self, message: str) -> None:  # type: ignore[override]
        """Print usage and exit 2."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


#: ``rotbgr train STAGE``: the text-window and glyph networks' steps (see rotbgr_core/training/README.md).
TRAIN_STAGES = {
    "docorient-pool": "rotbgr_core.training.docorient_pool",
    "docorient": "rotbgr_core.training.train_docorient",
    "calibrate-docorient": "rotbgr_core.training.calibrate_docorient",
    "calibrate-fusion": "rotbgr_core.training.calibrate_fusion",
    "glyphs": "rotbgr_core.training.train_glyphs",
}

def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _unit_float(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _quality(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("must be between 1 and 100")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The full ``rotbgr`` argument parser."""
    parser = _Parser(prog="rotbgr", description="Find how much images are rotated and put them upright.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
        p.add_argument("--batch-size", type=_positive_int, default=8, help="images per model batch")
        p.add_argument("--weights", default=None, help="weights file, or 'classical' (default: shipped model)")
        p.add_argument("--exif", action="store_true", help="apply EXIF orientation before predicting")

    predict = sub.add_parser("predict", help="print the predicted correction of each image")
    predict.add_argument("--format", choices=("jsonl", "csv", "table"), default="jsonl")
    common(predict)
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")

    fix = sub.add_parser("fix", help="write corrected copies of the images")
    fix.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or globs")
    fix.add_argument("--output", required=True, help="output folder (created if missing)")
    fix.add_argument("--crop", choices=("inscribed", "expand", "none"), default=None,
                     help="canvas after a non-right-angle turn (default: inscribed for photos, expand for documents)")
    fix.add_argument("--min-confidence", type=_unit_float, default=0.0,
                     help="leave images below this confidence uncorrected and mark them for review")
    fix.add_argument("--below-confidence", choices=("copy", "skip"), default="copy",
                     help="what to do with images under --min-confidence (default: copy unchanged)")
    fix.add_argument("--suffix", default="_rotated", help="added to output file names")
    fix.add_argument("--quality", type=_quality, default=None, help="JPEG/WebP quality (default: the input's, else 95)")
    fix.add_argument("--format", dest="out_format", choices=("keep", "jpeg", "png", "tiff", "webp"), default="keep")
    common(fix)

    gui = sub.add_parser("gui", help="open the desktop application")
    gui.add_argument("folder", nargs="?", default=None)

    serve = sub.add_parser("serve", help="serve predictions over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--device", default="auto")
    serve.add_argument("--weights", default=None)

    train = sub.add_parser("train", help="train or fine-tune the model", add_help=False)
    train.add_argument("args", nargs=argparse.REMAINDER)
    evaluate = sub.add_parser("eval", help="score weights on a labelled folder", add_help=False)
    evaluate.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _stdout() -> TextIO:
    """Stdout that passes non-UTF-8 file-name bytes through unchanged."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper):
        stream.reconfigure(errors="surrogateescape")
    return stream


def _err(message: str) -> None:
    sys.stderr.write(message + "\n")


def _printable(path: str) -> str:
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _load(args: argparse.Namespace) -> Predictor | None:
    """The predictor the options ask for, or ``None`` after printing why it cannot be had."""
    from rotbgr_core.predictor import load_predictor

    try:
        return load_predictor(args.weights, args.device)
    except (ValueError, FileNotFoundError) as exc:  # an unknown device, a file that is not our weights
        _err(f"rotbgr: error: {exc}")
        return None


class StopOnInterrupt:
    """A cancel token that the first Ctrl-C sets; a second Ctrl-C stops at once.

    Used as a context manager around a batch: the first Ctrl-C lets the work in hand finish (every line printed
    or file written is whole and reported), the batch stops before the next images. Nothing is installed where
    Ctrl-C is ignored (a background job) or off the main thread.
    """

    def __init__(self) -> None:
        """Not cancelled yet."""
        self.requested = False
        self._previous: Any = None

    def is_cancelled(self) -> bool:
        """Whether Ctrl-C was pressed."""
        return self.requested

    def __enter__(self) -> StopOnInterrupt:
        """Catch Ctrl-C (SIGINT) while the batch runs."""
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN):
            self._previous = signal.signal(signal.SIGINT, self._on_interrupt)
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Give Ctrl-C back to what handled it before."""
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        _err("rotbgr: stopping after the images in hand (Ctrl-C again to stop at once)")


def run_predict(args: argparse.Namespace) -> int:
    """``rotbgr predict``: one line per item on stdout, in input order."""
    from rotbgr_core.pipeline import iter_predictions
    from rotbgr_core.progress import StderrProgress

    predictor = _load(args)
    if predictor is None:
        return EXIT_USAGE
    out = _stdout()
    with StopOnInterrupt() as stop:
        results = iter_predictions(args.inputs, predictor, args.batch_size, args.exif, StderrProgress(), stop)
        try:
            failed = _write_predictions(results, out, args.format)
        except BrokenPipeError:
            # The reader left (``rotbgr predict DIR | head``): stop predicting, quietly, as a pipeline's tools do.
            results.close()
            _silence_stdout()
            return EXIT_SOME_FAILED
        except OSError as exc:
            # The results cannot be written (a full disk): predicting on would only lose them.
            results.close()
            _silence_stdout()
            _err(f"rotbgr: error: cannot write the results: {exc.strerror or exc}")
            return EXIT_SOME_FAILED
    if stop.requested:
        _err("rotbgr: interrupted: the inputs after the last line printed were not predicted")
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if failed else EXIT_OK


def _write_predictions(results: Generator[ItemResult, None, None], out: TextIO, out_format: str) -> int:
    """Write one line per result in ``out_format`` (flushed as it comes); returns how many failed."""
    failed = 0
    writer = csv.writer(out) if out_format == "csv" else None
    if writer is not None:
        writer.writerow(["path", "angle", "mirrored", "confidence", "error"])
    elif out_format == "table":
        out.write(f"{'angle':>8}  {'mirror':6}  {'conf':>5}  path\n")
    for result in results:
        record = result.to_record()
        if not result.ok:
            failed += 1
            _err(f"rotbgr: {_printable(result.path)}: {record['error']}")
        if out_format == "jsonl":
            out.write(json.dumps(record) + "\n")
        elif writer is not None:
            writer.writerow([record[k] if record[k] is not None else "" for k in
                             ("path", "angle", "mirrored", "confidence", "error")])
        elif result.ok:
            out.write(f"{record['angle']:>8.2f}  {'yes' if record['mirrored'] else 'no':6}  "
                      f"{record['confidence']:>5.2f}  {_printable(result.path)}\n")
        else:
            out.write(f"{'-':>8}  {'-':6}  {'-':>5}  {_printable(result.path)}  ERROR: {record['error']}\n")
        out.flush()
    return failed


def _silence_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last flush cannot fail on a closed pipe."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return  # not a file (a test's capture): nothing to flush at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, descriptor)
    os.close(devnull)


def run_fix(args: argparse.Namespace) -> int:
    """``rotbgr fix``: corrected copies plus ``report.jsonl``."""
    from rotbgr_core.export import FixOptions, fix_inputs
    from rotbgr_core.progress import StderrProgress

    predictor = _load(args)
    if predictor is None:
        return EXIT_USAGE
    options = FixOptions(
        output_dir=args.output,
        crop=args.crop,
        min_confidence=args.min_confidence,
        below_confidence=args.below_confidence,
        suffix=args.suffix,
        quality=args.quality,
        out_format=args.out_format,
        batch_size=args.batch_size,
        apply_exif=args.exif,
    )
    with StopOnInterrupt() as stop:
        status: int = fix_inputs(args.inputs, predictor, options, progress=StderrProgress(), log=_err, cancel=stop)
    if stop.requested:
        _err("rotbgr: interrupted: the inputs not in the report were not processed")
        return EXIT_INTERRUPTED
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rotbgr`` console script."""
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0] in ("train", "eval"):
        # Their own parsers take every option (argparse's REMAINDER would refuse a leading --help).
        args = argparse.Namespace(command=words[0], args=words[1:])
    else:
        args = parser.parse_args(words)
    if args.command == "predict":
        return run_predict(args)
    if args.command == "fix":
        return run_fix(args)
    if args.command == "gui":
        from rotbgr_core.launch import launch_gui

        return launch_gui(args.folder)
    if args.command == "serve":
        from rotbgr_core.service import serve

        return serve(args.host, args.port, args.weights, args.device)
    if args.command == "train":
        import importlib

        # `rotbgr train STAGE ...` runs one of the page pipeline's steps; anything else is the main model's trainer.
        stage = args.args[0] if args.args else ""
        module = TRAIN_STAGES.get(stage, "rotbgr_core.training.train")
        rest = args.args[1:] if stage in TRAIN_STAGES else args.args
        return int(importlib.import_module(module).main(rest) or 0)
    if args.command == "eval":
        from rotbgr_core.training.evaluate import main as eval_main

        return int(eval_main(args.args) or 0)
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


#: Commands whose work is over when :func:`main` returns (outputs closed, workers joined): they may skip teardown.
QUICK_EXIT_COMMANDS = ("predict", "fix")


def console_main() -> None:
    """The ``rotbgr`` console script: :func:`main`, then, for ``predict`` and ``fix``, a quick exit.

    When their :func:`main` returns, every output is written and closed and every worker has stopped; what is
    left is the interpreter's teardown, which with torch loaded takes about half a second (0.49-0.67 s measured
    here, a fifth of a one-image ``rotbgr predict``). So the streams are flushed and the process leaves at once,
    unless some other thread is still running (then the normal exit waits for it). Other commands (training,
    the server) exit normally: their libraries may clean up at exit.
    """
    try:
        code = main()
    except KeyboardInterrupt:
        _err("rotbgr: interrupted")
        code = EXIT_INTERRUPTED
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        code = code or EXIT_SOME_FAILED
    try:
        sys.stderr.flush()
    except OSError:
        pass  # nowhere left to report anything
    logging.shutdown()
    quick = len(sys.argv) > 1 and sys.argv[1] in QUICK_EXIT_COMMANDS
    if not quick or any(thread.is_alive() and not thread.daemon for thread in threading.enumerate()
                        if thread is not threading.main_thread()):
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    console_main()
