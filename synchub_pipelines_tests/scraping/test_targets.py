"""The targets file: defaults, ${VAR} substitution, and errors that name file, site and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from synchub_pipelines.scraping.targets import (
    DEFAULT_TARGETS,
    TargetsError,
    load_targets,
    target_for_url,
)

GOOD = """
[defaults]
delay_seconds = 2.5
page_budget = 50

[[sites]]
site = "lojax"
start_urls = ["${LOJAX_URL}/c/celulares"]
sitemaps = ["${LOJAX_URL:-http://unused}/sitemap.xml"]
schedule = "30 3 * * mon-fri"
[sites.recipe]
price = ".preco b"
images = "img.zoom@data-src"
product_url = '/p/\\d+$'
override = ["price"]

[[sites]]
site = "lojay"
start_urls = ["http://${LOJAY_HOST:-127.0.0.1:9}/"]
page_budget = 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_loads_with_defaults_and_substitution(tmp_path: Path) -> None:
    lojax, lojay = load_targets(
        write(tmp_path, GOOD), environ={"LOJAX_URL": "http://127.0.0.1:4001/"}
    )
    assert lojax.start_urls == ("http://127.0.0.1:4001/c/celulares",)
    assert lojax.sitemaps == ("http://127.0.0.1:4001/sitemap.xml",)
    assert (lojax.delay_seconds, lojax.page_budget, lojax.schedule) == (2.5, 50, "30 3 * * mon-fri")
    assert lojax.recipe is not None and lojax.recipe.override == ("price",)
    assert lojax.recipe.is_product_url("http://127.0.0.1:4001/p/12")
    assert (
        lojay.start_urls == ("http://127.0.0.1:9/",)
        and lojay.page_budget == 5
        and lojay.recipe is None
    )
    assert target_for_url([lojax, lojay], "http://127.0.0.1:4001/p/12") is lojax


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('price = ".preco b"', 'price = ".preco >> b"'), "site 'lojax': recipe.price"),
        (("product_url = '/p/", 'product_url = "/p/((" #'), "site 'lojax': recipe.product_url"),
        (('schedule = "30 3 * * mon-fri"', 'schedule = "daily"'), "site 'lojax': schedule"),
        (('override = ["price"]', 'override = ["url"]'), "site 'lojax': recipe.override"),
        (('images = "img.zoom@data-src"', 'imagens = "img"'), "site 'lojax': recipe.imagens"),
        (("page_budget = 5\n", "page_budget = 0\n"), "site 'lojay': page_budget"),
        (
            ("page_budget = 5\n", 'user_agent = "Mozilla/5.0"\n'),
            "site 'lojay': user_agent: not configurable",
        ),
        (('site = "lojay"', 'site = "Loja Y"'), "site 'Loja Y': site"),
        (
            ('start_urls = ["http://${LOJAY_HOST:-127.0.0.1:9}/"]', 'start_urls = ["/relative"]'),
            "site 'lojay': start_urls",
        ),
        (
            ('start_urls = ["http://${LOJAY_HOST:-127.0.0.1:9}/"]', ""),
            "give start_urls or sitemaps",
        ),
    ],
)
def test_errors_name_file_site_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(TargetsError) as error:
        load_targets(path, environ={"LOJAX_URL": "http://x"})
    assert str(error.value).startswith(str(path))
    assert message in str(error.value)


def test_unset_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(
        TargetsError, match=r"site 'lojax': start_urls: environment variable LOJAX_URL is not set"
    ):
        load_targets(write(tmp_path, GOOD), environ={})


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TargetsError, match="no such targets file"):
        load_targets(tmp_path / "missing.toml")
    with pytest.raises(TargetsError, match="not valid TOML"):
        load_targets(write(tmp_path, "[[sites]\nsite="))
    with pytest.raises(TargetsError, match="defined twice"):
        load_targets(write(tmp_path, '[[sites]]\nsite="a"\nsitemaps=["http://a/s.xml"]\n' * 2))


def test_default_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = load_targets(DEFAULT_TARGETS, environ={})
    assert [t.site for t in shipped] == [
        "jsonld",
        "microdata",
        "metatags",
        "plainshop",
        "marketplace",
    ]
    monkeypatch.setenv("SYNCHUB_SCRAPE_TARGETS", str(write(tmp_path, GOOD)))
    monkeypatch.setenv("LOJAX_URL", "http://127.0.0.1:4001")
    assert [t.site for t in load_targets()] == ["lojax", "lojay"]
