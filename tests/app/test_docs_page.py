"""``/`` leads a browser to the docs page, with no key, and stays out of the API's schema."""

from __future__ import annotations

from tests.support.api import Client


async def test_the_root_redirects_to_the_docs_page_without_a_key(client: Client) -> None:
    response = await client.get("/", follow_redirects=False)
    assert response.status_code == 307, response.text
    assert response.headers["location"] == "/schema"
    assert (await client.get(response.headers["location"])).status_code == 200
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/" not in schema["paths"]
