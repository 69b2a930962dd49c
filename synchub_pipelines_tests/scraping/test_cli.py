"""`synchub scrape extract`'s functions: a saved page, a fetched page, and the exit codes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from synchub_pipelines.scraping.cli import add_extract_arguments, run_extract
from synchub_pipelines_tests.scraping.site_server import Site, page, product_html

TARGETS = """
[[sites]]
site = "lojateste"
start_urls = ["${LOJA_URL}/"]
delay_seconds = 0.0
[sites.recipe]
title = "h1.nome"
price = ".preco"
"""


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_extract_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Site]:
    with Site() as running:
        running.routes["/robots.txt"] = page(
            body=b"User-agent: *\nDisallow: /privado\n", Content_Type="text/plain"
        )
        monkeypatch.setenv("LOJA_URL", running.base)
        monkeypatch.setenv("SYNCHUB_SCRAPE_TARGETS", str(tmp_path / "targets.toml"))
        (tmp_path / "targets.toml").write_text(TARGETS, encoding="utf-8")
        yield running


def test_saved_page_with_the_sites_recipe(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "page.html"
    saved.write_bytes(
        (
            '<h1 class="nome">Açúcar 1kg</h1><p class="preco">10x de R$ 0,99 sem juros</p>'
            '<p class="preco">R$ 9,90</p>'
        ).encode("cp1252")
    )
    code = run_extract(
        parse(
            "--html",
            str(saved),
            "--url",
            site.url("/p/1"),
            "--content-type",
            "text/html; charset=windows-1252",
        )
    )
    assert code == 0
    offer = json.loads(capsys.readouterr().out)
    assert (offer["site"], offer["title"], offer["price"], offer["currency"]) == (
        "lojateste",
        "Açúcar 1kg",
        "9.90",
        "BRL",
    )
    assert offer["extracted_by"] == "recipe"
    assert site.hits == []  # a saved page is never fetched


def test_fetched_page_is_polite(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    site.routes["/p/1"] = page(body=product_html("Fone", "199.90", gtin="7891234567895"))
    assert run_extract(parse(site.url("/p/1"))) == 0
    offer = json.loads(capsys.readouterr().out)
    assert (offer["price"], offer["gtin"], offer["extracted_by"]) == (
        "199.90",
        "7891234567895",
        "json-ld",
    )
    assert site.paths() == ["/robots.txt", "/p/1"]


def test_exit_codes_name_the_reason(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_extract(parse(site.url("/privado/p/2"))) == 4
    assert "disallowed" in capsys.readouterr().err and "/privado/p/2" not in site.paths()
    site.routes["/p/3"] = page(body=b'<h1>Acesso negado</h1><div class="g-recaptcha"></div>')
    assert run_extract(parse(site.url("/p/3"))) == 3
    assert "CAPTCHA" in capsys.readouterr().err
    site.routes["/p/4"] = page(body='<h1 class="nome">Sem preço</h1>'.encode())
    assert run_extract(parse(site.url("/p/4"))) == 1
    assert "no price" in capsys.readouterr().err
    assert run_extract(parse("--html", str(tmp_path / "page.html"))) == 5
    assert run_extract(parse(site.url("/p/4"), "--site", "nenhuma")) == 5
    assert "no site 'nenhuma'" in capsys.readouterr().err
