"""HTTP service for ``rotbgr serve``: predictions and corrections over HTTP.

Endpoints (all JSON unless noted):

* ``GET /health`` - model name and device.
* ``POST /predict`` - body: one image (raw bytes, or multipart field ``image``);
  answers the SPEC's predict record.
* ``POST /fix?crop=expand|inscribed|none&format=png|jpeg|tiff|webp`` - answers
  the corrected image itself, with the prediction in ``X-RotBGR-*`` headers.

One predictor is shared by all requests behind a lock (one model per device).
Uploads go to a private temporary folder that is removed after each request.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import sys
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from PIL import Image

from rotbgr_core.export import FixOptions, export_item
from rotbgr_core.geometry import CropMode
from rotbgr_core.imageio import ImageReadError, InputItem, load_for_prediction
from rotbgr_core.predictor import Predictor, load_predictor
from rotbgr_core.types import Failure, ItemResult, Prediction

#: Largest accepted upload, in bytes.
MAX_UPLOAD = 200 * 1024 * 1024
_FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "tiff": "TIFF", "webp": "WEBP"}
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "TIFF": "image/tiff", "WEBP": "image/webp"}


class RequestError(Exception):
    """A client error, answered with status 400 and a JSON reason."""


class PredictionService:
    """The work behind the HTTP handlers, usable (and tested) without a socket."""

    def __init__(self, predictor: Predictor) -> None:
        """Serve ``predictor``; requests take turns on it."""
        self.predictor = predictor
        self._lock = threading.Lock()

    def predict_file(self, path: Path, name: str) -> ItemResult:
        """Predict one uploaded file saved at ``path``; report it as ``name``."""
        try:
            image = load_for_prediction(InputItem(str(path)))
        except ImageReadError as exc:
            return Failure(name, str(exc))
        with self._lock:
            (estimate,) = self.predictor.predict_images([image])
        return Prediction(name, estimate.angle, estimate.mirrored, estimate.confidence, estimate.kind)

    def fix_file(
        self, path: Path, name: str, crop: str | None, out_format: str | None
    ) -> tuple[ItemResult, bytes, str]:
        """Predict and correct one upload; returns the result, image bytes and MIME type.

        The correction is written by :func:`rotbgr_core.export.export_item`, so
        the answer is what ``rotbgr fix`` would write: lossless JPEG turns,
        metadata kept, EXIF Orientation reset.
        """
        result = self.predict_file(path, name)
        if not isinstance(result, Prediction):
            return result, b"", ""
        fmt = _FORMATS.get((out_format or "").lower())
        options = FixOptions(output_dir=str(path.parent / "out"), suffix="",
                             out_format="keep" if fmt is None else fmt.lower())
        record = export_item(InputItem(str(path)), result.angle, result.mirrored, options, result.kind, crop=crop)
        if record.output is None or record.error:
            return Failure(name, record.error or "the corrected image could not be written"), b"", ""
        written = Path(record.output)
        with Image.open(written) as image:
            mime = _MIME.get((image.format or "").upper(), "application/octet-stream")
        return result, written.read_bytes(), mime


def _extract_upload(content_type: str, body: bytes, query_name: str | None) -> tuple[str, bytes]:
    """The uploaded file's name and bytes, from a raw or multipart body."""
    if content_type.startswith("multipart/form-data"):
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") in ("image", "file"):
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    return part.get_filename() or "upload", payload
        raise RequestError("multipart body has no 'image' field")
    if not body:
        raise RequestError("empty request body: send the image bytes")
    return query_name or "upload", body


def make_handler(service: PredictionService) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``service``."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "RotBGR/0.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            sys.stderr.write(f"rotbgr serve: {self.address_string()} {format % args}\n")

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            if urlparse(self.path).path == "/health":
                self._json(200, {"status": "ok", "model": service.predictor.name,
                                 "device": service.predictor.device})
            else:
                self._json(404, {"error": f"no such endpoint: {self.path}"})

        def do_POST(self) -> None:  # noqa: N802 - stdlib naming
            url = urlparse(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            if url.path not in ("/predict", "/fix"):
                self._json(404, {"error": f"no such endpoint: {url.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_UPLOAD:
                    raise RequestError(f"upload too large ({length} bytes; limit {MAX_UPLOAD})")
                body = self.rfile.read(length)
                name, data = _extract_upload(self.headers.get("Content-Type", ""), body, query.get("name"))
                if query.get("crop") and query["crop"] not in {m.value for m in CropMode}:
                    raise RequestError(f"unknown crop mode {query['crop']!r}")
                if query.get("format") and query["format"].lower() not in _FORMATS:
                    raise RequestError(f"unknown format {query['format']!r}")
            except (RequestError, ValueError) as exc:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
                return
            with tempfile.TemporaryDirectory(prefix="rotbgr-serve-") as folder:
                path = Path(folder) / ("upload" + Path(name).suffix.lower())
                path.write_bytes(data)
                if url.path == "/predict":
                    result = service.predict_file(path, name)
                    self._json(200 if result.ok else 422, result.to_record())
                    return
                result, image_bytes, mime = service.fix_file(path, name, query.get("crop"), query.get("format"))
            if not isinstance(result, Prediction):
                self._json(422, result.to_record())
                return
            self.send_response(200)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(image_bytes)))
            self.send_header("X-RotBGR-Angle", f"{result.angle:.3f}")
            self.send_header("X-RotBGR-Mirrored", "true" if result.mirrored else "false")
            self.send_header("X-RotBGR-Confidence", f"{result.confidence:.4f}")
            self.end_headers()
            self.wfile.write(image_bytes)

    return Handler


def make_server(host: str, port: int, predictor: Predictor) -> ThreadingHTTPServer:
    """A ready (not yet serving) HTTP server; port 0 picks a free port."""
    server = ThreadingHTTPServer((host, port), make_handler(PredictionService(predictor)))
    server.daemon_threads = True
    return server


def serve(host: str, port: int, weights: str | None, device: str) -> int:
    """Serve predictions over HTTP until interrupted; returns an exit status."""
    try:
        predictor = load_predictor(weights, device)
    except (ValueError, FileNotFoundError) as exc:  # an unknown device, a file that is not our weights
        sys.stderr.write(f"rotbgr serve: error: {exc}\n")
        return 2
    try:
        server = make_server(host, port, predictor)
    except OSError as exc:
        sys.stderr.write(f"rotbgr serve: error: cannot listen on {host}:{port}: {exc.strerror or exc}\n")
        return 1
    sys.stderr.write(f"rotbgr serve: {predictor.name} on {predictor.device}, "
                     f"listening on http://{host}:{server.server_address[1]}\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
