"""The cache's columns (app.numbers.columns): one load of the whole mirror held in ~100
bytes a number, serving every row as it was read, in order, and never a row a notice
named or a newer read replaced."""

from __future__ import annotations

import random
import time
import tracemalloc
import uuid
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from app.db.vocabulary import KeyScope
from app.lib.auth import BOOTSTRAP_ADMIN, Principal
from app.lib.pagination import PageQuery
from app.lib.tags import parse_tag_filters
from app.numbers import cache as cache_module
from app.numbers import columns as columns_module
from app.numbers.cache import CachedNumber, LoadStart, NumberCache
from app.numbers.columns import key_of
from app.numbers.memory_pages import _acceptor, page_numbers
from app.numbers.query import NumberQuery, q_digits
from tests.support.number_rows import number_row

TENANTS = [uuid.UUID(int=0x7E0 + i) for i in range(3)]
POOLS = [uuid.UUID(int=0x900 + i) for i in range(2)]
NAMES = ["", "Support", "Sales Hotline", "2FA sender", "Ärger"]


def test_keys_order_numbers_as_their_digits_do() -> None:
    draw = random.Random(7)
    numbers = {"0", "00", "1", "10", "100", "49", "490", "4900", "491", "5", "9" * 17}
    numbers |= {str(draw.randrange(10 ** draw.randint(1, 17))) for _ in range(3_000)}
    numbers |= {n.zfill(draw.randint(len(n), 17)) for n in list(numbers)[:500]}
    keys = {number: key_of(number) for number in numbers}
    assert sorted(numbers) == sorted(numbers, key=keys.__getitem__)
    assert len(set(keys.values())) == len(numbers)
    for other in ("9" * 18, "49a", "", "٤٩"):  # too long, not digits, Arabic-Indic digits
        assert key_of(other) is None


def body(number: str, name: str) -> bytes:
    """A body as varied as a real one in the fields that vary."""
    return msgspec.json.encode(
        {"number": number, "friendly_name": name, "created": f"2024-01-{int(number) % 28 + 1}"}
    )


def row(number: str, draw: random.Random, version: int = 1) -> SimpleNamespace:
    return number_row(
        number,
        version=version,
        country=draw.choice(["DE", "AT", "CH"]),
        state=draw.choice(["active", "active", "ordering", "missing"]),
        tenant_id=draw.choice([None, None, *TENANTS]),
        pool_id=draw.choice([None, None, None, *POOLS]),
        friendly_name=draw.choice(NAMES),
        feature_sms=draw.random() < 0.8,
        feature_a2p_sms=draw.random() < 0.3,
        feature_voice=draw.random() < 0.5,
        tags=draw.choice([{}, {}, {}, {"team": "crm"}, {"team": "ops", "tier": "1"}]),
    )


def building(max_age: float = 60.0) -> tuple[NumberCache, LoadStart]:
    """A listening cache whose first load has begun building its columns."""
    cache = NumberCache(100_000, max_age)
    cache.activate()
    start = cache.load_started()
    cache.build_started(start)
    return cache, start


def built(rows: list[SimpleNamespace], max_age: float = 60.0) -> NumberCache:
    """A cache whose load (a build of its columns) read ``rows``, in number order."""
    cache, start = building(max_age)
    for each in sorted(rows, key=lambda r: r.number):
        cache.load_row(start, each, body(each.number, each.friendly_name))
    cache.load_finished(start, whole=True)
    assert cache.complete
    return cache


def numbers(count: int, draw: random.Random) -> list[str]:
    return sorted({f"49151{draw.randrange(10**8):08d}" for _ in range(count)})


def test_each_row_is_served_as_it_was_read() -> None:
    draw = random.Random(1)
    rows = [row(number, draw) for number in numbers(500, draw)]
    cache = built(rows)
    assert len(cache) == len(rows)
    for each in rows:
        expected = CachedNumber.of(each, body(each.number, each.friendly_name))
        assert cache.get(each.number) == expected
        assert cache.document(each.number) == (expected.tenant_id, each.version, expected.body)
    assert cache.get("4915100000000") is None  # not in the mirror
    assert cache.document("4915100000000") is None


def test_a_row_named_by_a_notice_or_read_anew_is_served_no_more() -> None:
    draw = random.Random(2)
    rows = [row(number, draw) for number in numbers(20, draw)]
    cache = built(rows)
    named, reread = rows[3].number, rows[4].number
    cache.forget([named])
    assert cache.get(named) is None and cache.holes == {named}
    newer = row(reread, draw, version=2)
    cache.put_row(cache.ticket(), newer, b'{"newer":true}')
    assert cache.get(reread) == CachedNumber.of(newer, b'{"newer":true}')
    assert len(cache) == len(rows) - 1

    cache.absent(cache.ticket(), [named])  # deleted
    page = cache.first(100, None, None, lambda number, entry: True, 1_000)
    assert page is not None
    assert page[0] == [r.number for r in rows if r.number != named]  # each once, in order
    assert page[1][3] == b'{"newer":true}'  # rows[4], after the deleted rows[3]


def test_columns_aged_out_are_served_no_more(monkeypatch: pytest.MonkeyPatch) -> None:
    draw = random.Random(3)
    rows = [row(number, draw) for number in numbers(5, draw)]
    cache = built(rows, max_age=5.0)
    later = time.monotonic() + 6.0
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert not cache.complete
    assert cache.get(rows[0].number) is None
    assert cache.needs_build


def test_a_build_keeps_a_front_row_newer_than_its_own() -> None:
    """A row read after a change whose notice is still on its way is newer than the
    build's: the front keeps it; a front row the build read alike goes."""
    draw = random.Random(4)
    rows = [row(number, draw) for number in numbers(3, draw)]
    cache = built(rows)
    start = cache.load_started()
    cache.build_started(start)
    for each in rows:
        cache.load_row(start, each, body(each.number, each.friendly_name))
        # Meanwhile, single reads: one of the same version, one of a newer one.
    cache.put_row(cache.ticket(), row(rows[0].number, draw, version=1), b"same")
    cache.put_row(cache.ticket(), row(rows[1].number, draw, version=2), b"newer")
    cache.load_finished(start, whole=True)
    assert len(cache._entries) == 1
    served = [cache.get(each.number) for each in rows]
    assert [entry.body if entry else None for entry in served] == [
        body(rows[0].number, rows[0].friendly_name),
        b"newer",
        body(rows[2].number, rows[2].friendly_name),
    ]


def test_rows_read_during_the_first_build_are_folded_into_its_columns() -> None:
    """Single reads while the first load runs go to the front, whichever side of the
    load's progress their numbers are; once it ends, the columns hold them all and the
    front none (a front that kept them would soon ask for another build)."""
    draw = random.Random(8)
    rows = [row(number, draw) for number in numbers(10, draw)]
    cache, start = building()
    for each in rows[:5]:
        cache.load_row(start, each, body(each.number, each.friendly_name))
    for each in (rows[2], rows[7]):  # one already loaded, one not yet
        cache.put_row(cache.ticket(), each, body(each.number, each.friendly_name))
    for each in rows[5:]:
        cache.load_row(start, each, body(each.number, each.friendly_name))
    cache.load_finished(start, whole=True)
    assert len(cache._entries) == 0 and len(cache) == len(rows)
    assert all(cache.get(each.number) is not None for each in rows)


def test_a_number_memory_cannot_order_keeps_lists_to_the_database_after_a_build() -> None:
    """The front's orders are rebuilt when a build takes rows from it; one it keeps
    that is not plain digits still leaves list pages to PostgreSQL's collation."""
    draw = random.Random(12)
    rows = [row(number, draw) for number in numbers(2, draw)]
    cache, start = building()
    cache.put_row(cache.ticket(), rows[0], b"read during the build")
    cache.put_row(cache.ticket(), number_row("49a"), b"{}")
    for each in rows:
        cache.load_row(start, each, body(each.number, each.friendly_name))
    cache.load_finished(start, whole=True)
    assert list(cache._entries) == ["49a"]  # rows[0] went: the columns hold its row
    assert not cache.complete


def test_a_row_the_build_reads_after_a_notice_named_it_stays_a_hole() -> None:
    """The load's one snapshot may predate the change the notice announced."""
    draw = random.Random(9)
    rows = [row(number, draw) for number in numbers(3, draw)]
    cache, start = building()
    cache.load_row(start, rows[0], b"{}")
    cache.forget([rows[0].number, rows[1].number])  # one read already, one not yet
    for each in rows[1:]:
        cache.load_row(start, each, b"{}")
    cache.load_finished(start, whole=True)
    assert cache.holes == {rows[0].number, rows[1].number} and not cache.complete
    assert [cache.get(each.number) is not None for each in rows] == [False, False, True]


QUERIES: list[dict[str, Any]] = [
    {},
    {"country": "AT"},
    {"state": "ordering"},
    {"tenant": TENANTS[1]},
    {"pool": POOLS[0]},
    {"country": "DE", "features": {"voice": True, "sms": False}},
    {"tags": "team:crm"},
    {"q": "hot"},
    {"q": "151 7"},
    {"q": "sales", "country": "CH"},
]


def pages(cache: NumberCache, query: dict[str, Any]) -> list[object]:
    """Every page of 7 for ``query`` from memory (None: left to the database)."""
    fields = _plain(query)
    found: list[object] = []
    after: tuple[str] | None = None
    while True:
        asked = NumberQuery(page=PageQuery(limit=7, after=after), **fields)
        page = page_numbers(cache, BOOTSTRAP_ADMIN, asked)
        found.append(page)
        if page is None or len(page[0]) <= 7:
            return found
        after = (page[0][6],)


def _plain(query: dict[str, Any]) -> dict[str, Any]:
    """``query`` as NumberQuery's fields."""
    if "tags" not in query:
        return query
    return query | {"tags": parse_tag_filters([query["tags"]])}


@pytest.mark.parametrize("folded", [False, True], ids=["beside the front", "folded"])
@pytest.mark.parametrize("samples", [100, 10_000], ids=["compressed", "as they are"])
def test_pages_from_the_columns_and_the_front_are_the_pages_of_the_same_rows(
    folded: bool, samples: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows built into the columns, then changed, added and deleted through the front,
    give every page that the same final rows held in the front alone give; and so do
    the new columns the front is folded into."""
    monkeypatch.setattr(columns_module, "DICTIONARY_SAMPLES", samples)
    draw = random.Random(5)
    held = {number: row(number, draw) for number in numbers(400, draw)}
    cache = built(list(held.values()))
    for number in draw.sample(sorted(held), 60):  # changed, and read again
        cache.forget([number])
        held[number] = row(number, draw, version=2)
        cache.put_row(cache.ticket(), held[number], body(number, held[number].friendly_name))
    for number in draw.sample(sorted(held), 30):  # deleted
        cache.forget([number])
        cache.absent(cache.ticket(), [number])
        del held[number]
    for number in numbers(40, draw):  # added
        cache.forget([number])
        held[number] = row(number, draw)
        cache.put_row(cache.ticket(), held[number], body(number, held[number].friendly_name))
    assert cache.complete and len(cache) == len(held)
    if folded:
        list(cache.fold())
        assert not cache._entries and cache.complete and len(cache) == len(held)
    for number, each in held.items():  # every field, the undecided names' None too
        assert cache.get(number) == CachedNumber.of(each, body(number, each.friendly_name))

    front = NumberCache(100_000, 60.0)
    front.activate()
    start = front.load_started()
    for each in held.values():
        front.put_row(front.ticket(), each, body(each.number, each.friendly_name))
    front.load_finished(start, whole=True)

    for query in QUERIES:
        assert pages(cache, query) == pages(front, query), query
        accept = _acceptor(None, NumberQuery(page=PageQuery(limit=7, after=None), **_plain(query)))
        if "q" in query:
            q = (query["q"].lower(), q_digits(query["q"]))
            assert cache.search(500, None, q, accept, 10**6) == front.search(
                500, None, q, accept, 10**6
            )


def test_changes_while_a_fold_runs_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between its batches a notice may name a row, or a newer read arrive, on either
    side of the fold's progress: the new columns never serve what they replaced."""
    monkeypatch.setattr(cache_module, "FOLD_BATCH", 2)
    draw = random.Random(11)
    rows = [row(number, draw) for number in numbers(12, draw)]
    cache = built(rows)
    for each in (rows[1], rows[9]):  # read again since the build: in the front
        cache.put_row(cache.ticket(), row(each.number, draw, version=2), b"front")
    fold = cache.fold()
    next(fold)
    next(fold)  # rows[0..3] copied, rows[1]'s from the front
    cache.forget([rows[2].number, rows[6].number, rows[9].number])  # copied, not yet, front
    cache.put_row(cache.ticket(), row(rows[3].number, draw, version=3), b"newer")
    list(fold)
    assert cache.holes == {rows[2].number, rows[6].number, rows[9].number}
    bodies = {each.number: getattr(cache.document(each.number), "body", None) for each in rows}
    assert bodies[rows[1].number] == b"front"
    assert bodies[rows[3].number] == b"newer"
    assert [bodies[each.number] for each in (rows[2], rows[6], rows[9])] == [None] * 3
    assert bodies[rows[11].number] == body(rows[11].number, rows[11].friendly_name)
    assert list(cache._entries) == [rows[3].number]  # the newer read, kept beside
    assert len(cache) == len(rows) - 3


def test_a_number_is_held_in_about_a_tenth_of_an_entry() -> None:
    """20,000 rows with bodies of ~700 bytes: the columns hold them in under 200 bytes
    a number, all in (an entry of the front costs ~1,300)."""
    draw = random.Random(6)
    template = b'{"billing":{"fees":{"setup":"0.00","basic_charge":"4.90"}},' + b"x" * 600
    rows = [row(number, draw) for number in numbers(20_000, draw)]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache, start = building()
    for each in rows:
        cache.load_row(start, each, template + each.number.encode() + b"}")
    cache.load_finished(start, whole=True)
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(cache) == len(rows) and cache.complete
    assert held / len(rows) < 200, held / len(rows)


def test_q_hits_are_taken_untested_only_when_q_is_the_only_condition() -> None:
    """A ``q`` page takes the columns' hits untested only when ``q`` is all it asks; with
    a filter, or a tenant's key, each hit is tested as the front's rows are."""
    draw = random.Random(3)
    rows = [
        number_row(
            number,
            friendly_name=draw.choice(["Sales Hotline", "Support"]),
            country=draw.choice(["DE", "AT"]),
            tenant_id=draw.choice([None, *TENANTS]),
        )
        for number in numbers(200, draw)
    ]
    cache = built(rows)
    front = NumberCache(100_000, 60.0)
    front.activate()
    start = front.load_started()
    for each in rows:
        front.put_row(front.ticket(), each, body(each.number, each.friendly_name))
    front.load_finished(start, whole=True)
    tenant = Principal(scope=KeyScope.TENANT, key_id=None, tenant_id=TENANTS[0])
    for principal in (BOOTSTRAP_ADMIN, tenant):
        for fields in ({"q": "sales"}, {"q": "sales", "country": "AT"}, {"q": "151"}):
            asked = NumberQuery(page=PageQuery(limit=500, after=None), **fields)
            found = page_numbers(cache, principal, asked)
            assert found is not None and found[0], (principal, fields)
            assert found == page_numbers(front, principal, asked), (principal, fields)
