"""Browser sessions, their CSRF tokens, and the slow-down of password guessing: the
decisions, with the time handed in.

A session is server-side: the browser holds a random id in an HttpOnly cookie, the store
the id's digest, whose user, and until when it holds (`SessionPolicy.lifetime` from the
login: a duty shift, after which one signs in again). With it the browser holds a CSRF
token in a cookie its script can read; a request that changes state must repeat it in the
`X-CSRF-Token` header (`csrf_ok`). Another site's page can make the browser send the
cookies, but cannot read them, so it cannot write the header.

Guessing is slowed per user name and per client address (`Strikes`): after
`max_failures` failed logins within `window`, that name, or that address, is refused for
`lockout` without the password being checked, even a right one. Per name stops a slow
guess at one account from many addresses; per address one address trying many names.
The price is that someone may lock an officer out for `lockout` by failing on purpose:
the officer's personal token and running session still work.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

#: The cookies and header of the contract with the console (docs/dispatch.md, "Sign-in").
SESSION_COOKIE: Final = "lantian_session"
CSRF_COOKIE: Final = "lantian_csrf"
CSRF_HEADER: Final = "x-csrf-token"
#: The methods that change state, and so need the CSRF header with a cookie.
UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    lifetime: timedelta = timedelta(hours=12)
    max_failures: int = 5
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=5)
    #: cookies marked Secure whatever the request came over (behind a TLS proxy)
    secure_cookies: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: whose, its CSRF token, and until when it holds."""

    username: str
    csrf: str
    expires_at: datetime

    def live(self, now: datetime) -> bool:
        return now < self.expires_at


def csrf_ok(session: Session, cookie: str | None, header: str | None) -> bool:
    """Whether a state-changing request repeats its session's CSRF token: the header must
    equal the cookie and the session's own token (a cookie set by a sibling subdomain
    cannot pass for it)."""
    if not cookie or not header:
        return False
    given = header.encode()
    return hmac.compare_digest(given, cookie.encode()) and hmac.compare_digest(
        given, session.csrf.encode())


@dataclass(frozen=True, slots=True)
class Strikes:
    """Failed logins of one user name or one client address: how many since when, and
    until when it is locked out."""

    failures: int = 0
    since: datetime | None = None
    locked_until: datetime | None = None


def locked_for(strikes: Strikes, now: datetime) -> timedelta | None:
    """How long a lock-out still holds, or None."""
    if strikes.locked_until is None or strikes.locked_until <= now:
        return None
    return strikes.locked_until - now


def after_failure(strikes: Strikes, now: datetime, policy: SessionPolicy) -> Strikes:
    """The strikes after one more failure at `now`: counted in a window starting at the
    first failure; the `max_failures`-th within it locks out for `lockout` and starts
    the count afresh."""
    if strikes.since is None or now - strikes.since >= policy.window:
        strikes = Strikes(0, now, strikes.locked_until)
    failures = strikes.failures + 1
    if failures >= policy.max_failures:
        return Strikes(0, None, now + policy.lockout)
    return Strikes(failures, strikes.since, strikes.locked_until)


def retry_after_s(wait: timedelta) -> int:
    """The `Retry-After` seconds of a wait: rounded up, at least 1."""
    return max(1, -int(-wait.total_seconds() // 1))
