"""Allocation policy per store: how much of a SKU's allocatable stock its listings may show.

An operator writes the policies in a file (YAML or JSON, path in SYNCHUB_STOCK_POLICY_FILE)
and may override them per run in the run config. One policy combines four knobs, applied
in this order to the SKU's allocatable units A:

    exclude → 0;  else min(max, floor(max(0, A − buffer) × share))

so "publish all" is the default policy, and "a share", "keep a buffer", "cap at a maximum"
and "exclude" are each one knob (and may be combined). Example file:

    default: {}                      # publish all
    stores:
      mercadolivre-241551001: {share: 0.5}
      tiktok-7494012345678901234: {buffer: 2, max: 20}
      amazon-A1SYNCHUBDEMO01: {exclude: true}
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

POLICY_FILE_ENV = "SYNCHUB_STOCK_POLICY_FILE"


class StorePolicy(BaseModel):
    """How a store's listings share in a SKU's allocatable units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    share: float = Field(default=1.0, ge=0.0, le=1.0, description="fraction of A to offer")
    buffer: int = Field(default=0, ge=0, description="units kept back from A first")
    max: int | None = Field(default=None, ge=0, description="never offer more than this")
    exclude: bool = Field(default=False, description="offer nothing (listings set to 0)")

    def desired(self, allocatable: int) -> int:
        if self.exclude:
            return 0
        units = math.floor(max(0, allocatable - self.buffer) * self.share)
        return units if self.max is None else min(units, self.max)

    def describe(self) -> str:
        if self.exclude:
            return "exclude"
        parts = []
        if self.share < 1:
            parts.append(f"share {self.share:g}")
        if self.buffer:
            parts.append(f"buffer {self.buffer}")
        if self.max is not None:
            parts.append(f"max {self.max}")
        return ", ".join(parts) or "all"


class PolicyBook(BaseModel):
    """The default policy and the stores that differ from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: StorePolicy = Field(default_factory=StorePolicy)
    stores: dict[str, StorePolicy] = Field(default_factory=dict)

    def for_store(self, store_id: str) -> StorePolicy:
        return self.stores.get(store_id, self.default)

    def overridden(self, overrides: Mapping[str, Mapping[str, Any]]) -> PolicyBook:
        """This book with some stores' policies replaced (run config wins over the file)."""
        stores = dict(self.stores)
        for store_id, knobs in overrides.items():
            try:
                stores[store_id] = StorePolicy.model_validate(dict(knobs))
            except ValidationError as exc:
                raise ValueError(f"allocation policy for {store_id}: {exc}") from None
        return PolicyBook(default=self.default, stores=stores)


def load_policy_file(path: str | Path) -> PolicyBook:
    """Read a policy file; a bad file is an error that names it, never a silent default."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read the allocation policy file {source}: {exc}") from None
    try:
        raw = json.loads(text) if source.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"the allocation policy file {source} is not valid: {exc}") from None
    try:
        return PolicyBook.model_validate(raw or {})
    except ValidationError as exc:
        raise ValueError(f"the allocation policy file {source} is not valid: {exc}") from None


def policy_book(path: str | None = None) -> PolicyBook:
    """The policies in force: the given file, else SYNCHUB_STOCK_POLICY_FILE, else publish all."""
    chosen = path or os.environ.get(POLICY_FILE_ENV, "").strip()
    return load_policy_file(chosen) if chosen else PolicyBook()
