"""Batch prediction as a generator: progress and cancellation come for free."""

from __future__ import annotations

from collections import deque
from collections.abc import Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext

from PIL import Image

from rotbgr_core.imageio import (
    ImageReadError,
    InputItem,
    InputProblem,
    iter_items,
    load_for_prediction,
)
from rotbgr_core.predictor import Predictor, batch_streams, classical_threads_set, threads_per_stream
from rotbgr_core.progress import CancelToken, NullProgress, ProgressReporter
from rotbgr_core.types import Failure, ItemResult, Prediction

_Pending = tuple[InputItem | InputProblem, Future[Image.Image | Failure] | None]


def _decode(item: InputItem, apply_exif: bool) -> Image.Image | Failure:
    try:
        return load_for_prediction(item, apply_exif=apply_exif)
    except ImageReadError as exc:
        return Failure(item.display_path, str(exc))
    except MemoryError:
        return Failure(item.display_path, "not enough memory to decode this image")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the batch
        return Failure(item.display_path, f"cannot read image: {type(exc).__name__}: {exc}")


def _predict_batch(
    predictor: Predictor, items: list[InputItem], images: list[Image.Image]
) -> list[ItemResult]:
    """Predict a batch; if the batch fails, retry one by one to isolate the culprit."""
    try:
        estimates = predictor.predict_images(images)
    except Exception:  # noqa: BLE001 - fall back to per-image isolation
        results: list[ItemResult] = []
        for item, image in zip(items, images, strict=True):
            try:
                (estimate,) = predictor.predict_images([image])
            except Exception as exc:  # noqa: BLE001
                results.append(Failure(item.display_path, f"prediction failed: {exc}"))
            else:
                results.append(_to_prediction(item, estimate))
        return results
    return [_to_prediction(item, est) for item, est in zip(items, estimates, strict=True)]


def _to_prediction(item: InputItem, estimate: object) -> Prediction:
    from rotbgr_core.types import Estimate

    assert isinstance(estimate, Estimate)
    return Prediction(
        path=item.display_path,
        angle=estimate.angle,
        mirrored=estimate.mirrored,
        confidence=estimate.confidence,
        kind=estimate.kind,
    )


def predict_items(
    items: Iterable[InputItem | InputProblem],
    predictor: Predictor,
    batch_size: int = 8,
    apply_exif: bool = False,
    progress: ProgressReporter | None = None,
    cancel: CancelToken | None = None,
    total: int | None = None,
    decode_workers: int = 2,
    streams: int | None = None,
) -> Generator[ItemResult, None, None]:
    """Yield one result per item, in order, decoding ahead in a thread pool.

    ``streams`` batches are predicted at once (default: :func:`batch_streams`); with more than one, the predictor's
    classical threads are shared out among them (:func:`threads_per_stream`) while this generator runs. Stops between
    batches when ``cancel`` says so: the batches in hand are finished and yielded, no new one starts. Unreadable
    items give a :class:`Failure` and the rest go on.
    """
    progress = progress or NullProgress()
    progress.begin(total, "predict")
    batch_size = max(1, batch_size)
    streams = batch_streams(predictor) if streams is None else max(1, streams)
    done = 0
    iterator = iter(items)

    def next_chunk(pool: ThreadPoolExecutor) -> list[_Pending]:
        chunk: list[_Pending] = []
        for entry in iterator:
            if isinstance(entry, InputProblem):
                chunk.append((entry, None))
            else:
                chunk.append((entry, pool.submit(_decode, entry, apply_exif)))
                if sum(1 for _, fut in chunk if fut is not None) >= batch_size:
                    break
        return chunk

    def run_chunk(chunk: list[_Pending]) -> list[ItemResult]:
        decoded: list[tuple[InputItem | InputProblem, Image.Image | Failure]] = []
        for entry, future in chunk:
            if future is None:
                assert isinstance(entry, InputProblem)
                decoded.append((entry, Failure(entry.path, entry.error)))
            else:
                decoded.append((entry, future.result()))
        good_items = [e for e, r in decoded if isinstance(r, Image.Image) and isinstance(e, InputItem)]
        good_images = [r for _, r in decoded if isinstance(r, Image.Image)]
        predicted = iter(_predict_batch(predictor, good_items, good_images) if good_images else [])
        return [next(predicted) if isinstance(result, Image.Image) else result for _, result in decoded]

    in_flight: deque[Future[list[ItemResult]]] = deque()
    try:
        with (
            classical_threads_set(predictor, threads_per_stream(predictor, streams)) if streams > 1 else nullcontext(),
            ThreadPoolExecutor(max_workers=decode_workers, thread_name_prefix="rotbgr-decode") as pool,
            ThreadPoolExecutor(max_workers=streams, thread_name_prefix="rotbgr-batch") as batches,
        ):
            upcoming = next_chunk(pool)
            while upcoming or in_flight:
                while upcoming and len(in_flight) < streams:
                    if cancel is not None and cancel.is_cancelled():
                        for _, future in upcoming:
                            if future is not None:
                                future.cancel()
                        upcoming = []
                        break
                    in_flight.append(batches.submit(run_chunk, upcoming))
                    upcoming = next_chunk(pool)  # decode ahead while the model runs
                if not in_flight:
                    return
                for out in in_flight.popleft().result():
                    done += 1
                    yield out
                    progress.advance(done, out.path)
    finally:
        progress.end()


def iter_predictions(
    inputs: Iterable[str],
    predictor: Predictor,
    batch_size: int = 8,
    apply_exif: bool = False,
    progress: ProgressReporter | None = None,
    cancel: CancelToken | None = None,
) -> Generator[ItemResult, None, None]:
    """Predict every image found in ``inputs`` (files, folders, globs), in order."""
    items = list(iter_items(inputs))
    yield from predict_items(
        items, predictor, batch_size, apply_exif, progress, cancel, total=len(items)
    )
