"""NumberCache.search, a list's ``q`` through the index of names and numbers
(app.numbers.q_index), gives what testing every number in order gives
(NumberCache.first), also after numbers are stored, renamed and dropped since the index
was built, and tests only the numbers whose name or digits hold ``q``."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from app.lib.auth import BOOTSTRAP_ADMIN
from app.numbers import cache as cache_module
from app.numbers.cache import CachedNumber, NumberCache
from app.numbers.memory_pages import _acceptor, page_numbers
from app.numbers.query import NumberQuery, q_digits
from app.numbers.service import PAGES
from tests.support.number_rows import number_row

# Lowered, as entries keep them; None: a name outside ASCII, which memory cannot test.
ASCII = ["", "hotline", "support", "sales hotline", "2fa sender", "a_b%c\\d", "x+y"]
NAMES = [*ASCII, None]
SEARCHES = [
    "hot",
    "HOTline",
    "Line",
    "e",
    "Sales H",
    "2FA",
    "a_b",
    "%",
    "\\",
    "x+y",
    "+",
    "151",
    "+49 151 7000 0013",
    "(151) 700-000",
    "00012",
    "4915170000039",  # the last number only
    "zzz",
    "hotlinez",
]


def entry(name: str | None, version: int = 1) -> CachedNumber:
    return CachedNumber(None, b"{}", version, "DE", "active", None, name, frozenset(), None)


@pytest.fixture(params=["columns", "front"])
def placement(request: pytest.FixtureRequest) -> str:
    """Where the held rows live: built into the columns by a load, or each read into
    the front (app.numbers.cache)."""
    return request.param  # type: ignore[no-any-return]


def held(
    placement: str, count: int, names: list[str | None] = NAMES
) -> tuple[NumberCache, list[str]]:
    """A complete cache of ``count`` numbers, named in turn from ``names``."""
    cache = NumberCache(1_000, 60.0)
    cache.activate()
    start = cache.load_started()
    numbers = [f"49151{70000000 + i:08d}" for i in range(count)]
    if placement == "columns":
        cache.build_started(start)
    for number, name in zip(numbers, itertools.cycle(names), strict=False):
        if placement == "columns":
            cache.load_row(start, row(number, name), b"{}")
        else:
            cache.put(cache.ticket(), number, entry(name))
    cache.load_finished(start, whole=True)
    assert cache.complete
    assert cache.get(numbers[0]) == entry(names[0])
    return cache, numbers


def row(number: str, name: str | None) -> SimpleNamespace:
    """A row whose lowered name is ``name`` (None: a name outside ASCII)."""
    return number_row(number, friendly_name="Ärger" if name is None else name)


def both(
    cache: NumberCache, q: str, after: str | None = None, wanted: int = 6
) -> tuple[object, object]:
    """``q``'s page after ``after`` by the index, and by testing every number."""
    accept = _acceptor(None, NumberQuery(page=PAGES.query(str(wanted), None), q=q))
    searched = cache.search(wanted, after, (q.lower(), q_digits(q)), accept, 10**6)
    # q being the only condition, the columns' hits are taken untested: the same page.
    alone = cache.search(wanted, after, (q.lower(), q_digits(q)), accept, 10**6, q_alone=True)
    assert alone == searched
    walked = cache.first(wanted, None, after, accept, 10**6)
    return searched, walked


def assert_every_page_alike(cache: NumberCache, searches: list[str] = SEARCHES) -> int:
    """Each search, page after page, the same by the index as by the walk; how many
    numbers they found in all."""
    found = 0
    for q in searches:
        after = None
        while True:
            searched, walked = both(cache, q, after)
            assert searched == walked, (q, after)
            if not walked:  # None (a name memory cannot test) or the end
                break
            numbers = walked[0]  # type: ignore[index]
            found += len(numbers)
            if len(numbers) < 6:
                break
            after = numbers[-1]
    return found


@pytest.mark.parametrize("names", [ASCII, NAMES], ids=["ASCII names", "one not ASCII"])
def test_every_search_finds_what_the_walk_finds(names: list[str | None], placement: str) -> None:
    cache, _ = held(placement, 40, names)
    assert assert_every_page_alike(cache) > 60


def test_a_name_memory_cannot_test_is_found_as_the_walk_finds_it(placement: str) -> None:
    """The walk gives up at such a number unless its digits hold q; so must the index."""
    cache, numbers = held(placement, 16)  # numbers[7] and [15] are named None
    page = [numbers[1]], [b"{}"]
    for q, wanted, expected in [
        ("hot", 6, None),  # the page reaches numbers[7]
        ("hot", 1, page),  # it does not
        ("70000007", 1, ([numbers[7]], [b"{}"])),  # its digits hold q
        ("70000007", 2, None),  # and then numbers[15]
    ]:
        assert both(cache, q, wanted=wanted) == (expected, expected), (q, wanted)


def test_changes_since_the_index_was_built_are_searched(placement: str) -> None:
    cache, numbers = held(placement, 40, ASCII)
    assert_every_page_alike(cache)  # builds the index
    cache.put(cache.ticket(), numbers[0], entry("new hotline", version=2))  # renamed
    cache.put(cache.ticket(), numbers[1], entry("", version=2))  # was "hotline"
    cache.forget([numbers[3]])  # was "sales hotline"
    cache.absent(cache.ticket(), [numbers[3]])
    cache.put(cache.ticket(), "4915170000099", entry("hotline at the end"))
    cache.put(cache.ticket(), "4915169999999", entry("hotline at the start"))
    assert cache.complete
    page, _ = both(cache, "hotline", wanted=100)
    assert page is not None
    assert page[0][:2] == ["4915169999999", numbers[0]]
    assert numbers[1] not in page[0] and numbers[3] not in page[0]
    assert page[0][-1] == "4915170000099"
    assert_every_page_alike(cache, [*SEARCHES, "new", "at the", "99999"])


def test_an_index_past_its_changes_is_built_again(
    monkeypatch: pytest.MonkeyPatch, placement: str
) -> None:
    monkeypatch.setattr(cache_module, "Q_INDEX_CHANGES", 2)
    cache, numbers = held(placement, 40)
    assert_every_page_alike(cache)
    for n, number in enumerate(numbers[:5]):
        cache.put(cache.ticket(), number, entry(f"renamed {n}", version=2))
        # Never more than 2 numbers tested beside the index: past that, a new index.
        assert len(cache._q_changed) <= 2
        assert_every_page_alike(cache, [*SEARCHES, "renamed", f"renamed {n}"])


def test_only_numbers_holding_q_are_tested(placement: str) -> None:
    cache, _ = held(placement, 400, ASCII)
    tested: list[str] = []
    query = NumberQuery(page=PAGES.query("50", None), q="Sales")
    accept = _acceptor(None, query)

    def counting(number: str, value: CachedNumber) -> bool | None:
        tested.append(number)
        return accept(number, value)

    page = cache.search(51, None, ("sales", None), counting, 10**6)
    assert page is not None and len(page[0]) == 51
    assert tested == page[0]  # one number in seven is named "sales hotline"


def test_a_q_holding_the_separator_is_left_to_the_database(placement: str) -> None:
    """PostgreSQL's text cannot hold NUL: such a q is the database's to refuse."""
    cache, _ = held(placement, 40, ASCII)
    for q in ("\x00", "hot\x00line"):
        query = NumberQuery(page=PAGES.query("7", None), q=q)
        assert page_numbers(cache, BOOTSTRAP_ADMIN, query) is None
    query = NumberQuery(page=PAGES.query("7", None), q="hotline")
    assert page_numbers(cache, BOOTSTRAP_ADMIN, query) is not None
