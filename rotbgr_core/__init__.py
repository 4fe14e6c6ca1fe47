"""RotBGR core: find how much images are rotated and put them upright.

A library with no Qt in it, used by the CLI, the HTTP service and the app.
"""

from rotbgr_core.geometry import CropMode, correct_image, normalize_angle
from rotbgr_core.pipeline import iter_predictions, predict_items
from rotbgr_core.predictor import load_predictor
from rotbgr_core.types import Estimate, Failure, Prediction

__all__ = [
    "CropMode",
    "Estimate",
    "Failure",
    "Prediction",
    "correct_image",
    "iter_predictions",
    "load_predictor",
    "normalize_angle",
    "predict_items",
]
__version__ = "0.1.0"
