"""The users, read-only, for the console's admin page: `GET /api/users` (admins only).

Who exists, their role and queues, whether they have a personal token and whether they
are disabled; never a password hash nor a token's digest. Users are managed with
`lantian users` (docs/dispatch.md, "Access"), not over the API.
"""

# No `from __future__ import annotations`: FastAPI resolves the parameters at runtime.

from typing import Annotated, Any, Protocol, runtime_checkable

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict

from dispatch._access import Grants, Role
from dispatch._api_models import answers
from dispatch._guard import Caller
from dispatch._users import User


@runtime_checkable
class UserList(Protocol):
    """Every user, by name, and whether each has a personal token (the store's)."""

    def users(self) -> list[tuple[User, bool]]: ...


class UserRow(BaseModel):
    """One user, as the admin page shows them."""

    model_config = ConfigDict(extra="forbid")
    username: str
    display_name: str
    role: str
    queues: list[str]
    token: bool
    disabled: bool


class UserListing(BaseModel):
    """Every user, by name."""

    model_config = ConfigDict(extra="forbid")
    users: list[UserRow]


async def admin(who: Caller) -> Grants:
    if who.role is not Role.ADMIN:
        raise HTTPException(403, f"{who.name} is not an admin")
    return who


Admin = Annotated[Grants, Depends(admin)]


def user_routes(router: APIRouter, book: UserList) -> None:
    @router.get("/users", response_model=None, responses=answers(UserListing, 403))
    def users(who: Admin) -> dict[str, Any]:
        """Every user: role, queues, whether a personal token is set, whether disabled."""
        return {"users": [
            {"username": u.name, "display_name": u.display_name, "role": u.role.value,
             "queues": sorted(u.queues), "token": token, "disabled": u.disabled}
            for u, token in book.users()]}
