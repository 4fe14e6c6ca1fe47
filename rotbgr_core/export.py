"""Writing corrected images: ``rotbgr fix`` (being implemented)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rotbgr_core.predictor import Predictor
from rotbgr_core.progress import ProgressReporter


@dataclass(frozen=True)
class FixOptions:
    """Options of ``rotbgr fix``; see the CLI help for their meaning."""

    output_dir: str
    crop: str | None = None
    min_confidence: float = 0.0
    below_confidence: str = "copy"
    suffix: str = "_rotated"
    quality: int | None = None
    out_format: str = "keep"
    batch_size: int = 8
    apply_exif: bool = False


def fix_inputs(
    inputs: Sequence[str],
    predictor: Predictor,
    options: FixOptions,
    progress: ProgressReporter | None = None,
    log: Callable[[str], None] | None = None,
) -> int:
    """Predict and write corrected copies; returns the SPEC's exit status."""
    raise NotImplementedError("rotbgr fix is being implemented")
