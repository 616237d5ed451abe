"""Finding English (or internal codes) in Japanese pages and letters.

A run of Latin letters is allowed when it is a proper noun or a term Japanese readers use as
it is (``ALLOWED``), a rule number on the clerks' pages (R5.6 …), or a code the user must
type or read out — which the pages mark up as ``<code>`` / ``<kbd>`` (serials, references,
card numbers, commands) and ``lang="zxx"`` (the audit log's entry as recorded). Text inside
an element in another language (``lang="en"``: the switch to English) is not Japanese text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

ALLOWED = frozenset({"OpenJPKI", "JPKI", "J-LIS", "OCSP", "CRL", "CRLs", "PDF", "API",
                     "English"})
RULE = re.compile(r"^R\d+(\.\d+)?$")
# References printed on letters (INQ-ABCD-EFGH-JKLM, EXP-…, JMH-…) and terminal ids
# (konbini-0001): codes read out or typed back.
REFERENCE = re.compile(r"^[A-Z]{2,5}(-[A-Z0-9]{2,8})+$|^[a-z]+-\d+$")
LATIN_RUN = re.compile(r"[A-Za-z][A-Za-z0-9#./_-]*[A-Za-z0-9]|[A-Za-z]")
SKIP_TAGS = {"script", "style", "code", "kbd", "pre", "samp", "textarea"}
VISIBLE_ATTRS = ("aria-label", "placeholder", "title", "alt")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[bool] = []  # True: skipped
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        skipped = bool(self.stack and self.stack[-1]) or tag in SKIP_TAGS or (
            a.get("lang") not in (None, "ja") and tag != "html")
        if not skipped:
            self.parts.extend(a[k] for k in VISIBLE_ATTRS if a.get(k))
        if tag not in VOID:
            self.stack.append(skipped)

    def handle_startendtag(self, tag, attrs):
        a = dict(attrs)
        if not (self.stack and self.stack[-1]):
            self.parts.extend(a[k] for k in VISIBLE_ATTRS if a.get(k))

    def handle_endtag(self, tag):
        if tag not in VOID and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not (self.stack and self.stack[-1]):
            self.parts.append(data)


def visible_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(p.parts)


# How the PIN rules name the letters a SIGN PIN takes (R1.3): 英大文字 (A–Z).
LETTER_RANGE = re.compile(r"A\s?[–〜～-]\s?Z")


def stray_latin(text: str, *, rules_allowed: bool) -> list[str]:
    """The runs of Latin letters in ``text`` that are not allowed."""
    text = LETTER_RANGE.sub("", text)
    out = []
    for m in LATIN_RUN.finditer(text):
        word = m.group(0).rstrip("./-_")
        if word in ALLOWED or REFERENCE.match(word) or (rules_allowed and RULE.match(word)):
            continue
        out.append(word)
    return out
