"""An accepted suggestion written into the merchant's catalog file (CSV), nothing else touched.

The catalog file is the catalog of record for a merchant without ERP: a suggestion only
fills what is empty there. A GTIN or description the file already has is never replaced (a
person edits the file for that); images are appended to the `images` cell (`|`-separated,
without repeats; only https URLs, as the catalog reader requires); `attribute:<name>` goes
to a column of that name. A column the file lacks is added at the end; every other cell, the
column order, the encoding and the line endings stay as they were. The file is replaced
atomically (a crash leaves the old one whole).

Bling is not written to: its client has no product update (the catalog sync reads Bling, and
writes only categories and stock), so a Bling merchant copies an accepted value in Bling by
hand.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

# As the catalog reader splits the `images` cell (defs/catalog/catalog_file.py).
IMAGE_SEPARATOR = "|"


class CatalogWriteError(ValueError):
    """The suggestion cannot be written; nothing was changed."""


@dataclass(frozen=True)
class Written:
    path: Path
    column: str
    rows: int
    before: str
    after: str


def column_for(field: str) -> str:
    if field in ("gtin", "description"):
        return field
    if field == "image":
        return "images"
    if field.startswith("attribute:") and field[len("attribute:") :].strip():
        return field
    raise CatalogWriteError(f"unknown suggestion field {field!r}")


def write_suggestion(path: Path, sku: str, field: str, value: str) -> Written:
    if path.suffix.lower() != ".csv":
        raise CatalogWriteError(
            f"{path}: only CSV catalog files can take suggestions (edit a JSON file by hand)"
        )
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CatalogWriteError(f"{path}: no such catalog file") from None
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = list(reader)
    if not rows or "sku" not in rows[0]:
        raise CatalogWriteError(f"{path}: no header with a `sku` column")
    header = rows[0]
    column = column_for(field)
    if column == "images" and not value.startswith("https://"):
        raise CatalogWriteError(
            f"image {value!r} is not an https URL: the catalog only takes https pictures"
        )
    if column not in header:
        header.append(column)
    sku_at, col_at = header.index("sku"), header.index(column)
    touched = 0
    before = after = ""
    for row in rows[1:]:
        if len(row) <= sku_at or row[sku_at].strip() != sku:
            continue
        row.extend([""] * (len(header) - len(row)))
        before = row[col_at]
        if column == "images":
            images = [i for i in before.split(IMAGE_SEPARATOR) if i.strip()]
            if value not in images:
                images.append(value)
            after = IMAGE_SEPARATOR.join(images)
        elif before.strip() and before.strip() != value:
            raise CatalogWriteError(
                f"{path}: SKU {sku} already has {column} {before.strip()!r}; a suggestion only "
                "fills an empty cell (edit the file to replace it)"
            )
        else:
            after = value
        row[col_at] = after
        touched += 1
    if not touched:
        raise CatalogWriteError(f"{path}: no row has SKU {sku}")
    for row in rows[1:]:
        if row:
            row.extend([""] * (len(header) - len(row)))
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=newline).writerows(rows)
    data = out.getvalue().encode("utf-8")
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write((b"\xef\xbb\xbf" if bom else b"") + data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Written(path, column, touched, before, after)
