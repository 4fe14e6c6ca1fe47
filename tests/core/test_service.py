"""The HTTP service, through a real server on a free local port."""

from __future__ import annotations

import io
import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from rotbgr_core.geometry import make_rotated
from rotbgr_core.predictor import ClassicalPredictor
from rotbgr_core.service import make_server, serve


@pytest.fixture()
def base_url() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, ClassicalPredictor())
    thread = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _skewed_page_png(angle: float) -> bytes:
    page = Image.new("L", (700, 900), 245)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=16)
    rng = np.random.default_rng(1)
    for y in range(60, 840, 28):
        draw.text((50, y), " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "page"], 9)), fill=20, font=font)
    buffer = io.BytesIO()
    make_rotated(page, angle, False, fill=245).save(buffer, "PNG")
    return buffer.getvalue()


def _post(url: str, data: bytes, content_type: str = "image/png") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_health(base_url: str) -> None:
    with urllib.request.urlopen(base_url + "/health", timeout=10) as response:
        payload = json.loads(response.read())
    assert payload["status"] == "ok" and payload["device"] == "cpu"


def test_predict_raw_body(base_url: str) -> None:
    status, _, body = _post(base_url + "/predict?name=page.png", _skewed_page_png(3.5))
    record = json.loads(body)
    assert status == 200
    assert record["path"] == "page.png" and record["error"] is None
    assert abs(record["angle"] - 3.5) < 0.3


def test_predict_multipart(base_url: str) -> None:
    boundary = "XyZ"
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"scan.png\"\r\n"
        "Content-Type: image/png\r\n\r\n"
    ).encode() + _skewed_page_png(-2.0) + f"\r\n--{boundary}--\r\n".encode()
    status, _, payload = _post(base_url + "/predict", body, f"multipart/form-data; boundary={boundary}")
    record = json.loads(payload)
    assert status == 200 and record["path"] == "scan.png"
    assert abs(record["angle"] + 2.0) < 0.3


def test_fix_returns_corrected_image(base_url: str) -> None:
    status, headers, body = _post(base_url + "/fix?crop=expand&format=png", _skewed_page_png(4.0))
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert abs(float(headers["X-RotBGR-Angle"]) - 4.0) < 0.3
    assert Image.open(io.BytesIO(body)).size[0] > 700


def test_bad_upload_gives_clear_error(base_url: str) -> None:
    status, _, body = _post(base_url + "/predict?name=junk.png", b"this is not an image")
    record = json.loads(body)
    assert status == 422 and record["path"] == "junk.png" and "not an image" in record["error"]
    status, _, body = _post(base_url + "/fix?crop=sideways", b"x")
    assert status == 400 and "crop" in json.loads(body)["error"]


def test_serve_says_why_it_cannot_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not our weights, or a port already taken: one clear line and a status, no traceback."""
    not_weights = tmp_path / "photo.jpg"
    Image.new("RGB", (8, 8)).save(not_weights)
    assert serve("127.0.0.1", 0, str(not_weights), "cpu") == 2
    assert "is not a RotBGR weights file" in capsys.readouterr().err
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert serve("127.0.0.1", taken.getsockname()[1], "classical", "cpu") == 1
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
