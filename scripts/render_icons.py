"""Render resources/icons/signpipe.svg into the PNG sizes desktops ask for.

    python scripts/render_icons.py

Writes resources/icons/signpipe-<size>.png for each size, with Qt's SVG renderer, so
the PNGs always match the SVG they come from. Runs without a display.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 32, 48, 64, 128, 256)


def render(svg: Path, size: int) -> QImage:
    """The SVG drawn into a transparent square image of ``size`` pixels."""
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    """Render every size next to the SVG."""
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    svg = ICONS / "signpipe.svg"

    for size in SIZES:
        target = ICONS / f"signpipe-{size}.png"
        if not render(svg, size).save(str(target), "PNG"):
            raise SystemExit(f"could not write {target}")
        print(f"wrote {target.relative_to(ICONS.parent.parent)}")

    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
