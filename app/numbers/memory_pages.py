"""A list page answered from the process's number cache, without a database round trip.

Only when the cache holds every row of the mirror (:attr:`NumberCache.complete`): then
the page is the numbers after the cursor, in number order, that pass the same filters
and tenancy scope as the database's query (app.numbers.service), tested on what each
entry keeps beside its body. A change reaches the page once its notice has been applied,
exactly as for the single read. Anything memory cannot decide as PostgreSQL would (a
cursor or a ``q`` outside plain ASCII, a friendly name PostgreSQL's locale would lower
its own way, a page whose numbers are too sparse to be worth walking to) is None: the
database answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from app.lib.auth import Principal
from app.numbers.cache import CachedNumber, NumberCache
from app.numbers.query import NumberQuery, q_digits

# Entries tested before a page gives up and asks the database, whose indexes (trigram,
# tags) find sparse matches faster than a walk through memory.
MAX_WALK = 5_000

# A test of one entry: does it belong on the page (None: memory cannot tell).
Test = Callable[[str, CachedNumber], bool | None]


def page_numbers(
    cache: NumberCache, principal: Principal, query: NumberQuery
) -> tuple[list[str], list[bytes]] | None:
    """The page's numbers (one more than its ``limit`` when another page follows) and
    its bodies, from ``cache``; None when the database must answer."""
    if not cache.complete or (query.q is not None and not query.q.isascii()):
        return None
    after: str | None = None
    if query.page.after is not None:
        after = query.page.after[0]
        # Digits order alike in every collation; anything else, as PostgreSQL's does.
        if not (after.isascii() and after.isdigit()):
            return None
    holder = _holder(principal, query)
    if holder is False:
        return [], []
    tests = _tests(query)
    wanted = query.page.limit + 1
    numbers: list[str] = []
    bodies: list[bytes] = []
    walk = cache.walk(_smallest_index(cache, holder, query), after)
    for walked, (number, entry) in enumerate(walk, 1):
        if walked > MAX_WALK:
            return None
        if holder is not None and entry.tenant_id != holder:
            continue
        passed = True
        for test in tests:
            verdict = test(number, entry)
            if verdict is None:
                return None
            if not verdict:
                passed = False
                break
        if passed:
            numbers.append(number)
            bodies.append(entry.body)
            if len(numbers) == wanted:
                break
    return numbers, bodies[: query.page.limit]


def _holder(principal: Principal, query: NumberQuery) -> uuid.UUID | bool | None:
    """The holder every number of the page must have (app.lib.tenancy's rule and the
    ``tenant`` filter together): None for any, False when none can pass."""
    if principal.is_admin:
        return query.tenant
    # A tenant key without a tenant cannot happen; it sees nothing (app.lib.tenancy).
    if principal.tenant_id is None or query.tenant not in (None, principal.tenant_id):
        return False
    return principal.tenant_id


def _smallest_index(
    cache: NumberCache, holder: uuid.UUID | None, query: NumberQuery
) -> tuple[str, Any] | None:
    """The fewest numbers to walk: the smallest of the filters' values' orders (an
    absent one is empty, and so is the page), or every number when none applies."""
    given = [
        (field, value)
        for field, value in (
            ("tenant_id", holder),
            ("pool_id", query.pool),
            ("country", query.country),
            ("state", query.state),
        )
        if value is not None
    ]
    return min(given, key=cache.index_size, default=None)


def _tests(query: NumberQuery) -> list[Test]:
    """The filters the walked order does not imply (the index's own is tested again: a
    cheap comparison, and one rule for all)."""
    tests: list[Test] = []
    if query.pool is not None:
        tests.append(lambda _, entry, pool=query.pool: entry.pool_id == pool)
    if query.country is not None:
        tests.append(lambda _, entry, country=query.country: entry.country == country)
    if query.state is not None:
        tests.append(lambda _, entry, state=query.state: entry.state == state)
    for feature, flag in query.features.items():
        tests.append(lambda _, entry, f=feature, flag=flag: (f in entry.features) is flag)
    for tag in query.tags:
        if tag.value is None:
            tests.append(lambda _, entry, key=tag.key: entry.tags is not None and key in entry.tags)
        else:
            tests.append(
                lambda _, entry, key=tag.key, value=tag.value: (
                    entry.tags is not None and entry.tags.get(key) == value
                )
            )
    if query.q is not None:
        tests.append(_q_test(query.q))
    return tests


def _q_test(q: str) -> Test:
    """service._matches in memory: ``q`` (ASCII) in the lowered friendly name, or its
    digits in the number; undecided for a name PostgreSQL would lower by its locale."""
    lowered, digits = q.lower(), q_digits(q)

    def test(number: str, entry: CachedNumber) -> bool | None:
        if digits is not None and digits in number:
            return True
        return None if entry.name is None else lowered in entry.name

    return test
