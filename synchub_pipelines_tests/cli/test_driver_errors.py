"""A database or API that cannot be used is named in the error (host and port, or the SQLite
path; the API host and the variable that sets it), and a password never is."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from synchub_pipelines.cli import main, scrub
from synchub_pipelines.connect import naming_hosts
from synchub_pipelines.marketplaces.errors import AuthError, TransientError
from synchub_pipelines.sandbox.server import RunningSandbox
from synchub_pipelines_tests.conftest import ADMIN_URL

PASSWORD = "s3cr3t-pw-Zq9"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stores_with(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """`synchub stores` on this warehouse URL: (exit code, stderr), never the password."""
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", url)
    code = main(["stores"])
    captured = capsys.readouterr()
    assert PASSWORD not in captured.out + captured.err
    return code, captured.err


def test_an_unreachable_postgresql_is_named_by_host_and_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port()
    url = f"postgresql+psycopg://synchub:{PASSWORD}@127.0.0.1:{port}/warehouse"
    code, error = _stores_with(url, monkeypatch, capsys)
    assert code == 1
    assert f"warehouse PostgreSQL at 127.0.0.1:{port}, database 'warehouse'" in error
    assert "Connection refused" in error
    assert "sqlalche.me" not in error  # SQLAlchemy's boilerplate is not for operators


def test_a_host_that_does_not_resolve_is_named_with_its_port(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql://synchub:{PASSWORD}@warehouse.invalid:6543/warehouse"
    code, error = _stores_with(url, monkeypatch, capsys)
    assert code == 1
    assert "warehouse.invalid:6543" in error


@pytest.mark.postgres
def test_a_missing_database_on_a_live_server_is_named(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = make_url(ADMIN_URL)
    url = make_url(pg_url).set(database="synchub_no_such_database", password=PASSWORD)
    code, error = _stores_with(url.render_as_string(hide_password=False), monkeypatch, capsys)
    assert code == 1
    assert f"{admin.host}:{admin.port or 5432}, database 'synchub_no_such_database'" in error
    assert "does not exist" in error


def test_a_sqlite_file_that_cannot_be_opened_is_named_by_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "no" / "such" / "folder" / "warehouse.sqlite"
    code, error = _stores_with(f"sqlite:///{path}", monkeypatch, capsys)
    assert code == 1
    assert f"warehouse SQLite file {path}" in error
    assert "does its folder exist" in error


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"postgresql://synchub:{PASSWORD}@db:port/warehouse", "its port 'port' is not a number"),
        (f"mysql://synchub:{PASSWORD}@db/warehouse", "supported are PostgreSQL"),
        (f"warehouse:{PASSWORD}", "Could not parse"),
    ],
)
def test_a_malformed_url_is_refused_naming_the_variable(
    url: str, says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, error = _stores_with(url, monkeypatch, capsys)
    assert code == 2
    assert "SYNCHUB_WAREHOUSE_URL is not a usable warehouse URL" in error
    assert says in error


def test_a_password_is_scrubbed_from_any_message() -> None:
    url = f"postgresql://synchub:{PASSWORD}@db:5432/warehouse"
    said = f"failed for {url} (password {PASSWORD})"
    assert PASSWORD not in scrub(said, url)
    assert "postgresql://synchub:***@db:5432/warehouse" in scrub(said, url)


def test_an_api_error_during_connect_names_the_host_and_its_variable() -> None:
    routes = (
        ("oauth.", "TikTok Shop's authorization host", "https://user:pw@auth.example:8443/x", "A"),
        ("", "the TikTok Shop API", "http://127.0.0.1:9/api?token=t", "B"),
    )
    with pytest.raises(TransientError) as failed, naming_hosts(*routes):
        raise TransientError("tiktok", "oauth.token_get", "network error (ConnectError)")
    assert str(failed.value).endswith(
        "could not reach TikTok Shop's authorization host at auth.example:8443 (A)"
    )
    assert failed.value.retryable  # same type, same meaning for callers that retry
    with pytest.raises(AuthError) as refused, naming_hosts(*routes):
        raise AuthError("tiktok", "authorization.shops", "bad token", status=401)
    assert str(refused.value).endswith("bad token; the TikTok Shop API at 127.0.0.1:9 (B)")
    assert "token=t" not in str(refused.value) and "pw" not in str(refused.value)


def test_connect_names_the_api_host_it_could_not_use(
    sandbox: RunningSandbox,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """End to end: the sandbox refuses a made-up authorization code."""
    from synchub_pipelines.sandbox import mercadolivre as ml_sandbox

    monkeypatch.setenv("SYNCHUB_ML_CLIENT_ID", ml_sandbox.APP_ID)
    monkeypatch.setenv("SYNCHUB_ML_CLIENT_SECRET", ml_sandbox.APP_SECRET)
    monkeypatch.setenv("SYNCHUB_ML_API_URL", sandbox.base_url("mercadolivre"))
    monkeypatch.setenv("SYNCHUB_ML_AUTH_URL", sandbox.base_url("mercadolivre"))
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", sqlite_url)
    assert main(["connect", "mercadolivre", "--code", "TG-made-up"]) == 1
    error = capsys.readouterr().err
    assert f"the Mercado Livre API at {sandbox.host}:{sandbox.port} (SYNCHUB_ML_API_URL)" in error
    assert ml_sandbox.APP_SECRET not in error
