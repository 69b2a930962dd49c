"""The demo's category tree and attributes file fit the demo-size sandbox world."""

from __future__ import annotations

from pathlib import Path

import pytest

from synchub_pipelines.defs.normalization.attributes import attribute_key, normalize
from synchub_pipelines.defs.normalization.attributes_file import load_attributes
from synchub_pipelines.defs.normalization.tree_file import load_tree
from synchub_pipelines.sandbox.server import Sandbox, SandboxConfig

DEMO = Path(__file__).resolve().parents[2] / "synchub_pipelines" / "demo"


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(SandboxConfig(seed=7, size="demo"))


def test_every_manual_mapping_of_the_demo_tree_is_a_leaf_of_the_demo_sandbox(
    sandbox: Sandbox,
) -> None:
    tree = load_tree(DEMO / "categories.csv")
    ml = sandbox.simulators["mercadolivre"].tree
    tiktok = sandbox.simulators["tiktok"].catalog
    shopee = sandbox.simulators["shopee"].catalog.categories
    leaves = {
        "mercadolivre": {i for i, c in ml.by_id.items() if not c.children},
        "tiktok": {i for i, c in tiktok.by_id.items() if c.is_leaf},
        "shopee": {str(c.category_id) for c in shopee.categories if not c.has_children},
    }
    mapped = [(n.category_id, m, target) for n in tree.nodes for m, target in n.mappings.items()]
    assert len(mapped) >= 30
    assert [(c, m, t) for c, m, t in mapped if t not in leaves[m]] == []
    products = {p.category for p in sandbox.world.products}
    assert all(tree.resolve(path) is not None for path in products)


def test_the_demo_attributes_file_names_demo_skus_and_shows_one_unknown_unit(
    sandbox: Sandbox,
) -> None:
    parsed = load_attributes(DEMO / "product_attributes.csv")
    assert parsed.rejects == []
    parents = {p.parent_sku for p in sandbox.world.products}
    assert {row.sku for row in parsed.rows} <= parents
    rejected = [
        (row.sku, n.reason)
        for row in parsed.rows
        if not (n := normalize(attribute_key(row.attribute), row.value, "file")).ok
    ]
    assert rejected == [
        ("LUM02", "unknown unit 'polegadas' for height (known: mm, cm, m, in, pol, \")")
    ]
