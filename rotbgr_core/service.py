"""HTTP service: ``rotbgr serve`` (being implemented)."""

from __future__ import annotations


def serve(host: str, port: int, weights: str | None, device: str) -> int:
    """Serve predictions over HTTP until interrupted; returns an exit status."""
    raise NotImplementedError("rotbgr serve is being implemented")
