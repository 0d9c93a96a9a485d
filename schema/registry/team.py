"""Account.team: our people around an account besides its account manager.

The team of an account is its account manager (`Account.accountManager`) plus these
members; the accounts resolved together load their members with one query.
"""

from __future__ import annotations

from enum import Enum

import strawberry

from survey import registry, scale

from ..context import Info
from ..loaders import Batch

TeamRole = strawberry.enum(
    Enum("TeamRole", [(r.name, r.value) for r in scale.TeamRole]),  # type: ignore[misc]
    description="A role in our team around an account (the account manager owns it).",
)


@strawberry.type(description="Someone on our side around an account, besides its manager.")
class TeamMember:
    name: str
    role: TeamRole  # type: ignore[valid-type]
    role_label: str = strawberry.field(description="The role in the request's language.")
    email: str | None


def resolve_team(info: Info, batch: Batch, account_id: int) -> list[TeamMember]:
    teams = batch.get("team", registry.teams_of_accounts)
    locale = info.context.locale
    return [
        TeamMember(
            name=m.name,
            role=_role(m.role),
            role_label=m.role_label(locale),
            email=m.email,
        )
        for m in teams.get(account_id, [])
    ]


def _role(code: str) -> Enum:
    try:
        return TeamRole(code)  # type: ignore[no-any-return]
    except ValueError:
        return TeamRole.OTHER  # type: ignore[attr-defined,no-any-return]
