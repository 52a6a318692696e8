"""The search indexes the first sync builds after its commit (``app/sync/indexes.py``),
against the sandbox and a real Postgres."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text

from app.resources import Resources
from app.sync import service
from app.sync.indexes import concurrently
from tests.support.operations import rent
from tests.support.sandbox import SandboxProcess
from tests.sync.test_sync import sync

_INDEXES = text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'numbers'")
_PENDING = text("SELECT name, definition FROM deferred_index_builds")
_TRIGRAM = {"ix_numbers_friendly_name_trgm", "ix_numbers_number_trgm"}


async def query(resources: Resources, statement: Any) -> dict[str, Any]:
    async with resources.engine.connect() as connection:
        return dict((await connection.execute(statement)).tuples().all())


async def test_the_first_sync_commits_the_mirror_before_its_search_indexes_are_built(
    resources: Resources,
    fresh_sandbox: SandboxProcess,
    client: AsyncTestClient[Litestar],
    admin_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a worker that died between the run's commit and the builds would leave it: the
    mirror whole and searchable, the trigram indexes recorded; the next run builds them."""
    found, other = rent(fresh_sandbox, 2)
    fresh_sandbox.put_active(found, friendly_name="Hotline Berlin")
    before = await query(resources, _INDEXES)

    async def died(*_: Any) -> list[str]:
        return []

    monkeypatch.setattr(service, "build_deferred_indexes", died)
    assert (await sync(resources)).path == "baseline"

    after_commit = await query(resources, _INDEXES)
    assert set(before) - set(after_commit) == _TRIGRAM
    assert {name: after_commit[name] for name in after_commit} == {
        name: before[name] for name in after_commit
    }
    assert await query(resources, _PENDING) == {name: before[name] for name in _TRIGRAM}
    for q, expected in (("berlin", [found]), (other, [other]), ("nobody", [])):
        response = await client.get("/v1/numbers", params={"q": q}, headers=admin_headers)
        assert response.status_code == 200, response.text
        assert [item["number"] for item in response.json()["items"]] == expected

    monkeypatch.undo()
    assert (await sync(resources)).path == "diff"

    assert await query(resources, _INDEXES) == before
    assert await query(resources, _PENDING) == {}


async def test_a_build_cut_short_is_dropped_and_built_again(
    resources: Resources, fresh_sandbox: SandboxProcess
) -> None:
    """A ``CREATE INDEX CONCURRENTLY`` that fails leaves an invalid index of its name."""
    rent(fresh_sandbox, 2)  # two numbers of one country
    await sync(resources)
    name = "ix_numbers_country_probe"
    definition = f"CREATE INDEX {name} ON public.numbers USING btree (country)"
    async with resources.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        with pytest.raises(Exception, match="could not create unique index"):
            await autocommit.execute(
                text(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON numbers (country)")
            )
        await autocommit.execute(
            text("INSERT INTO deferred_index_builds (name, definition) VALUES (:n, :d)"),
            {"n": name, "d": definition},
        )
    valid = text("SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = to_regclass(:n)")
    assert (await query(resources, valid.bindparams(n=name))) == {False: True}

    await sync(resources)

    assert (await query(resources, valid.bindparams(n=name))) == {True: False}
    assert (await query(resources, _INDEXES))[name] == definition
    assert await query(resources, _PENDING) == {}


def test_concurrently_rewrites_only_the_statements_head() -> None:
    assert concurrently("CREATE INDEX ix ON public.numbers USING gin (x)") == (
        "CREATE INDEX CONCURRENTLY ix ON public.numbers USING gin (x)"
    )
    assert concurrently("CREATE UNIQUE INDEX ix ON t (a)") == (
        "CREATE UNIQUE INDEX CONCURRENTLY ix ON t (a)"
    )
    with pytest.raises(ValueError):
        concurrently("DROP TABLE numbers")
