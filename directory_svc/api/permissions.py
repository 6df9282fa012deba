"""Who may call what, decided here only. Deny by default: every field names its roles."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from directory_svc.api.context import Context
from directory_svc.domain.access import Role


class _RoleIn(BasePermission):
    """Allows the roles in ``roles``; everything else is denied."""

    roles: frozenset[Role] = frozenset()
    message = "Not allowed."

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        principal = info.context.principal
        return principal is not None and principal.role in self.roles


class IsStaff(_RoleIn):
    """Support agents and admins."""

    roles = frozenset({Role.SUPPORT, Role.ADMIN})


class IsAdmin(_RoleIn):
    """Admins only (publisher registry, access log)."""

    roles = frozenset({Role.ADMIN})


class IsSubscriberOrStaff(_RoleIn):
    """Subscribers (for their own account, checked by the service) and staff."""

    roles = frozenset({Role.CUSTOMER, Role.SUPPORT, Role.ADMIN})


class IsSubscriber(_RoleIn):
    """Subscribers only."""

    roles = frozenset({Role.CUSTOMER})


class IsPublisher(_RoleIn):
    """Publishers (bound to their own publisher id)."""

    roles = frozenset({Role.PUBLISHER})
