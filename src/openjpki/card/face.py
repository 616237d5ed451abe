"""The card face's images, made with Pillow: the name, the address, the security code and
the individual number as PNG text images in a Japanese IPA font, and a synthetic face photo
in JPEG 2000 (Pillow's OpenJPEG codec).

Everything is deterministic: the same facts give the same bytes (PNG and OpenJPEG output
depend only on the pixels and the settings), so tests and clients can compare images. The
face photo is drawn from a seed (a hash of the individual number): no real person's face.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

# Debian's fonts-ipafont-gothic / fonts-ipafont-mincho (scripts/setup installs them).
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf",
)
TEXT_HEIGHT = 40
PHOTO_SIZE = (96, 120)


class FontMissing(Exception):
    """No Japanese font to draw the card face with."""


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            return ImageFont.truetype(path, size)
    raise FontMissing("no IPA font found: install fonts-ipafont-gothic (scripts/setup)")


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def text_png(text: str, *, size: int = 28, width: int | None = None) -> bytes:
    """``text`` in black on white, one line per ``\\n``, 1-bit PNG."""
    font = _font(size)
    lines = text.split("\n") or [""]
    boxes = [font.getbbox(line or " ") for line in lines]
    line_h = max(size + 6, TEXT_HEIGHT)
    w = width or max(8, max(b[2] for b in boxes) + 8)
    img = Image.new("1", (w, line_h * len(lines)), 1)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((4, i * line_h + 3), line, font=font, fill=0)
    return _png(img)


def _wrap(text: str, per_line: int) -> str:
    return "\n".join(text[i:i + per_line] for i in range(0, len(text), per_line)) or text


def name_png(name: str) -> bytes:
    return text_png(name, size=30)


def address_png(address: str) -> bytes:
    return text_png(_wrap(address, 18), size=24)


def security_code_png(code: str) -> bytes:
    return text_png(code, size=28)


def individual_number_png(number: str) -> bytes:
    spaced = f"{number[:4]} {number[4:8]} {number[8:]}" if len(number) == 12 else number
    return text_png(spaced, size=30)


def face_jp2(seed: str) -> bytes:
    """A synthetic face (head, hair, eyes, mouth on a plain background) in JPEG 2000."""
    h = hashlib.sha256(("openjpki face|" + seed).encode()).digest()
    w, ht = PHOTO_SIZE
    img = Image.new("RGB", PHOTO_SIZE, (200 + h[0] % 56, 210 + h[1] % 46, 220 + h[2] % 36))
    d = ImageDraw.Draw(img)
    skin = (180 + h[3] % 60, 140 + h[4] % 60, 110 + h[5] % 50)
    hair = (h[6] % 90, h[7] % 70, h[8] % 60)
    d.rectangle((16, 96, w - 16, ht), fill=(40 + h[9] % 150, 40 + h[10] % 150, 60 + h[11] % 150))
    d.ellipse((22, 18, w - 22, 102), fill=skin)
    d.chord((20, 10 + h[12] % 6, w - 20, 64), 180, 360, fill=hair)
    eye_y = 52 + h[13] % 6
    for x in (36, w - 44):
        d.ellipse((x, eye_y, x + 8, eye_y + 6), fill=(30, 30, 30))
    mouth_y = 80 + h[14] % 6
    d.arc((38, mouth_y - 6, w - 38, mouth_y + 6), 20, 160, fill=(120, 40, 40), width=2)
    out = io.BytesIO()
    img.save(out, format="JPEG2000", irreversible=True, quality_mode="rates",
             quality_layers=[20])
    return out.getvalue()
