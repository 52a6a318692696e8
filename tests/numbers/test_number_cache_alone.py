"""NumberCache on its own: bounded, aged, off unless listening, and never storing a row
read across a change notice."""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from app.numbers.cache import FORGET_LOG_SIZE, CachedNumber, NumberCache
from tests.support.number_rows import number_row


def entry(
    tenant: uuid.UUID | None = None, body: bytes = b"{}", country: str = "DE"
) -> CachedNumber:
    return CachedNumber(tenant, body, 1, country, "active", None, "", frozenset(), None)


def active(max_entries: int = 10, max_age: float = 60.0) -> NumberCache:
    cache = NumberCache(max_entries, max_age)
    cache.activate()
    return cache


def test_a_stored_row_is_served_with_its_holder() -> None:
    cache = active()
    tenant = uuid.uuid4()
    cache.put(cache.ticket(), "491", entry(tenant, b"{}"))
    stored = cache.get("491")
    assert stored is not None
    assert (stored.tenant_id, stored.body) == (tenant, b"{}")


def test_a_row_read_while_its_number_changed_is_not_stored() -> None:
    cache = active()
    ticket = cache.ticket()  # the read starts ...
    cache.forget(["491"])  # ... a change to its number is announced meanwhile ...
    cache.put(ticket, "491", entry(None, b"old"))  # ... so its row may be older than the change
    assert cache.get("491") is None
    # A read that began after the notice has seen the change.
    cache.put(cache.ticket(), "491", entry(None, b"new"))
    assert cache.get("491") is not None


def test_a_notice_about_another_number_does_not_stop_a_read() -> None:
    cache = active()
    ticket = cache.ticket()
    cache.forget(["492"])
    cache.put(ticket, "491", entry(None, b"{}"))
    assert cache.get("491") is not None


@pytest.mark.parametrize(
    "meanwhile",
    [
        lambda cache: cache.clear("forget_all"),
        # More numbers than the cache remembers for reads in flight: every read is outdated.
        lambda cache: cache.forget([str(n) for n in range(FORGET_LOG_SIZE + 1)]),
    ],
    ids=["forget everything", "too many to remember"],
)
def test_a_row_read_across_a_sweeping_change_is_not_stored(
    meanwhile: Callable[[NumberCache], None],
) -> None:
    cache = active()
    ticket = cache.ticket()
    meanwhile(cache)
    cache.put(ticket, "491", entry(None, b"{}"))
    assert cache.get("491") is None


def test_forget_and_clear_drop_entries() -> None:
    cache = active()
    for number in ("491", "492", "493"):
        cache.put(cache.ticket(), number, entry(None, b"{}"))
    cache.forget(["492"])
    assert [cache.get(n) is not None for n in ("491", "492", "493")] == [True, False, True]
    cache.clear("forget_all")
    assert len(cache) == 0


def emptied(reason: str) -> float:
    """How often a number cache holding rows was emptied for ``reason`` (the metric)."""
    labels = {"cache": "numbers", "reason": reason}
    return REGISTRY.get_sample_value("seven_numbers_cache_emptied_total", labels) or 0.0


def test_each_emptying_of_held_rows_is_counted_by_its_reason() -> None:
    before = {reason: emptied(reason) for reason in ("forget_all", "listener_lost", "aged_out")}
    cache = active(max_age=0.05)
    cache.clear("forget_all")  # nothing held: nothing lost, nothing counted
    cache.put(cache.ticket(), "491", entry())
    cache.clear("forget_all")
    cache.put(cache.ticket(), "491", entry())
    cache.deactivate("listener_lost")
    cache.deactivate("listener_lost")  # off already: nothing held
    cache.activate()
    cache.put(cache.ticket(), "491", entry())
    cache.deactivate(None)  # the process is stopping: nothing to count
    cache.activate()
    loaded(cache, ["491", "492"])
    time.sleep(0.06)
    assert cache.get("491") is None  # the columns aged out
    after = {reason: emptied(reason) - before[reason] for reason in before}
    assert after == {"forget_all": 1, "listener_lost": 1, "aged_out": 1}


def test_inactive_cache_serves_and_keeps_nothing() -> None:
    cache = NumberCache(10, 60.0)
    cache.put(cache.ticket(), "491", entry(None, b"{}"))
    assert len(cache) == 0
    cache.activate()
    cache.put(cache.ticket(), "491", entry(None, b"{}"))
    cache.deactivate("listener_lost")
    assert cache.get("491") is None
    assert len(cache) == 0


def test_least_recently_used_entry_goes_first() -> None:
    cache = active(max_entries=2)
    cache.put(cache.ticket(), "491", entry(None, b"{}"))
    cache.put(cache.ticket(), "492", entry(None, b"{}"))
    assert cache.get("491") is not None  # 491 is now the more recent
    cache.put(cache.ticket(), "493", entry(None, b"{}"))
    assert len(cache) == 2
    assert cache.get("492") is None
    assert cache.get("491") is not None


def test_entries_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = active(max_age=5.0)
    cache.put(cache.ticket(), "491", entry(None, b"{}"))
    later = time.monotonic() + 6.0
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert cache.get("491") is None
    assert len(cache) == 0


def test_size_zero_keeps_nothing() -> None:
    cache = active(max_entries=0)
    cache.put(cache.ticket(), "491", entry(None, b"{}"))
    assert len(cache) == 0


# The orders and the completeness list pages from memory rely on (app.numbers.memory_pages).


def everything(cache: NumberCache) -> list[str] | None:
    found = cache.first(100, None, None, lambda number, entry: True, 1000)
    return None if found is None else found[0]


def loaded(cache: NumberCache, numbers: list[str]) -> None:
    """A whole-mirror load (a build of the columns) that found ``numbers``, in order."""
    start = cache.load_started()
    cache.build_started(start)
    for number in numbers:
        cache.load_row(start, number_row(number), b"{}")
    cache.load_finished(start, whole=True)


def test_numbers_are_kept_in_order_all_and_by_value() -> None:
    cache = active()
    for number, country in [("493", "AT"), ("491", "DE"), ("492", "AT")]:
        cache.put(cache.ticket(), number, entry(country=country))
    assert everything(cache) == ["491", "492", "493"]
    cache.put(cache.ticket(), "492", entry(country="DE"))  # moved to another value
    cache.forget(["491"])
    take_all = lambda number, entry: True  # noqa: E731
    assert cache.first(10, ("country", "DE"), None, take_all, 10) == (["492"], [b"{}"])
    assert cache.first(10, ("country", "AT"), None, take_all, 10) == (["493"], [b"{}"])
    assert cache.first(10, None, "492", take_all, 10) == (["493"], [b"{}"])
    assert cache.first(1, None, None, lambda number, entry: number > "492", 1) is None  # gave up


def test_only_a_whole_load_makes_the_cache_complete() -> None:
    cache = active()
    assert not cache.complete  # never loaded
    start = cache.load_started()
    cache.put(start.ticket, "491", entry())
    cache.load_finished(start, whole=False)  # the mirror is larger than the cache
    assert not cache.complete
    loaded(cache, ["491"])
    assert cache.complete
    cache.clear("forget_all")
    assert not cache.complete


def test_a_number_named_by_a_notice_is_a_hole_until_read_again() -> None:
    cache = active()
    loaded(cache, ["491", "492"])
    cache.forget(["491", "492"])
    assert not cache.complete
    ticket = cache.ticket()
    cache.put(ticket, "491", entry(body=b"new"))  # read again: changed ...
    cache.absent(ticket, ["492"])  # ... and deleted
    assert cache.complete
    assert everything(cache) == ["491"]


def test_a_number_named_again_while_read_again_stays_a_hole() -> None:
    cache = active()
    loaded(cache, ["491"])
    cache.forget(["491", "492"])
    ticket = cache.ticket()
    cache.forget(["491", "492"])  # changed again while the read ran
    cache.put(ticket, "491", entry())
    cache.absent(ticket, ["492"])
    assert cache.holes == {"491", "492"}
    assert not cache.complete


def test_a_load_keeps_the_holes_named_while_it_ran() -> None:
    cache = active()
    cache.forget(["490"])  # named before the load began: the load reads it afresh
    start = cache.load_started()
    cache.put(start.ticket, "491", entry())
    cache.forget(["492"])  # named while it ran: it may have read it before the change
    cache.load_finished(start, whole=True)
    assert cache.holes == {"492"}
    assert not cache.complete


@pytest.mark.parametrize(
    "lose",
    [
        lambda cache: cache.put(cache.ticket(), "493", entry()),  # evicts the oldest
        lambda cache: cache.clear("forget_all"),
    ],
    ids=["eviction", "forget everything"],
)
def test_a_loss_during_a_load_leaves_the_cache_incomplete(
    lose: Callable[[NumberCache], None],
) -> None:
    cache = active(max_entries=2)
    start = cache.load_started()
    cache.put(start.ticket, "491", entry())
    cache.put(start.ticket, "492", entry())
    lose(cache)
    cache.load_finished(start, whole=True)
    assert not cache.complete


def test_an_eviction_or_an_aged_out_entry_makes_the_cache_incomplete(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = active(max_entries=2, max_age=5.0)
    loaded(cache, ["491", "492"])
    assert cache.complete
    for number in ("491", "492", "493"):  # read since (changed): the front holds two
        cache.put(cache.ticket(), number, entry())
    assert not cache.complete  # 491's newer row was evicted
    assert cache.get("491") is None  # and its row in the columns is not served again
    loaded(cache, ["492", "493"])
    assert cache.complete
    later = time.monotonic() + 6.0
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert not cache.complete  # older than max_age
    assert cache.get("492") is None


def test_a_number_the_database_may_order_otherwise_leaves_lists_to_it() -> None:
    cache = active()
    loaded(cache, ["491", "49a"])
    assert not cache.complete
    cache.forget(["49a"])
    cache.absent(cache.ticket(), ["49a"])
    assert cache.complete


def test_held_numbers_add_nothing_for_the_garbage_collector_to_walk() -> None:
    """A full collection walks every tracked object: with a million numbers held, it
    paused the process for seconds if each entry were one of them."""
    cache = active(max_entries=5_000)
    tenant, pool = uuid.uuid4(), uuid.uuid4()
    gc.collect()
    tracked = len(gc.get_objects())
    for n in range(2_000):
        row = number_row(
            str(4915100000000 + n),
            tenant_id=uuid.UUID(int=tenant.int),  # each row read brings its own copy
            pool_id=uuid.UUID(int=pool.int),
            friendly_name="Support",
            feature_sms=True,
            feature_voice=True,
            version=n,
        )
        cache.put_row(cache.ticket(), row, b"{}")
    gc.collect()  # lets the collector untrack what holds only untracked objects
    assert len(cache) == 2_000
    assert len(gc.get_objects()) - tracked < 100
