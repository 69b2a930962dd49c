"""`synchub dashboard`: where the last page is, a clear word when there is none, and the
page served on loopback with the marts' files, nothing else of the data folder."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from synchub_pipelines.dashboard import cli
from synchub_pipelines.dashboard.location import dashboard_folder


def synchub(*argv: str) -> int:
    """The command as `synchub` registers it (cli.py adds `dashboard` the same way)."""
    parser = argparse.ArgumentParser(prog="synchub")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNCHUB_DATA_DIR", str(tmp_path))
    return tmp_path


def built_page(data: Path) -> Path:
    folder = dashboard_folder()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text("<!doctype html><title>dashboard</title>")
    (folder / "plotly.min.js").write_text("window.Plotly = {};")
    (folder / "build.json").write_text(
        '{"built_at": "2026-03-14T15:30:00+00:00", "pages": {"default": "index.html", '
        '"acme": "tenant-acme.html"}}'
    )
    marts = data / "marts"
    marts.mkdir()
    (marts / "mart_sales_daily.csv").write_text("business_date\n2026-03-14\n")
    (data / "warehouse.sqlite").write_bytes(b"secret rows")
    (data / "secret.key").write_bytes(b"secret key")
    return folder / "index.html"


def test_never_built_says_how_to_build(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert synchub("dashboard", "--no-open") == 1
    err = capsys.readouterr().err
    assert "no dashboard was built yet" in err
    assert str(data / "dashboard" / "index.html") in err
    assert "make demo" in err and "merchant_dashboard" in err


def test_says_where_the_last_page_is(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = built_page(data)
    assert synchub("dashboard", "--no-open") == 0
    out = capsys.readouterr().out
    assert f"dashboard: {index}" in out
    assert index.resolve().as_uri() in out
    assert "built:     2026-03-14T15:30:00+00:00" in out
    assert "merchants: default (index.html), acme (tenant-acme.html)" in out


def test_opens_it_in_a_browser(
    data: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    index = built_page(data)
    opened: list[str] = []

    def no_browser(url: str) -> bool:
        opened.append(url)
        return False

    monkeypatch.setattr(cli.webbrowser, "open", no_browser)
    assert synchub("dashboard") == 0
    assert opened == [index.resolve().as_uri()]
    assert "no browser to open here" in capsys.readouterr().out


@pytest.fixture
def served(data: Path) -> Iterator[str]:
    built_page(data)
    server = cli.make_server(dashboard_folder(), 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_serves_the_page_and_the_marts_files_only(served: str) -> None:
    with httpx.Client(base_url=served, timeout=10) as client:
        index = client.get("/")
        assert index.status_code == 200
        assert index.headers["content-type"] == "text/html; charset=utf-8"
        assert "<title>dashboard</title>" in index.text
        assert client.get("/plotly.min.js").headers["content-type"].startswith("text/javascript")
        # The page links ../marts/<mart>.csv: from / that is /marts/<mart>.csv.
        assert client.get("/marts/mart_sales_daily.csv").text.startswith("business_date")
        assert client.head("/index.html").status_code == 200
        for path in [
            "/warehouse.sqlite",
            "/../warehouse.sqlite",
            "/marts/../secret.key",
            "/%2e%2e/secret.key",
            "/marts/..%2fwarehouse.sqlite",
            "/dashboard/index.html",
            "/.index.html.tmp",
            "/nothing.html",
        ]:
            assert client.get(path).status_code == 404, path


def test_a_taken_port_is_a_clear_error(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built_page(data)
    taken = cli.make_server(dashboard_folder(), 0)
    try:
        port = taken.server_address[1]
        assert synchub("dashboard", "--serve", "--no-open", "--port", str(port)) == 1
    finally:
        taken.server_close()
    assert "choose another --port" in capsys.readouterr().err
