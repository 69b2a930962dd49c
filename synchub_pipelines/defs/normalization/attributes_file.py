"""The merchant's extra product attributes: a CSV of `sku,attribute,value` rows.

It carries what the catalog has no column for (material, dimensions, voltage, warranty…)
and may restate a catalog attribute (its value then wins). `sku` may name a parent SKU:
the value applies to every variation of it. Units go in the value ("1,2 kg", "30 cm").
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from synchub_pipelines.marketplaces.base import reject
from synchub_pipelines.models import Rejected

SOURCE = "normalization.attributes_file"
COLUMNS = ("sku", "attribute", "value")


class AttributesFileError(ValueError):
    """The file as a whole cannot be used."""


@dataclass(frozen=True)
class AttributeRow:
    line: int
    sku: str
    attribute: str
    value: str


@dataclass
class AttributesFile:
    rows: list[AttributeRow] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)


def load_attributes(path: Path) -> AttributesFile:
    if not path.is_file():
        raise AttributesFileError(f"product attributes file {path} does not exist")
    out = AttributesFile()
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise AttributesFileError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
            blank = [c for c in COLUMNS if not row.get(c)]
            if blank:
                reason = f"line {line}: {', '.join(blank)} is empty"
                out.rejects.append(reject(SOURCE, "", f"line {line}", reason, row))
                continue
            out.rows.append(AttributeRow(line, row["sku"], row["attribute"], row["value"]))
    return out
