"""Who may do what, as a full matrix: owner, editor, viewer, stranger and anonymous, on public,
unlisted and private portfolios, for reading, changing items, changing the portfolio, deleting
and sharing. A private portfolio is 404 to whoever may not see it; 403 where one may see it."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx
import pytest

from portfolio import permissions
from portfolio.container import Container
from portfolio.errors import NotAllowed, PortfolioNotFound
from portfolio.testing import create, verified_owner
from servicekit.testing import TokenIssuer

ROLES = ("owner", "editor", "viewer", "stranger", "anonymous")
VISIBILITIES = ("public", "unlisted", "private")
SUCCESS = {
    "read": 200,
    "update_items": 201,
    "update_portfolio": 200,
    "delete": 204,
    "manage_collaborators": 200,
}
# Written out on purpose (not computed from the module under test).
MAY = {
    "read": {"owner", "editor", "viewer", "stranger", "anonymous"},
    "update_items": {"owner", "editor"},
    "update_portfolio": {"owner", "editor"},
    "delete": {"owner"},
    "manage_collaborators": {"owner"},
}


def expected(role: str, visibility: str, action: str) -> int:
    if role == "anonymous" and action != "read":
        return 401  # writes need a token before anything else is decided
    if role not in ("owner", "editor", "viewer") and visibility == "private":
        return 404
    return SUCCESS[action] if role in MAY[action] else 403


@pytest.mark.parametrize(
    ("role", "visibility", "action"),
    list(itertools.product(ROLES, VISIBILITIES, permissions.ACTIONS)),
)
def test_the_decision_matches_the_table(role: str, visibility: str, action: str) -> None:
    may_see = role in ("owner", "editor", "viewer") or visibility != "private"
    allowed = MAY["delete" if action == "restore" else action]
    want = 200 if may_see and role in allowed else (403 if may_see else 404)
    try:
        permissions.check(role, visibility, action)  # type: ignore[arg-type]
        got = 200
    except (NotAllowed, PortfolioNotFound) as exc:
        got = exc.problem().status
    assert got == want


async def _act(
    client: httpx.AsyncClient, action: str, portfolio: dict[str, Any], headers: dict[str, str]
) -> int:
    url = f"/portfolios/{portfolio['id']}"
    etag = {"If-Match": f'"v{portfolio["version"]}"'}
    if action == "read":
        response = await client.get(url, headers=headers)
    elif action == "update_items":
        response = await client.post(
            f"{url}/items", json={"items": [{"title": "x"}]}, headers=headers
        )
    elif action == "update_portfolio":
        response = await client.patch(url, json={"title": "y"}, headers={**headers, **etag})
    elif action == "delete":
        response = await client.delete(url, headers={**headers, **etag})
    else:
        someone = portfolio["someone"]
        response = await client.put(
            f"{url}/collaborators/{someone}", json={"role": "viewer"}, headers=headers
        )
    return response.status_code


@pytest.mark.parametrize("visibility", VISIBILITIES)
async def test_the_api_answers_the_matrix(
    visibility: str, client: httpx.AsyncClient, container: Container, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container, name="Owner")
    people = {
        "owner": owner,
        "editor": await verified_owner(container, name="Editor"),
        "viewer": await verified_owner(container, name="Viewer"),
        "stranger": await verified_owner(container, name="Stranger"),
    }
    someone = await verified_owner(container, name="Someone")
    mismatches = []
    for n, (role, action) in enumerate(itertools.product(ROLES, SUCCESS)):
        portfolio = await create(
            client, issuer.bearer(owner), visibility=visibility, slug=f"cell-{n}"
        )
        for member in ("editor", "viewer"):
            shared = await client.put(
                f"/portfolios/{portfolio['id']}/collaborators/{people[member]}",
                json={"role": member},
                headers=issuer.bearer(owner),
            )
            assert shared.status_code == 200, shared.text
        current = await client.get(f"/portfolios/{portfolio['id']}", headers=issuer.bearer(owner))
        portfolio = {**current.json(), "someone": someone}
        headers = issuer.bearer(people[role]) if role != "anonymous" else {}
        got = await _act(client, action, portfolio, headers)
        if got != expected(role, visibility, action):
            mismatches.append((role, action, got, expected(role, visibility, action)))
    assert mismatches == []


async def test_members_see_the_collaborators_and_others_do_not(
    client: httpx.AsyncClient, container: Container, issuer: TokenIssuer
) -> None:
    owner = await verified_owner(container)
    viewer = await verified_owner(container, name="Viewer")
    portfolio = await create(client, issuer.bearer(owner), visibility="public")
    url = f"/portfolios/{portfolio['id']}"
    await client.put(
        f"{url}/collaborators/{viewer}", json={"role": "viewer"}, headers=issuer.bearer(owner)
    )
    as_viewer = (await client.get(url, headers=issuer.bearer(viewer))).json()
    assert as_viewer["collaborators"] == [{"user_id": str(viewer), "role": "viewer"}]
    assert (await client.get(url)).json()["collaborators"] is None
    unknown = await client.put(
        f"{url}/collaborators/{uuid.uuid4()}", json={"role": "editor"}, headers=issuer.bearer(owner)
    )
    assert unknown.status_code == 422
    itself = await client.put(
        f"{url}/collaborators/{owner}", json={"role": "editor"}, headers=issuer.bearer(owner)
    )
    assert itself.status_code == 422
    removed = await client.delete(f"{url}/collaborators/{viewer}", headers=issuer.bearer(owner))
    assert removed.status_code == 204
    again = await client.delete(f"{url}/collaborators/{viewer}", headers=issuer.bearer(owner))
    assert again.status_code == 404
