"""Printed letters as PDF with Japanese fonts (reportlab and the IPA fonts).

The IPA fonts come from Debian's ``fonts-ipafont-gothic`` and ``fonts-ipafont-mincho``
(``scripts/setup`` installs them). They are looked for in ``$OPENJPKI_FONT_DIR`` first, then in
the Debian paths, then anywhere under the usual font directories, then through fontconfig;
:class:`FontMissing` says what to install when none is found. reportlab embeds only the
glyphs a letter uses (a subset with a ToUnicode map, so the text can be extracted again).

:class:`Sheet` is a small A4 drawing surface in millimetres (top-left origin) on which the
documents (:mod:`letters_pdf_notice`, :mod:`letters_pdf_juminhyo`) are laid out. Output is
byte-for-byte reproducible (``invariant``): the same letter gives the same PDF and digest.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

from openjpki.private_home import make_private_dir
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from openjpki import labels as _labels

FONT_DIR_ENV = "OPENJPKI_FONT_DIR"
GOTHIC = "IPAGothic"
MINCHO = "IPAMincho"
_FONT_FILES = {GOTHIC: ("ipag.ttf", "ipagp.ttf"), MINCHO: ("ipam.ttf", "ipamp.ttf")}
_DEBIAN_DIRS = (
    "/usr/share/fonts/opentype/ipafont-gothic", "/usr/share/fonts/opentype/ipafont-mincho",
    "/usr/share/fonts/truetype/ipafont-gothic", "/usr/share/fonts/truetype/ipafont-mincho",
    "/usr/share/fonts/opentype/ipafont", "/usr/share/fonts/truetype/ipafont",
)
_ROOTS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
_lock = threading.Lock()
_registered = False


class FontMissing(RuntimeError):
    """No IPA font was found (one line naming the packages to install)."""


def find_font(name: str) -> Path:
    """The file of the IPA font ``name`` (:data:`GOTHIC` or :data:`MINCHO`)."""
    files = _FONT_FILES[name]
    dirs: list[str] = []
    if os.environ.get(FONT_DIR_ENV):
        dirs.append(os.environ[FONT_DIR_ENV])
    dirs.extend(_DEBIAN_DIRS)
    for d in dirs:
        for f in files:
            p = Path(d).expanduser() / f
            if p.is_file():
                return p
    for root in _ROOTS:
        base = Path(root).expanduser()
        if not base.is_dir():
            continue
        for dirpath, _dirs, names in os.walk(base):
            for f in files:
                if f in names:
                    return Path(dirpath) / f
    found = _fc_match(name)
    if found is not None:
        return found
    raise FontMissing(f"the Japanese font {name} ({files[0]}) was not found: install the Debian "
                      "packages fonts-ipafont-gothic and fonts-ipafont-mincho (scripts/setup "
                      f"does), or set ${FONT_DIR_ENV} to a directory holding {files[0]}")


def _fc_match(name: str) -> Path | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    family = "IPAGothic" if name == GOTHIC else "IPAMincho"
    try:
        out = subprocess.run([exe, "-f", "%{file}", family], capture_output=True, text=True,
                             timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    p = Path(out)
    return p if out and p.name in _FONT_FILES[name] and p.is_file() else None


def register_fonts() -> None:
    """Register both IPA fonts with reportlab (once per process; thread-safe)."""
    global _registered
    if _registered:
        return
    with _lock:
        if _registered:
            return
        for name in (GOTHIC, MINCHO):
            pdfmetrics.registerFont(TTFont(name, str(find_font(name))))
        _registered = True


# --- dates as printed ---------------------------------------------------------------------------

# One table of dates and labels for pages, letters and the CLI (openjpki.labels).
ja_date = _labels.ja_date
wareki = _labels.wareki


SEX_JA = {1: "男", 2: "女", 3: "不明"}


# --- drawing --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    text: str
    width: float  # mm
    bold: bool = False


class Sheet:
    """A4 pages in millimetres from the top-left corner, with the IPA fonts registered."""

    width_mm = A4[0] / mm
    height_mm = A4[1] / mm

    def __init__(self, *, title: str, subject: str = "", author: str = "OpenJPKI") -> None:
        register_fonts()
        self._buffer = io.BytesIO()
        self.c = canvas.Canvas(self._buffer, pagesize=A4, invariant=1, pageCompression=1)
        self.c.setTitle(title)
        self.c.setSubject(subject)
        self.c.setAuthor(author)
        self.c.setCreator("OpenJPKI")

    def _y(self, y_mm: float) -> float:
        return A4[1] - y_mm * mm

    def text(self, x: float, y: float, s: str, *, size: float = 10.5, font: str = MINCHO,
             align: str = "left") -> None:
        self.c.setFont(font, size)
        if align == "center":
            self.c.drawCentredString(x * mm, self._y(y), s)
        elif align == "right":
            self.c.drawRightString(x * mm, self._y(y), s)
        else:
            self.c.drawString(x * mm, self._y(y), s)

    def wrapped(self, x: float, y: float, s: str, *, width: float, size: float = 10.5,
                font: str = MINCHO, leading: float | None = None) -> float:
        """Draw ``s`` wrapped to ``width`` mm (Japanese breaks anywhere); returns the y below."""
        leading = leading or size * 0.3528 * 1.6  # pt → mm, 1.6 line spacing
        for line in wrap(s, width * mm, font, size):
            self.text(x, y, line, size=size, font=font)
            y += leading
        return y

    def line(self, x1: float, y1: float, x2: float, y2: float, width: float = 0.6) -> None:
        self.c.setLineWidth(width)
        self.c.line(x1 * mm, self._y(y1), x2 * mm, self._y(y2))

    def box(self, x: float, y: float, w: float, h: float, width: float = 0.6,
            dashed: bool = False) -> None:
        self.c.setLineWidth(width)
        if dashed:
            self.c.setDash(3, 2)
        self.c.rect(x * mm, self._y(y + h), w * mm, h * mm)
        if dashed:
            self.c.setDash()

    def table(self, x: float, y: float, rows: Sequence[Sequence[Cell]], *, row_h: float = 9,
              size: float = 10.5) -> float:
        """Rows of bordered cells; returns the y below the table."""
        for row in rows:
            cx = x
            for cell in row:
                self.box(cx, y, cell.width, row_h)
                font = GOTHIC if cell.bold else MINCHO
                lines = wrap(cell.text, (cell.width - 3) * mm, font, size) or [""]
                if len(lines) == 1:
                    self.text(cx + 1.8, y + row_h / 2 + size * 0.3528 * 0.35, lines[0],
                              size=size, font=font)
                else:
                    small = size * 0.8
                    for i, ln in enumerate(lines[:3]):
                        self.text(cx + 1.8, y + 3.2 + i * small * 0.3528 * 1.3, ln, size=small,
                                  font=font)
                cx += cell.width
            y += row_h
        return y

    def seal(self, x: float, y: float, s: str, size: float = 11) -> None:
        """A square official seal (公印) drawn as a red box with the office's name."""
        self.c.saveState()
        self.c.setStrokeColorRGB(0.8, 0.1, 0.1)
        self.c.setFillColorRGB(0.8, 0.1, 0.1)
        self.box(x, y, 22, 22, width=1.2)
        chars = list(s)[:9]
        per = 3
        for i, ch in enumerate(chars):
            row, col = divmod(i, per)
            self.text(x + 4 + col * 6.5, y + 7 + row * 6.5, ch, size=size * 0.9, font=MINCHO)
        self.c.restoreState()

    def new_page(self) -> None:
        self.c.showPage()

    def finish(self) -> bytes:
        self.c.showPage()
        self.c.save()
        return self._buffer.getvalue()


def wrap(s: str, width_pt: float, font: str, size: float) -> list[str]:
    """Greedy wrapping by width; breaks at any character (Japanese text has no spaces), and
    keeps closing punctuation (、。）」) off the start of a line. Widths are summed per
    character (one measurement per distinct character, cached), not re-measured per line."""
    lines: list[str] = []
    for para in s.split("\n"):
        cur, width, started = "", 0.0, False
        for ch in para:
            w = _char_width(ch, font, size)
            if not cur and ch in _CLOSING and lines and started:
                lines[-1] += ch  # a second closing mark (。after ）) stays with the line
                continue
            started = True
            if width + w > width_pt and cur:
                if ch in _CLOSING:
                    lines.append(cur + ch)
                    cur, width = "", 0.0
                    continue
                lines.append(cur)
                cur, width = ch, w
            else:
                cur, width = cur + ch, width + w
        lines.append(cur)
    return lines


_CLOSING = "、。）」』，．"


@lru_cache(maxsize=8192)
def _char_width(ch: str, font: str, size: float) -> float:
    return pdfmetrics.stringWidth(ch, font, size)


def write_pdf(path: Path, data: bytes) -> None:
    """Write atomically (a half-written letter is never left under the final name)."""
    make_private_dir(path.parent)  # letters carry a resident's facts: the owner's only
    tmp = path.with_name(path.name + ".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def lines_of(items: Iterable[str]) -> str:
    return "\n".join(items)
