"""`lantian users add|token|list|disable|enable|password`: named users of the console and
the API, kept in the store.

They open the store file the configuration names (`LANTIAN_STORE_URL` or `[store]`), as
the service does, and work on it also while the service runs (SQLite's WAL lets a second
process write briefly; the service reads users afresh at every request, so a user added
or disabled here counts at once).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import orjson

if TYPE_CHECKING:
    from dispatch.users import UserAdmin
    from lantian.config import Settings

#: More than any password the policy allows: a longer line is refused, not cut.
_MAX_LINE: Final = 4096


def add_user_commands(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    load: Callable[[str | None], Settings],
) -> None:
    users = sub.add_parser("users", help="manage the named users (officers, supervisors, "
                           "the bureau, admins)")
    cmds = users.add_subparsers(dest="users_command", required=True)
    add = cmds.add_parser("add", help="add a user; the password is read from stdin")
    add.add_argument("user", help="the user name they sign in with (a-z 0-9 _ . -)")
    add.add_argument("--role", required=True,
                     choices=("officer", "supervisor", "bureau", "admin"))
    add.add_argument("--queue", action="append", default=[],
                     help="a queue an officer works (repeat for several)")
    add.add_argument("--name", default="", help='the name shown, e.g. "李值班"')
    add.set_defaults(func=_run(load, _add))
    token = cmds.add_parser("token", help="print a new personal API token for the user "
                            "(their previous one stops working)")
    token.add_argument("user")
    token.set_defaults(func=_run(load, _token))
    listing = cmds.add_parser("list", help="list the users")
    listing.add_argument("--json", action="store_true", help="as JSON")
    listing.set_defaults(func=_run(load, _list))
    disable = cmds.add_parser("disable", help="disable a user: they can no longer sign in, "
                              "their sessions end and their token stops working")
    disable.add_argument("user")
    disable.set_defaults(func=_run(load, _disable))
    enable = cmds.add_parser("enable", help="enable a disabled user again: they sign in "
                             "with their password (a personal token they need anew)")
    enable.add_argument("user")
    enable.set_defaults(func=_run(load, _enable))
    password = cmds.add_parser("password", help="set a user's password, read from stdin "
                               "(a forgotten one's reset): their sessions end")
    password.add_argument("user")
    password.set_defaults(func=_run(load, _password))


def _run(
    load: Callable[[str | None], Settings],
    command: Callable[[UserAdmin, argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from dispatch.users import UserRefused

        with _admin(load(args.config)) as admin:
            try:
                return command(admin, args)
            except UserRefused as exc:
                print(f"lantian: {exc}", file=sys.stderr)
                return 1
    return run


@contextmanager
def _admin(settings: Settings) -> Iterator[UserAdmin]:
    from dispatch.users import UserAdmin
    from lantian.store import open_configured_store

    store = open_configured_store(settings)
    try:
        yield UserAdmin(store, settings.dispatch.queues)
    finally:
        store.close()


def _add(admin: UserAdmin, args: argparse.Namespace) -> int:
    from dispatch.users import UserRefused

    password = _read_password()
    if password is None:
        raise UserRefused("no password given on stdin")
    user = admin.add(args.user, args.role, args.queue, args.name, password, _now())
    queues = f" of {', '.join(sorted(user.queues))}" if user.queues else ""
    print(f"user {user.name} added: {user.role.value}{queues}")
    return 0


def _token(admin: UserAdmin, args: argparse.Namespace) -> int:
    token = admin.new_token(args.user)
    print(token)
    print(f"lantian: a new token for {args.user}, shown this once; their previous one no "
          "longer works", file=sys.stderr)
    return 0


def _list(admin: UserAdmin, args: argparse.Namespace) -> int:
    found = admin.users()
    if args.json:
        rows = [user.me() | {"token": has_token, "disabled": user.disabled}
                for user, has_token in found]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    table = [("USER", "ROLE", "QUEUES", "NAME", "TOKEN", "STATUS")] + [
        (u.name, u.role.value, ",".join(sorted(u.queues)) or "-", u.display_name or "-",
         "yes" if has_token else "no", "disabled" if u.disabled else "enabled")
        for u, has_token in found
    ]
    widths = [max(_width(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        cells = [c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)]
        print("  ".join(cells).rstrip())
    return 0


def _disable(admin: UserAdmin, args: argparse.Namespace) -> int:
    admin.disable(args.user, _now())
    print(f"user {args.user} disabled: their sessions ended and their token no longer works")
    return 0


def _enable(admin: UserAdmin, args: argparse.Namespace) -> int:
    admin.enable(args.user)
    print(f"user {args.user} enabled: they sign in with their password; a personal token"
          " they need anew (lantian users token)")
    return 0


def _password(admin: UserAdmin, args: argparse.Namespace) -> int:
    from dispatch.users import UserRefused

    password = _read_password()
    if password is None:
        raise UserRefused("no password given on stdin")
    admin.set_password(args.user, password)
    print(f"password of {args.user} set: their sessions ended")
    return 0


def _read_password() -> str | None:
    """The password: asked twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            from dispatch.users import UserRefused

            raise UserRefused("the two passwords differ")
        return first
    line = sys.stdin.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        from dispatch.users import UserRefused

        raise UserRefused("the password line is too long")
    password = line.removesuffix("\n").removesuffix("\r")
    return password or None


def _width(text: str) -> int:
    """Columns a text takes in a terminal: CJK characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _now() -> datetime:
    return datetime.now(UTC)
