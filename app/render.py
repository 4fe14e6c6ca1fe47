"""Drawing an image upright on screen, in the SPEC's convention (display only; export is the core's).

``upright = mirror_h ** mirrored (rotate_ccw(input, angle))``: on screen (y down)
a counter-clockwise turn by ``angle`` is ``QTransform.rotate(-angle)``, and the
mirror comes after the rotation.  ``tests/app/test_render.py`` checks this
against :func:`rotbgr_core.geometry.correct_image`.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QImage, QPainter, QTransform


def correction_transform(width: float, height: float, angle: float, mirrored: bool) -> QTransform:
    """Maps image pixel coordinates to the corrected image, centred on the origin."""
    transform = QTransform.fromTranslate(-width / 2.0, -height / 2.0)
    transform = transform * QTransform().rotate(-angle)
    if mirrored:
        transform = transform * QTransform.fromScale(-1.0, 1.0)
    return transform


def corrected_bounds(width: float, height: float, angle: float, mirrored: bool) -> QRectF:
    """The bounding box of the corrected image (the ``expand`` canvas), centred on the origin."""
    return correction_transform(width, height, angle, mirrored).mapRect(QRectF(0, 0, width, height))


def draw_upright(
    painter: QPainter, image: QImage, target: QRectF, angle: float, mirrored: bool, upscale: bool = False
) -> QRectF:
    """Draw ``image`` corrected by ``(angle, mirrored)``, fitted and centred in ``target``.

    Returns the rectangle the corrected image's bounding box occupies.
    """
    if image.isNull() or target.width() <= 0 or target.height() <= 0:
        return QRectF()
    width, height = float(image.width()), float(image.height())
    bounds = corrected_bounds(width, height, angle, mirrored)
    scale = min(target.width() / bounds.width(), target.height() / bounds.height())
    if not upscale:
        scale = min(scale, 1.0)
    centre = target.center()
    transform = (
        correction_transform(width, height, angle, mirrored)
        * QTransform.fromScale(scale, scale)
        * QTransform.fromTranslate(centre.x(), centre.y())
    )
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setTransform(transform, True)
    painter.drawImage(QPointF(0, 0), image)
    painter.restore()
    size = bounds.size() * scale
    return QRectF(centre.x() - size.width() / 2, centre.y() - size.height() / 2, size.width(), size.height())
