"""The tenants file: further merchants beside `default`, each with its catalog and policies.
A file that cannot be used is refused whole, with its path and what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synchub_pipelines.defs.stock.policy import StorePolicy, tenant_policy_book
from synchub_pipelines.defs.stores.tenants import (
    DEFAULT_TENANT,
    Tenant,
    TenantsFileError,
    UnknownTenant,
    file_tenant,
    read_tenants_file,
    require_tenant,
    tenant_names,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_tenants_with_their_catalogs_and_policies_relative_to_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "tenants.yaml",
        """
tenants:
  acme:
    catalog_file: acme/catalog.csv
    stock_policy_file: /etc/synchub/acme-policy.yaml
    bling_account: acme-erp
  lojax:
    catalog_source: bling
    bling_account: lojax
    product_attributes_file: lojax/attributes.csv
""",
    )
    acme, lojax = read_tenants_file(path)
    assert acme == Tenant(
        name="acme",
        catalog_source="file",
        catalog_file=str(tmp_path / "acme" / "catalog.csv"),
        bling_account="acme-erp",
        stock_policy_file="/etc/synchub/acme-policy.yaml",
    )
    assert acme.catalog_location == str(tmp_path / "acme" / "catalog.csv")
    assert lojax.catalog_source == "bling" and lojax.catalog_location == "bling:lojax"
    assert lojax.product_attributes_file == str(tmp_path / "lojax" / "attributes.csv")
    assert lojax.stock_policy_file is None


def test_json_and_an_empty_file(tmp_path: Path) -> None:
    path = write(
        tmp_path / "tenants.json",
        json.dumps({"tenants": {"acme": {"catalog_file": "a.csv"}}}),
    )
    assert [t.name for t in read_tenants_file(path)] == ["acme"]
    assert read_tenants_file(write(tmp_path / "empty.yaml", "")) == []
    assert read_tenants_file(write(tmp_path / "none.yaml", "tenants:\n")) == []


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("acme: {catalog_file: a.csv}", "must hold one mapping, `tenants:`"),
        ("- acme", "must hold one mapping, `tenants:`, of tenant name → settings (found: list)"),
        ("tenants: [acme]", "`tenants` must map each tenant's name to its settings"),
        ("tenants: {default: {catalog_file: a.csv}}", "leave `default` out"),
        ("tenants: {'Acme Corp': {catalog_file: a.csv}}", "tenant name 'Acme Corp' is not usable"),
        (
            "tenants: {acme: {catalog: a.csv}}",
            "tenant acme: unknown setting 'catalog' (known: catalog_source, catalog_file",
        ),
        (
            "tenants: {acme: {catalog_source: erp, catalog_file: a.csv}}",
            "tenant acme: catalog_source: Input should be 'file' or 'bling'",
        ),
        ("tenants: {acme: {}}", "tenant acme: catalog_source file needs catalog_file"),
        ("tenants: {acme: {catalog_source: bling}}", "catalog_source bling needs bling_account"),
        (
            "tenants: {acme: {catalog_source: bling, bling_account: a, catalog_file: a.csv}}",
            "catalog_file is read only with catalog_source file",
        ),
        (
            "tenants: {acme: {catalog_file: a.csv, bling_account: bling}}",
            "tenant acme: bling_account 'bling' is already tenant default's",
        ),
        (
            "tenants: {a: {catalog_file: a.csv, bling_account: x}, "
            "b: {catalog_source: bling, bling_account: x}}",
            "tenant b: bling_account 'x' is already tenant a's",
        ),
        ("tenants: {acme: {catalog_file: [a.csv", "is not valid"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_saying_why(
    tmp_path: Path, text: str, says: str
) -> None:
    path = write(tmp_path / "tenants.yaml", text)
    with pytest.raises(TenantsFileError) as caught:
        read_tenants_file(path)
    assert says in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(TenantsFileError, match="SYNCHUB_TENANTS_FILE"):
        read_tenants_file(tmp_path / "nope.yaml")


def test_the_configured_tenants_come_from_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SYNCHUB_TENANTS_FILE", raising=False)
    assert tenant_names() == [DEFAULT_TENANT]
    assert require_tenant("default") == "default"
    with pytest.raises(UnknownTenant, match="SYNCHUB_TENANTS_FILE is unset"):
        require_tenant("acme")

    path = write(tmp_path / "t.yaml", "tenants: {acme: {catalog_file: a.csv}}")
    monkeypatch.setenv("SYNCHUB_TENANTS_FILE", str(path))
    assert tenant_names() == ["default", "acme"]
    assert require_tenant("acme") == "acme"
    assert file_tenant("default") is None
    acme = file_tenant("acme")
    assert acme is not None and acme.catalog_file == str(tmp_path / "a.csv")
    with pytest.raises(UnknownTenant) as caught:
        file_tenant("globex")
    assert "unknown tenant 'globex': known are default, acme" in str(caught.value)

    # The default tenant's Bling account name is reserved whatever it is set to.
    monkeypatch.setenv("SYNCHUB_BLING_ACCOUNT", "matriz")
    write(path, "tenants: {acme: {catalog_source: bling, bling_account: matriz}}")
    with pytest.raises(TenantsFileError, match="already tenant default's"):
        tenant_names()


def test_each_store_gets_its_own_tenants_policies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "default.yaml", "default: {share: 0.5}\nstores: {ml-2: {max: 1}}")
    write(tmp_path / "acme.yaml", "default: {buffer: 3}\nstores: {ml-3: {exclude: true}}")
    tenants = write(
        tmp_path / "tenants.yaml",
        "tenants: {acme: {catalog_file: a.csv, stock_policy_file: acme.yaml}, "
        "lojax: {catalog_file: b.csv}}",
    )
    monkeypatch.setenv("SYNCHUB_TENANTS_FILE", str(tenants))
    monkeypatch.setenv("SYNCHUB_STOCK_POLICY_FILE", str(tmp_path / "default.yaml"))
    book = tenant_policy_book(
        {"ml-1": "default", "ml-2": "acme", "ml-3": "acme", "ml-4": "lojax", "ml-5": "gone"}
    )
    assert book.for_store("ml-1") == StorePolicy(share=0.5)
    # The default tenant's file names ml-2, but ml-2 is acme's: acme's policy decides.
    assert book.for_store("ml-2") == StorePolicy(buffer=3)
    assert book.for_store("ml-3") == StorePolicy(exclude=True)
    assert book.for_store("ml-4") == StorePolicy()
    assert book.for_store("ml-5") == StorePolicy()

    write(tmp_path / "acme.yaml", "stores: {ml-3: {share: 2}}")
    with pytest.raises(ValueError, match=r"tenant acme: the allocation policy file .*acme.yaml"):
        tenant_policy_book({"ml-3": "acme"})
