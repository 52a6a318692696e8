"""NumberCache on its own: bounded, aged, off unless listening, and never storing a row
read across a change notice."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest

from app.numbers.cache import FORGET_LOG_SIZE, CachedNumber, NumberCache


def entry(tenant: uuid.UUID | None = None, body: bytes = b"{}") -> CachedNumber:
    return CachedNumber(tenant, body, 1, "DE", "active", None, "", frozenset(), None)


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
        lambda cache: cache.clear(),
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
    cache.clear()
    assert len(cache) == 0


def test_inactive_cache_serves_and_keeps_nothing() -> None:
    cache = NumberCache(10, 60.0)
    cache.put(cache.ticket(), "491", entry(None, b"{}"))
    assert len(cache) == 0
    cache.activate()
    cache.put(cache.ticket(), "491", entry(None, b"{}"))
    cache.deactivate()
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
