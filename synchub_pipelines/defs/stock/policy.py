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

Each tenant has its own file (the default tenant SYNCHUB_STOCK_POLICY_FILE, the others
`stock_policy_file` in SYNCHUB_TENANTS_FILE), with its own `default`: one merchant's
policies never decide what another's stores show. `tenant_policy_book` folds them into one
book keyed by store, which is what the plan reads.
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

from synchub_pipelines.defs.stores.tenants import DEFAULT_TENANT, file_tenants

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


def tenant_policy_book(store_tenants: Mapping[str, str], path: str | None = None) -> PolicyBook:
    """One book for every store, each store under its own tenant's policies.

    `store_tenants` maps each store to its tenant; `path` replaces the default tenant's file
    (else SYNCHUB_STOCK_POLICY_FILE, as `policy_book`). A store whose tenant the tenants
    file no longer names publishes all, like a store no file mentions.
    """
    default = policy_book(path)
    books: dict[str, PolicyBook] = {DEFAULT_TENANT: default}
    for tenant in file_tenants():
        try:
            books[tenant.name] = (
                load_policy_file(tenant.stock_policy_file)
                if tenant.stock_policy_file
                else PolicyBook()
            )
        except ValueError as exc:
            raise ValueError(f"tenant {tenant.name}: {exc}") from None
    stores = {
        store_id: books.get(tenant, PolicyBook()).for_store(store_id)
        for store_id, tenant in store_tenants.items()
        if tenant != DEFAULT_TENANT
    }
    # The default tenant's file may name stores that are not (or no longer) its own: they
    # keep their own tenant's policy, set above.
    for store_id, knobs in default.stores.items():
        if store_tenants.get(store_id, DEFAULT_TENANT) == DEFAULT_TENANT:
            stores[store_id] = knobs
    return PolicyBook(default=default.default, stores=stores)
