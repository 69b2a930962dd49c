"""Reads the catalog file a merchant without ERP keeps: CSV or JSON, one row per SKU.

Columns: sku, name (required); parent_sku, brand, category, color, size, gtin, price, cost,
currency, weight_g, on_hand, warehouse, components ("SKU1x2;SKU2x1" for kits); for
publishing, description, images (https picture URLs, "|" separated) and status (active,
inactive: its listings are paused, discontinued: closed; blank is active). A file
without a required column is refused whole, naming the column; a bad row is rejected with
its line number and reason, and the other rows still load.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticUndefined

from synchub_pipelines.marketplaces.base import describe_validation_error
from synchub_pipelines.models import CentralProduct, CentralStock, ProductComponent, Rejected

REQUIRED_COLUMNS = ("sku", "name")
DEFAULT_WAREHOUSE = "principal"
PRODUCT_STATUSES = ("active", "inactive", "discontinued")


class CatalogFileError(ValueError):
    """The file as a whole cannot be used (missing, unreadable, wrong columns)."""


class CatalogRow(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    sku: str
    name: str
    parent_sku: str | None = None
    brand: str | None = None
    category: str | None = None
    color: str | None = None
    size: str | None = None
    gtin: str | None = None
    price: Decimal | None = None
    cost: Decimal | None = None
    currency: str = "BRL"
    weight_g: int | None = None
    on_hand: int | None = None
    warehouse: str = DEFAULT_WAREHOUSE
    components: str | None = None
    description: str | None = None
    images: str | None = None
    status: str = "active"

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_missing(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            # A blank cell means "not given": the field's default (BRL, the main warehouse),
            # or missing when it has none.
            default = cls.model_fields[info.field_name or ""].default
            return None if default is PydanticUndefined else default
        return value

    @field_validator("sku", "name")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        folded = value.strip().lower()
        if folded not in PRODUCT_STATUSES:
            raise ValueError(f"status {value!r} is not one of {', '.join(PRODUCT_STATUSES)}")
        return folded

    @field_validator("images")
    @classmethod
    def _picture_urls(cls, value: str | None) -> str | None:
        for url in (value or "").split("|"):
            if url.strip() and not url.strip().startswith("https://"):
                raise ValueError(f"image {url.strip()!r} is not an https URL")
        return value

    def picture_urls(self) -> tuple[str, ...]:
        return tuple(u.strip() for u in (self.images or "").split("|") if u.strip())

    @field_validator("on_hand")
    @classmethod
    def _not_negative(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError("stock on hand cannot be negative")
        return value

    def parsed_components(self) -> list[tuple[str, int]]:
        parts = []
        for chunk in (self.components or "").split(";"):
            if not chunk.strip():
                continue
            sku, sep, qty = chunk.strip().rpartition("x")
            if not sep or not sku or not qty.isdigit() or int(qty) <= 0:
                raise ValueError(f"component {chunk.strip()!r} is not of the form SKUxQUANTITY")
            parts.append((sku, int(qty)))
        return parts


@dataclass
class Catalog:
    products: list[CentralProduct] = field(default_factory=list)
    components: list[ProductComponent] = field(default_factory=list)
    stock: list[CentralStock] = field(default_factory=list)
    rejects: list[Rejected] = field(default_factory=list)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise CatalogFileError(f"catalog file {path} does not exist (set SYNCHUB_CATALOG_FILE)")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data.get("products") if isinstance(data, dict) else data
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise CatalogFileError(
                    f"catalog file {path}: expected a list of objects (or {{'products': […]}})"
                )
            return rows
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as handle:
                sample = handle.read(4096)
                handle.seek(0)
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
                return list(csv.DictReader(handle, dialect=dialect))
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise CatalogFileError(f"catalog file {path} cannot be read: {exc}") from None
    raise CatalogFileError(f"catalog file {path}: use a .csv or .json file")


def load_catalog(path: Path, now: datetime | None = None) -> Catalog:
    rows = _read_rows(path)
    if rows:
        missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
        if missing:
            raise CatalogFileError(
                f"catalog file {path} has no column {', '.join(missing)}; "
                f"found: {', '.join(sorted(rows[0]))}"
            )
    # The file states stock as of its last save; a re-read of an unchanged file changes nothing.
    now = now or datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    catalog = Catalog()
    seen: dict[str, int] = {}
    for line, raw in enumerate(rows, start=2 if path.suffix.lower() == ".csv" else 1):
        key = str(raw.get("sku") or f"line {line}")
        try:
            row = CatalogRow.model_validate(raw)
            components = row.parsed_components()
        except ValidationError as exc:
            catalog.rejects.append(
                _reject(path, key, f"line {line}: {describe_validation_error(exc)}", raw)
            )
            continue
        except (ValueError, InvalidOperation) as exc:
            catalog.rejects.append(_reject(path, key, f"line {line}: {exc}", raw))
            continue
        if row.sku in seen:
            reason = f"line {line}: SKU {row.sku} repeats line {seen[row.sku]}"
            catalog.rejects.append(_reject(path, key, reason, raw))
            continue
        seen[row.sku] = line
        catalog.products.append(
            CentralProduct(
                sku=row.sku,
                # Files list single-SKU products as their own parent; Bling (and the
                # warehouse) say "no parent", so both sources store the same row.
                parent_sku=row.parent_sku if row.parent_sku != row.sku else None,
                name=row.name,
                brand=row.brand,
                category=row.category,
                color=row.color,
                size=row.size,
                gtin=row.gtin,
                price=row.price,
                cost=row.cost,
                currency=row.currency,
                weight_g=row.weight_g,
                is_kit=bool(components),
                source="catalog_file",
                description=row.description,
                images=row.picture_urls(),
                status=row.status,  # type: ignore[arg-type]
            )
        )
        catalog.components += [
            ProductComponent(kit_sku=row.sku, component_sku=sku, quantity=qty)
            for sku, qty in components
        ]
        if row.on_hand is not None and not components:
            catalog.stock.append(
                CentralStock(
                    sku=row.sku, warehouse=row.warehouse, on_hand=row.on_hand, updated_at=now
                )
            )
    return catalog


def _reject(path: Path, key: str, reason: str, raw: Any) -> Rejected:
    return Rejected(
        source="catalog_file",
        store_id=None,
        record_key=key,
        reason=reason,
        payload=json.dumps(raw, ensure_ascii=False, default=str, sort_keys=True),
    )
