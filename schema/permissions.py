"""Who may resolve what: viewer < manager < admin.

Every request is already authenticated by the view (no token, no execution); these
classes only compare the caller's role with what a field needs. A refused field
errors with extensions.code FORBIDDEN and its resolver never runs, so a refused
mutation changes nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from survey.models import ROLE_ADMIN, ROLE_MANAGER
from survey.registry import role_at_least

from .context import Info

FORBIDDEN = "FORBIDDEN"


class _RoleAtLeast(BasePermission):
    minimum: ClassVar[str]
    error_extensions: ClassVar[dict[str, Any]] = {"code": FORBIDDEN}  # type: ignore[misc]

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return role_at_least(info.context.role, self.minimum)


class IsManager(_RoleAtLeast):
    """Runs the mutations and sees contact details."""

    minimum = ROLE_MANAGER
    message = "This needs the manager or admin role."


class IsAdmin(_RoleAtLeast):
    """Sees staff members and their tokens' metadata."""

    minimum = ROLE_ADMIN
    message = "This needs the admin role."
