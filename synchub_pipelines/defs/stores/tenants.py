"""Tenants: merchants sharing one deployment, each with its own catalog and stock.

A store belongs to one tenant (`stores.tenant`). A SKU means something only inside its
tenant: the central catalog (products, kits, stock on hand, the catalog source's
categories), what is computed from it (normalized attributes, readiness, allocatable
stock) and what is written to the tenant's stores (plans, push state, the push audit) are
keyed by tenant, so two merchants who both sell `CAM01-PRT-M` never pool a unit.

`default` is the deployment as a single merchant always configured it: its catalog from
SYNCHUB_CATALOG_SOURCE (SYNCHUB_CATALOG_FILE, or the Bling account SYNCHUB_BLING_ACCOUNT),
its allocation policies from SYNCHUB_STOCK_POLICY_FILE, its extra attributes from
SYNCHUB_PRODUCT_ATTRIBUTES_FILE. Further tenants come from SYNCHUB_TENANTS_FILE (YAML, or
JSON when the name ends in .json):

    tenants:
      acme:
        catalog_source: file                 # file (the default) | bling
        catalog_file: acme/catalog.csv       # relative paths start at this file's folder
        stock_policy_file: acme/policy.yaml  # optional: publish all
        product_attributes_file: acme/attributes.csv  # optional
        bling_account: acme                  # optional here: Bling follows the hub's stock
      lojax:
        catalog_source: bling
        bling_account: lojax                 # `synchub connect bling --tenant lojax`

A file that cannot be used is refused whole, with its path and what is wrong: a tenant
never falls back to another tenant's catalog or policies. No Dagster import here: the
`synchub` command reads the same file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from synchub_pipelines import settings
from synchub_pipelines.marketplaces import bling

# One name for the default tenant: the warehouse's (its tenant columns' server default).
from synchub_pipelines.warehouse.schema import DEFAULT_TENANT as DEFAULT_TENANT

TENANTS_FILE_ENV = "SYNCHUB_TENANTS_FILE"
# Tenant names travel in run tags, run keys and file paths: keep them plain.
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")

CatalogSource = Literal["file", "bling"]


class TenantsFileError(ValueError):
    """The tenants file cannot be used; the message names the file and the problem."""


class UnknownTenant(LookupError):
    """A tenant that is neither `default` nor in the tenants file."""


class _TenantSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    catalog_source: CatalogSource = "file"
    catalog_file: str | None = None
    bling_account: str | None = None
    stock_policy_file: str | None = None
    product_attributes_file: str | None = None


SETTING_NAMES = tuple(_TenantSettings.model_fields)


@dataclass(frozen=True)
class Tenant:
    """One tenant of the tenants file, its paths made absolute."""

    name: str
    catalog_source: CatalogSource
    catalog_file: str | None
    bling_account: str | None
    stock_policy_file: str | None = None
    product_attributes_file: str | None = None

    @property
    def catalog_location(self) -> str:
        if self.catalog_source == "file":
            return self.catalog_file or ""
        return f"bling:{self.bling_account}"


def default_bling_account() -> str:
    """The default tenant's Bling account name (SYNCHUB_BLING_ACCOUNT)."""
    return os.environ.get("SYNCHUB_BLING_ACCOUNT", "").strip() or bling.DEFAULT_ACCOUNT


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in error["loc"])
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown setting {where!r} (known: {', '.join(SETTING_NAMES)})")
        else:
            problems.append(f"{where}: {error['msg']}")
    return "; ".join(problems)


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TenantsFileError(
            f"cannot read the tenants file {path} ({TENANTS_FILE_ENV}): {exc.strerror or exc}"
        ) from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise TenantsFileError(f"the tenants file {path} is not valid: {exc}") from None


def read_tenants_file(path: Path, reserved_bling_account: str | None = None) -> list[Tenant]:
    """The tenants a file defines, in its order; `reserved_bling_account` is the default
    tenant's Bling account, which no other tenant may share."""
    raw = _read(path)
    where = f"the tenants file {path}"
    if raw is None:
        return []
    if not isinstance(raw, dict) or set(raw) != {"tenants"}:
        found = ", ".join(map(str, raw)) if isinstance(raw, dict) else type(raw).__name__
        raise TenantsFileError(
            f"{where} must hold one mapping, `tenants:`, of tenant name → settings "
            f"(found: {found or 'nothing'})"
        )
    entries = raw["tenants"] or {}
    if not isinstance(entries, dict):
        raise TenantsFileError(f"{where}: `tenants` must map each tenant's name to its settings")
    accounts = {reserved_bling_account or default_bling_account(): DEFAULT_TENANT}
    tenants: list[Tenant] = []
    for name, values in entries.items():
        name = str(name)
        if name == DEFAULT_TENANT:
            raise TenantsFileError(
                f"{where}: leave `default` out: the default tenant is configured by "
                "SYNCHUB_CATALOG_SOURCE, SYNCHUB_CATALOG_FILE, SYNCHUB_BLING_ACCOUNT and "
                "SYNCHUB_STOCK_POLICY_FILE"
            )
        if not NAME_PATTERN.fullmatch(name):
            raise TenantsFileError(
                f"{where}: tenant name {name!r} is not usable: lowercase letters, digits, "
                "'-' and '_', starting with a letter or digit, at most 63 characters"
            )
        try:
            given = _TenantSettings.model_validate(values or {})
        except ValidationError as exc:
            raise TenantsFileError(f"{where}: tenant {name}: {_describe(exc)}") from None
        tenants.append(_resolved(where, path.parent, name, given, accounts))
    return tenants


def _resolved(
    where: str, folder: Path, name: str, given: _TenantSettings, accounts: dict[str, str]
) -> Tenant:
    def absolute(value: str | None) -> str | None:
        if not value:
            return None
        candidate = Path(value).expanduser()
        return str(candidate if candidate.is_absolute() else folder / candidate)

    problem = None
    if given.catalog_source == "file" and not given.catalog_file:
        problem = "catalog_source file needs catalog_file (the tenant's CSV or JSON catalog)"
    elif given.catalog_source == "bling" and not given.bling_account:
        problem = "catalog_source bling needs bling_account (the name its tokens are kept under)"
    elif given.catalog_source == "bling" and given.catalog_file:
        problem = "catalog_file is read only with catalog_source file; remove one of the two"
    elif given.bling_account in accounts:
        # One Bling company holds one catalog and one stock: sharing it would pool stock
        # again, which is what tenants exist to prevent.
        problem = (
            f"bling_account {given.bling_account!r} is already tenant "
            f"{accounts[given.bling_account]}'s"
        )
    if problem:
        raise TenantsFileError(f"{where}: tenant {name}: {problem}")
    if given.bling_account:
        accounts[given.bling_account] = name
    return Tenant(
        name=name,
        catalog_source=given.catalog_source,
        catalog_file=absolute(given.catalog_file),
        bling_account=given.bling_account,
        stock_policy_file=absolute(given.stock_policy_file),
        product_attributes_file=absolute(given.product_attributes_file),
    )


def file_tenants(reserved_bling_account: str | None = None) -> list[Tenant]:
    """The tenants of SYNCHUB_TENANTS_FILE (none when it is unset), checked."""
    path = settings.tenants_file()
    return read_tenants_file(path, reserved_bling_account) if path else []


def tenant_names() -> list[str]:
    """Every configured tenant: `default` first, then the tenants file's in its order."""
    return [DEFAULT_TENANT, *(t.name for t in file_tenants())]


def file_tenant(name: str) -> Tenant | None:
    """The tenants file's settings of a tenant; None for `default`; UnknownTenant otherwise."""
    if name == DEFAULT_TENANT:
        return None
    for tenant in file_tenants():
        if tenant.name == name:
            return tenant
    raise UnknownTenant(unknown_tenant_message(name))


def unknown_tenant_message(name: str) -> str:
    path = settings.tenants_file()
    known = ", ".join(tenant_names())
    where = f"the tenants file {path}" if path else f"no tenants file ({TENANTS_FILE_ENV} is unset)"
    return f"unknown tenant {name!r}: known are {known} ({where})"


def require_tenant(name: str) -> str:
    """The name, if it is a configured tenant; UnknownTenant (or TenantsFileError) if not."""
    if name != DEFAULT_TENANT and name not in tenant_names():
        raise UnknownTenant(unknown_tenant_message(name))
    return name


def tenant_source(name: str) -> str:
    """The suffix that keeps a tenant's quarantined records apart in `ingest_errors`:
    nothing for `default` (its records keep the names they always had)."""
    return "" if name == DEFAULT_TENANT else f":{name}"
