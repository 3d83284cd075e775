"""Permissions are code constants; roles grant sets of them. Routes declare what they need."""

from collections.abc import Mapping
from enum import StrEnum

from domain.users.values import Role


class Permission(StrEnum):
    """Something a role may be allowed to do."""

    READ_CONTENT = "content:read"
    WRITE_CONTENT = "content:write"
    MANAGE_OWN_ACCOUNT = "account:manage_own"
    FOLLOW_USERS = "users:follow"
    MODERATE_CONTENT = "content:moderate"
    MANAGE_USERS = "users:manage"
    READ_AUDIT = "audit:read"


_USER = frozenset(
    {
        Permission.READ_CONTENT,
        Permission.WRITE_CONTENT,
        Permission.MANAGE_OWN_ACCOUNT,
        Permission.FOLLOW_USERS,
    }
)

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.USER: _USER,
    Role.MODERATOR: _USER | {Permission.MODERATE_CONTENT},
    Role.ADMIN: frozenset(Permission),
}


def role_allows(role: Role, permission: Permission) -> bool:
    """Whether `role` grants `permission`."""
    return permission in ROLE_PERMISSIONS[role]
