"""Allocation arithmetic and policies: kits, every policy knob, the split and its invariant."""

from __future__ import annotations

from pathlib import Path

import pytest

from synchub_pipelines.defs.stock.allocation import allocatable_stock, invariant_breaches, split
from synchub_pipelines.defs.stock.policy import PolicyBook, StorePolicy, load_policy_file

A = ("mercadolivre-1", "MLB1", "")
B = ("tiktok-2", "P2", "S2")
C = ("amazon-3", "SKU-X", "")


def test_allocatable_is_on_hand_minus_reserved_never_negative() -> None:
    stock = allocatable_stock({"X": 5, "Y": 1}, {"X": 2, "Y": 3}, {})
    assert (stock["X"].allocatable, stock["X"].reserved) == (3, 2)
    assert stock["Y"].allocatable == 0


def test_a_kit_offers_what_its_scarcest_component_allows() -> None:
    kits = {"KIT": [("A", 2), ("B", 1)]}
    stock = allocatable_stock({"A": 7, "B": 10}, {"B": 1}, kits)
    assert stock["KIT"].is_kit
    assert stock["KIT"].allocatable == 3  # floor(7 / 2) = 3 < floor(9 / 1)
    stock = allocatable_stock({"A": 7, "B": 10}, {"B": 8}, kits)
    assert stock["KIT"].allocatable == 2  # B: 10 − 8 = 2


def test_a_reserved_kit_reserves_its_components() -> None:
    kits = {"KIT": [("A", 2), ("B", 1)]}
    stock = allocatable_stock({"A": 7, "B": 10}, {"KIT": 2}, kits)
    assert (stock["A"].reserved, stock["A"].allocatable) == (4, 3)
    assert (stock["B"].reserved, stock["B"].allocatable) == (2, 8)
    assert stock["KIT"].allocatable == 1
    assert stock["KIT"].reserved == 2


def test_a_kit_without_components_offers_nothing() -> None:
    assert allocatable_stock({}, {}, {"KIT": []})["KIT"].allocatable == 0


@pytest.mark.parametrize(
    ("policy", "allocatable", "expected"),
    [
        (StorePolicy(), 10, 10),  # publish all
        (StorePolicy(share=0.5), 9, 4),  # a share, rounded down
        (StorePolicy(buffer=3), 10, 7),  # keep a buffer back
        (StorePolicy(buffer=3), 2, 0),
        (StorePolicy(max=4), 10, 4),  # cap at a maximum
        (StorePolicy(exclude=True), 10, 0),  # exclude
        (StorePolicy(buffer=2, share=0.5, max=3), 20, 3),  # combined, in order
    ],
)
def test_each_policy(policy: StorePolicy, allocatable: int, expected: int) -> None:
    assert policy.desired(allocatable) == expected


def test_asks_that_fit_are_granted_whole() -> None:
    assert split(10, {A: 5, B: 3, C: 0}) == {A: 5, B: 3, C: 0}


def test_asks_beyond_allocatable_are_split_in_proportion_the_same_way_every_time() -> None:
    targets = split(10, {A: 10, B: 10, C: 10})
    assert sum(targets.values()) == 10
    assert sorted(targets.values()) == [3, 3, 4]
    assert split(10, {C: 10, B: 10, A: 10}) == targets  # order of the input does not matter
    one = split(1, {A: 10, B: 10})
    assert sum(one.values()) == 1
    # 4.5 and 1.5 units: the tied last unit goes to the larger ask.
    assert split(6, {A: 9, B: 3}) == {A: 5, B: 1}


@pytest.mark.parametrize("allocatable", [0, 1, 2, 3, 7, 50])
def test_split_never_exceeds_allocatable_nor_an_ask(allocatable: int) -> None:
    asks = {A: 40, B: 7, C: 1}
    targets = split(allocatable, asks)
    assert sum(targets.values()) <= allocatable
    assert all(0 <= targets[k] <= asks[k] for k in asks)
    assert not invariant_breaches([("S", t) for t in targets.values()], {"S": allocatable})


def test_invariant_breaches_names_the_sku() -> None:
    breaches = invariant_breaches([("S", 3), ("S", 2), ("T", 1)], {"S": 4, "T": 1})
    assert breaches == {"S": (5, 4)}
    assert invariant_breaches([("T", -1)], {"T": 1}) == {"T": (-1, 1)}


def test_policy_file_and_run_overrides(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "default: {buffer: 1}\nstores:\n  shopee-9: {exclude: true}\n  tiktok-2: {share: 0.5}\n"
    )
    book = load_policy_file(path)
    assert book.for_store("mercadolivre-1") == StorePolicy(buffer=1)
    assert book.for_store("shopee-9").desired(10) == 0
    overridden = book.overridden({"tiktok-2": {"max": 2}})
    assert overridden.for_store("tiktok-2").desired(10) == 2
    assert overridden.for_store("shopee-9").exclude


def test_a_bad_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("stores:\n  tiktok-2: {share: 2}\n")
    with pytest.raises(ValueError, match=r"policy\.yaml is not valid"):
        load_policy_file(path)
    with pytest.raises(ValueError, match="tiktok-2"):
        PolicyBook().overridden({"tiktok-2": {"sharee": 1}})
