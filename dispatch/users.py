"""Named users (`dispatch._users`), their store (`dispatch._sqlite_users`), what the
`lantian users` command does with them (`dispatch._user_admin`), and the rules of browser
sessions (`dispatch._sessions`): what the composition root and the CLI build."""

from dispatch._sessions import SessionPolicy
from dispatch._sqlite_users import SqliteUsers
from dispatch._user_admin import UserAdmin
from dispatch._users import UserRefused

__all__ = ["SessionPolicy", "SqliteUsers", "UserAdmin", "UserRefused"]
