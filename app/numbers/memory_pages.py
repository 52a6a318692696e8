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
from collections.abc import Mapping
from typing import Any, Literal

from app.lib.auth import Principal
from app.lib.tags import TagFilter
from app.numbers.cache import Accept, CachedNumber, NumberCache
from app.numbers.q_index import SEPARATOR
from app.numbers.query import NumberQuery, q_digits

# Entries tested before a page gives up and asks the database, whose indexes (trigram,
# tags) find sparse matches faster than a walk through memory. A ``q`` page tests only
# the numbers whose name or digits hold it (app.numbers.q_index), whatever its filters.
MAX_WALK = 5_000


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
    accept = _acceptor(holder, query)
    given = _indexed_filters(holder, query)
    unindexed = bool(query.features or query.tags)
    if query.q is not None:
        if SEPARATOR in query.q:  # PostgreSQL's text cannot hold it: its error, not ours
            return None
        q = (query.q.lower(), q_digits(query.q))
        # With q the page's only condition, a number the index finds holds it untested.
        q_alone = not given and not unindexed
        found = cache.search(query.page.limit + 1, after, q, accept, MAX_WALK, q_alone=q_alone)
    else:
        index = min(given, key=cache.index_size, default=None)
        # A page whose one condition is the order it walks takes each number of it, and
        # a number of the cache's columns is then never looked at but for its body.
        only_the_order = len(given) <= 1 and not unindexed
        test = None if only_the_order else accept
        found = cache.first(query.page.limit + 1, index, after, test, MAX_WALK)
    if found is None:
        return None
    numbers, bodies = found
    return numbers, bodies[: query.page.limit]


def _holder(principal: Principal, query: NumberQuery) -> uuid.UUID | Literal[False] | None:
    """The holder every number of the page must have (app.lib.tenancy's rule and the
    ``tenant`` filter together): None for any, False when none can pass."""
    if principal.is_admin:
        return query.tenant
    # A tenant key without a tenant cannot happen; it sees nothing (app.lib.tenancy).
    if principal.tenant_id is None or query.tenant not in (None, principal.tenant_id):
        return False
    return principal.tenant_id


def _indexed_filters(holder: uuid.UUID | None, query: NumberQuery) -> list[tuple[str, Any]]:
    """The query's filters the cache keeps an order for (the holder's among them): the
    page walks the smallest (an absent value's is empty, and so is the page), or every
    number when none applies."""
    return [
        (field, value)
        for field, value in (
            ("tenant_id", holder),
            ("pool_id", query.pool),
            ("country", query.country),
            ("state", query.state),
        )
        if value is not None
    ]


def _acceptor(holder: uuid.UUID | None, query: NumberQuery) -> Accept:
    """The query's filters and the holder as one test of an entry (the walked index's
    own filter is tested again: a cheap comparison, and one rule for all).

    One function with the conditions written out, not one per condition: a ``q`` page
    tests hundreds of entries, and a call per condition was most of its time.
    """
    pool, country, state = query.pool, query.country, query.state
    features = tuple(query.features.items())
    tags = query.tags
    lowered = None if query.q is None else query.q.lower()
    digits = None if query.q is None else q_digits(query.q)

    def accept(number: str, entry: CachedNumber) -> bool | None:
        if holder is not None and entry.tenant_id != holder:
            return False
        if pool is not None and entry.pool_id != pool:
            return False
        if country is not None and entry.country != country:
            return False
        if state is not None and entry.state != state:
            return False
        if features and any((f in entry.features) is not flag for f, flag in features):
            return False
        if tags and not _has_tags(entry.tags, tags):
            return False
        if lowered is None:
            return True
        # service._matches: q in the friendly name (ILIKE), or its digits in the number;
        # undecided for a name PostgreSQL would lower by its locale.
        if digits is not None and digits in number:
            return True
        return None if entry.name is None else lowered in entry.name

    return accept


def _has_tags(held: Mapping[str, Any] | None, tags: tuple[TagFilter, ...]) -> bool:
    """service.tag_conditions in memory: each key held, with the value when one is given
    (JSONB containment of one string value is equality)."""
    if held is None:
        return False
    return all(
        tag.key in held if tag.value is None else held.get(tag.key) == tag.value for tag in tags
    )
