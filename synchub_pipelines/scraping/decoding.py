"""Page bytes → text, with the charset a browser would use.

Brazilian shops still serve ISO-8859-1 and windows-1252 pages ("Promoção", "Câmera"); read
as UTF-8 they come out as "Promo??o", and brand and title matching fail. The order is the
WHATWG one, simplified: a byte-order mark, then the Content-Type header's charset, then a
`<meta charset>` (or `http-equiv`) in the first bytes, then UTF-8 if the bytes are valid
UTF-8, then windows-1252. Like browsers, a declared ISO-8859-1 is read as windows-1252 (its
superset: the curly quotes and "€" sit in 0x80–0x9F), and a page declared UTF-8 whose bytes
are plainly single-byte text is read as windows-1252 rather than filled with U+FFFD.
"""

from __future__ import annotations

import codecs
import re

_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]+?charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_SINGLE_BYTE_ALIASES = {"latin_1", "iso8859-1", "ascii", "cp1252"}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    # WHATWG: the labels "iso-8859-1", "latin1" and "us-ascii" all mean windows-1252.
    return "cp1252" if name in _SINGLE_BYTE_ALIASES else name


def declared_charset(body: bytes, content_type: str | None) -> tuple[str | None, str]:
    """The codec the page declares and where: ("cp1252", "header"), (None, "none")…"""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, "bom"
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        codec = _codec(match.group(1)) if match else None
        if codec:
            return codec, "header"
    meta = _META_CHARSET.search(body[:_SNIFF_BYTES])
    codec = _codec(meta.group(1).decode("ascii", "replace")) if meta else None
    if codec:
        return codec, "meta"
    return None, "none"


def _cp1252(body: bytes) -> str:
    try:
        return body.decode("cp1252")
    except UnicodeDecodeError:
        # 0x81, 0x8D, 0x8F, 0x90, 0x9D are unassigned in windows-1252; browsers map them
        # to the C1 controls, which is what ISO-8859-1 does.
        return "".join(
            chunk.decode("cp1252", "strict") if ok else chunk.decode("latin-1")
            for ok, chunk in _cp1252_chunks(body)
        )


def _cp1252_chunks(body: bytes) -> list[tuple[bool, bytes]]:
    unassigned = {0x81, 0x8D, 0x8F, 0x90, 0x9D}
    chunks: list[tuple[bool, bytes]] = []
    start = 0
    for index, byte in enumerate(body):
        if byte in unassigned:
            if start < index:
                chunks.append((True, body[start:index]))
            chunks.append((False, body[index : index + 1]))
            start = index + 1
    if start < len(body):
        chunks.append((True, body[start:]))
    return chunks


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """The page's text and the codec used to read it."""
    codec, _where = declared_charset(body, content_type)
    if codec == "cp1252":
        return _cp1252(body), "cp1252"
    if codec and codec != "utf-8":
        return body.decode(codec, "replace"), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if codec == "utf-8":
        text = body.decode("utf-8", "replace")
        # Declared UTF-8 but no valid multi-byte sequence at all: a Latin-1 page whose
        # server says otherwise. A few stray bytes in a real UTF-8 page stay U+FFFD.
        if any(ord(ch) > 0x7F and ch != "\ufffd" for ch in text):
            return text, "utf-8"
    return _cp1252(body), "cp1252"
