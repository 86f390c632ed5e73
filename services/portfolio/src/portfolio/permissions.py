"""Who may do what to a portfolio: one pure decision, tested as a full matrix.

A person who may not see a portfolio gets 404, so its existence is not leaked; one who may see
it but not act gets 403. Anonymous callers are refused writes earlier (401: no token).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Literal

from portfolio.errors import NotAllowed, PortfolioNotFound

Role = Literal["owner", "editor", "viewer", "stranger", "anonymous"]
Action = Literal[
    "read", "update_items", "update_portfolio", "delete", "restore", "manage_collaborators"
]
ACTIONS: tuple[Action, ...] = (
    "read",
    "update_items",
    "update_portfolio",
    "delete",
    "restore",
    "manage_collaborators",
)

_MEMBERS = frozenset({"owner", "editor", "viewer"})
_ALLOWED: Mapping[Action, frozenset[str]] = {
    "read": frozenset({"owner", "editor", "viewer", "stranger", "anonymous"}),
    "update_items": frozenset({"owner", "editor"}),
    "update_portfolio": frozenset({"owner", "editor"}),
    "delete": frozenset({"owner"}),
    "restore": frozenset({"owner"}),
    "manage_collaborators": frozenset({"owner"}),
}


def role_of(
    owner_id: uuid.UUID, collaborators: Mapping[uuid.UUID, str], caller: uuid.UUID | None
) -> Role:
    if caller is None:
        return "anonymous"
    if caller == owner_id:
        return "owner"
    role = collaborators.get(caller)
    if role == "editor":
        return "editor"
    if role == "viewer":
        return "viewer"
    return "stranger"


def may_see(role: Role, visibility: str) -> bool:
    return role in _MEMBERS or visibility in ("public", "unlisted")


def check(role: Role, visibility: str, action: Action) -> None:
    """Return if `role` may do `action`; raise the problem the caller should get otherwise."""
    if not may_see(role, visibility):
        raise PortfolioNotFound()
    if role not in _ALLOWED[action]:
        raise NotAllowed()
