"""``GET /v1/available-numbers?prefix=&contains=``: a filter of seven's offer on our side,
over the cached search, never sent to seven; malformed patterns are 422s."""

from __future__ import annotations

import pytest

from tests.search.test_available_numbers import search
from tests.support.api import Client
from tests.support.sandbox import SandboxProcess


async def test_prefix_and_contains_narrow_the_cached_offer(
    client: Client, admin_headers: dict[str, str], fresh_sandbox: SandboxProcess
) -> None:
    offered = [item["number"] for item in fresh_sandbox.available(country="DE")]
    asked_before = len(fresh_sandbox.requests("available"))  # the line above asked too
    assert len(offered) > 2
    target = offered[1]
    start, middle = target[:5], target[-6:-2]

    found = await search(client, admin_headers, country="DE", prefix=f"+{start[:2]} {start[2:]}")
    assert [item["number"] for item in found] == [n for n in offered if n.startswith(start)]
    assert target in [item["number"] for item in found]

    found = await search(client, admin_headers, country="DE", contains=middle)
    assert [item["number"] for item in found] == [n for n in offered if middle in n]

    both = await search(client, admin_headers, country="DE", prefix=f"00{start}", contains=middle)
    assert [item["number"] for item in both] == [
        n for n in offered if n.startswith(start) and middle in n
    ]
    assert await search(client, admin_headers, country="DE", prefix="1") == []

    # One search at seven, without the patterns: the rest came from the cache.
    requests = fresh_sandbox.requests("available")[asked_before:]
    assert [request["query"] for request in requests] == ["country=DE"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"prefix": "0151"}, "prefix"),
        ({"prefix": "49x"}, "prefix"),
        ({"prefix": "+"}, "prefix"),
        ({"prefix": "1" * 16}, "prefix"),
        ({"contains": "12a"}, "contains"),
        ({"contains": "+49"}, "contains"),
        ({"contains": "1" * 16}, "contains"),
    ],
)
async def test_a_malformed_pattern_is_a_422_and_never_reaches_seven(
    client: Client,
    admin_headers: dict[str, str],
    fresh_sandbox: SandboxProcess,
    params: dict[str, str],
    parameter: str,
) -> None:
    response = await client.get(
        "/v1/available-numbers", params={"country": "DE", **params}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == f"invalid_{parameter}"
    assert (body["details"]["parameter"], body["details"]["location"]) == (parameter, "query")
    assert fresh_sandbox.requests("available") == []
