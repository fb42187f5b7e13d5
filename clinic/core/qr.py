"""QR codes drawn as inline SVG that a template writes itself: no image request, no CDN, and no
``Markup`` (the page escapes the drawing like any other value, and it holds only digits and letters)."""

from __future__ import annotations

from dataclasses import dataclass

import segno

# The quiet zone the QR standard asks for around the code, in modules: scanners need it.
QUIET_ZONE = 4


@dataclass(frozen=True)
class QRDrawing:
    """A QR code as one SVG path on a square of ``size`` modules (quiet zone included)."""

    size: int
    path: str


def qr_drawing(text: str) -> QRDrawing:
    """``text`` as a QR code (error correction M: a printed sheet survives a crease or a stain)."""
    code = segno.make(text, error="m", micro=False)
    size = int(code.symbol_size(scale=1, border=QUIET_ZONE)[0])
    runs = []
    for y, modules in enumerate(code.matrix_iter(scale=1, border=QUIET_ZONE)):
        row = tuple(modules)
        x = 0
        while x < size:
            if not row[x]:
                x += 1
                continue
            start = x
            while x < size and row[x]:
                x += 1
            # One rectangle per run of dark modules: a far shorter path than one square each.
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return QRDrawing(size, "".join(runs))
