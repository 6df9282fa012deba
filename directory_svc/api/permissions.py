"""Who may call what. Deny by default; every field that reads personal data names a permission."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from directory_svc.api.context import Context


class StaffOnly(BasePermission):
    """Reading listings is for staff.

    Until token authentication lands (customer / support / publisher / admin roles), only a
    development service (``DIRECTORY_ENV=dev``) allows it; anywhere else it is denied.
    """

    message = "Not allowed."

    def has_permission(self, source: Any, info: Info[Context, None], **kwargs: Any) -> bool:
        return info.context.resources.settings.is_dev
