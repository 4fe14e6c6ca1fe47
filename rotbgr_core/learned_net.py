"""The network behind the learned predictor: EfficientNet-Lite0 with RotBGR heads.

The architecture is defined here so that inference needs only torch.  Parameter
names match the ``efficientnet-lite-pytorch`` package, so its ImageNet weights
load straight into :class:`RotNet` for training.  Convolutions use symmetric
``k // 2`` padding (the original uses TensorFlow "same" padding, a one-pixel
shift that fine-tuning absorbs).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import torch
from torch import nn

#: (repeats, kernel, stride, expand ratio, in channels, out channels) of EfficientNet-Lite0.
LITE0_BLOCKS: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)

#: The eight classes of the remaining correction: ``2 * quarter_turns + mirrored``.
NUM_CLASSES = 8

_BN_MOMENTUM = 0.01
_BN_EPS = 1e-3


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation (the Lite variant)."""

    def __init__(self, kernel: int, stride: int, expand: int, inp: int, out: int) -> None:
        super().__init__()
        mid = inp * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(inp, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, momentum=_BN_MOMENTUM, eps=_BN_EPS)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, padding=kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, momentum=_BN_MOMENTUM, eps=_BN_EPS)
        self._project_conv = nn.Conv2d(mid, out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(out, momentum=_BN_MOMENTUM, eps=_BN_EPS)
        self.skip = stride == 1 and inp == out
        self.act = nn.ReLU6(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        y = x
        if self.expand:
            y = self.act(self._bn0(self._expand_conv(y)))
        y = self.act(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if self.skip:
            y = y + x
        result: torch.Tensor = y
        return result


@dataclass(frozen=True)
class RotNetOutput:
    """Raw outputs for a batch of views.

    ``classes``: logits of the 8 remaining corrections; ``document``: logit of
    "this is a document"; ``residual``: the remaining small angle, in units of
    45 degrees.
    """

    classes: torch.Tensor
    document: torch.Tensor
    residual: torch.Tensor


class RotNet(nn.Module):
    """EfficientNet-Lite0 trunk, global average pooling and three small heads."""

    def __init__(self, dropout: float = 0.2) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, padding=1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, momentum=_BN_MOMENTUM, eps=_BN_EPS)
        blocks: list[nn.Module] = []
        for repeats, kernel, stride, expand, inp, out in LITE0_BLOCKS:
            for index in range(repeats):
                blocks.append(MBConv(kernel, stride if index == 0 else 1, expand, inp if index == 0 else out, out))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, momentum=_BN_MOMENTUM, eps=_BN_EPS)
        self.act = nn.ReLU6(inplace=True)
        self.dropout = nn.Dropout(dropout)
        self.head_classes = nn.Linear(1280, NUM_CLASSES)
        self.head_document = nn.Linear(1280, 1)
        self.head_residual = nn.Linear(1280, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled 1280-d features of a batch of normalised images."""
        x = self.act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = self.act(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> RotNetOutput:
        """Run the trunk and the heads."""
        feats = self.dropout(self.features(x))
        return RotNetOutput(
            classes=self.head_classes(feats),
            document=self.head_document(feats).squeeze(1),
            residual=self.head_residual(feats).squeeze(1),
        )


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold each batch norm into the convolution before it, for inference (eval mode only).

    The outputs are the same up to rounding; the CPU skips one pass over every feature map (about a fifth of
    the trunk's layers). A folded network has other parameters (convolution biases, no batch norms), so it is for
    prediction only: load a fresh one to train or to save weights.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if module.training:
        raise ValueError("fold_batchnorm needs a network in eval mode")
    pairs: list[tuple[nn.Module, str, str]] = []
    for owner in module.modules():
        if isinstance(owner, nn.Sequential):
            names = list(owner._modules)
            pairs += [(owner, a, b) for a, b in zip(names, names[1:], strict=False)
                      if isinstance(owner._modules[a], nn.Conv2d) and isinstance(owner._modules[b], nn.BatchNorm2d)]
        elif isinstance(owner, MBConv):
            pairs += [(owner, "_expand_conv", "_bn0")] if owner.expand else []
            pairs += [(owner, "_depthwise_conv", "_bn1"), (owner, "_project_conv", "_bn2")]
        elif isinstance(owner, RotNet):
            pairs += [(owner, "_conv_stem", "_bn0"), (owner, "_conv_head", "_bn1")]
    for owner, conv, norm in pairs:
        conv_layer, norm_layer = getattr(owner, conv), getattr(owner, norm)
        assert isinstance(conv_layer, nn.Conv2d) and isinstance(norm_layer, nn.BatchNorm2d)
        setattr(owner, conv, fuse_conv_bn_eval(conv_layer, norm_layer))
        setattr(owner, norm, nn.Identity())
    return module


#: The most views the main network takes at once on the CPU: from 16 images on, PyTorch runs its 1x1 convolutions
#: (two thirds of its time) with oneDNN, and beyond that the activations outgrow the cache. 32 text patches in two
#: pieces of 16: 4.7 -> 3.95 ms a view on one thread, the same numbers to the bit.
CPU_PIECE = 16

#: The smallest batch that :func:`run_in_chunks` splits: below it, a second thread costs more than it saves.
MIN_SPLIT_BATCH = 4

_Out = TypeVar("_Out")


def run_in_chunks(run: Callable[[torch.Tensor], _Out], batch: torch.Tensor, threads: int,
                  most: int | None = None) -> list[_Out]:
    """``run`` on ``threads`` consecutive slices of a CPU batch at once; one result per slice, in order.

    Prediction runs torch on one thread (see ``learned.cpu_threads``), so its network phases leave the other
    cores idle. Slices run on Python threads, the first on the caller's (torch releases the GIL in its kernels),
    without the OpenMP workers that spin against the decoders. A batch smaller than ``MIN_SPLIT_BATCH`` per
    thread, a GPU batch, or ``threads`` 1 runs whole. Slices times torch's own threads stay within the cores.
    ``most``: on the CPU, each thread runs its slice in pieces of at most this many (see ``CPU_PIECE``).
    """
    if batch.device.type != "cpu":
        return [run(batch)]
    cores = os.cpu_count() or 1
    threads = max(1, min(threads, len(batch) // MIN_SPLIT_BATCH, cores // max(1, torch.get_num_threads())))
    bounds = [round(len(batch) * part / threads) for part in range(threads + 1)]
    slices = [batch[start:stop] for start, stop in zip(bounds, bounds[1:], strict=False)]
    step = most or len(batch)

    def run_slice(part: torch.Tensor) -> list[_Out]:
        return [run(part[start:start + step]) for start in range(0, len(part), step)] if len(part) else [run(part)]

    if threads == 1:
        return run_slice(batch)
    with ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="rotbgr-net") as pool:
        others = pool.map(run_slice, slices[1:])  # the first slice runs on the calling thread meanwhile
        return [out for pieces in (run_slice(slices[0]), *others) for out in pieces]
