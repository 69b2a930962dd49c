"""`synchub publish bling-catalog`: the Bling write-back from the command line, dry-run
unless --apply (PostgreSQL warehouse, the Bling sandbox over loopback)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from synchub_pipelines.cli import main
from synchub_pipelines.sandbox.bling import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI
from synchub_pipelines.sandbox.bling_render import loja_id_for
from synchub_pipelines_tests.publishing.test_bling_catalog import (
    ACCOUNT,
    ATTRIBUTES,
    ML,
    SHOPEE,
    TIKTOK,
    Env,
    _seed,
    env,  # noqa: F401 - the fixture
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def cli_env(env: Env, monkeypatch: pytest.MonkeyPatch) -> Env:  # noqa: F811
    """The settings a deployment gives the CLI: the warehouse and Bling's app."""
    monkeypatch.setenv("SYNCHUB_WAREHOUSE_URL", env.warehouse.url)
    monkeypatch.setenv("SYNCHUB_CATALOG_SOURCE", "file")
    monkeypatch.setenv("SYNCHUB_BLING_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SYNCHUB_BLING_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SYNCHUB_BLING_REDIRECT_URI", REDIRECT_URI)
    monkeypatch.setenv("SYNCHUB_BLING_API_URL", env.bling.api_url)
    monkeypatch.setenv("SYNCHUB_BLING_ACCOUNT", ACCOUNT)
    monkeypatch.setenv("SYNCHUB_BLING_REQUESTS_PER_SECOND", "1000")
    # Only Mercado Livre is mapped in the setting; the command line maps Shopee.
    monkeypatch.setenv("SYNCHUB_BLING_LOJAS", f"{ML}={loja_id_for(ML)}")
    return env


def _statuses(env: Env) -> dict[str, set[tuple[str, str, str]]]:  # noqa: F811
    with env.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT run_id, sku, store_id, status FROM bling_catalog_writes")
        ).all()
    found: dict[str, set[tuple[str, str, str]]] = {}
    for r in rows:
        found.setdefault(r.run_id, set()).add((r.sku, r.store_id, r.status))
    return found


def test_dry_run_by_default_then_apply_then_nothing(
    cli_env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env = cli_env  # noqa: F811 - the fixture, renamed for the CLI settings
    _seed(env.engine, ATTRIBUTES)
    shopee = f"{SHOPEE}={loja_id_for(SHOPEE)}"

    assert main(["publish", "bling-catalog", "--loja", shopee]) == 0

    out = capsys.readouterr().out
    assert "DRY RUN (nothing sent)" in out
    assert env.sim.catalog_writes.writes == []
    (dry,) = _statuses(env).values()
    assert {status for *_, status in dry} == {"planned"}
    assert ("CAM01-VRM-M", SHOPEE, "planned") in dry  # the command line's loja
    assert not any(store == TIKTOK for _, store, _ in dry)  # unmapped: skipped, said why
    assert f"{TIKTOK}" in out and "voltage" in out

    assert main(["publish", "bling-catalog", "--loja", shopee, "--apply"]) == 0

    out = capsys.readouterr().out
    assert "REAL" in out and "written" in out
    assert env.sim.catalog_writes.writes
    real = next(rows for rows in _statuses(env).values() if rows != dry)
    assert {(sku, store) for sku, store, _ in real} == {(sku, store) for sku, store, _ in dry}
    assert {status for *_, status in real} == {"written"}

    sent = len(env.sim.catalog_writes.writes)
    assert main(["publish", "bling-catalog", "--loja", shopee, "--apply"]) == 0
    assert len(env.sim.catalog_writes.writes) == sent
    assert "0 write(s)" in capsys.readouterr().out


def test_a_bad_loja_is_refused_before_anything_is_read(
    cli_env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit, match="loja"):
        main(["publish", "bling-catalog", "--loja", "shopee-880012345=abc", "--apply"])
    assert cli_env.sim.catalog_writes.writes == []
