"""Who may do what: every role against every question the API asks, for named users and
configured tokens alike; and what makes a valid user, password and personal token."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher

from dispatch._access import Grants, Role, Token, TokenBook, token_digest
from dispatch._lifecycle import Incident
from dispatch._users import (
    TOKEN_PREFIX,
    Passwords,
    User,
    UserRefused,
    new_personal_token,
    new_user,
    password_problem,
)

T = datetime(2026, 6, 12, 2, 0, tzinfo=UTC)
BLUE = Incident("a1", "blue_sky", T)
LAW = Incident("a2", "law_enforcement", T)
LAW_ASSISTED_BY_BLUE = Incident("a3", "law_enforcement", T, assists=("blue_sky",))
OTHER = Incident("a4", "roads", T)

OFFICER = User("li", Role.OFFICER, frozenset({"blue_sky"}))
TWO_QUEUES = User("chen", Role.OFFICER, frozenset({"blue_sky", "roads"}))
SUPERVISOR = User("zhao", Role.SUPERVISOR)
BUREAU = User("sun", Role.BUREAU)
ADMIN = User("root", Role.ADMIN)

#: caller -> (acts on BLUE, LAW, LAW assisted by blue, OTHER; reads alerts; reads metrics)
TABLE = {
    "officer": (OFFICER, (True, False, True, False, True, False)),
    "officer of two queues": (TWO_QUEUES, (True, False, True, True, True, False)),
    "supervisor": (SUPERVISOR, (True, True, True, True, True, True)),
    "bureau": (BUREAU, (False, False, False, False, False, True)),
    "admin": (ADMIN, (True, True, True, True, True, True)),
}


@pytest.mark.parametrize("who", list(TABLE))
def test_each_role_acts_on_and_reads_what_it_may(who: str) -> None:
    caller, expected = TABLE[who]
    asked = (*(caller.may_act_on(i) for i in (BLUE, LAW, LAW_ASSISTED_BY_BLUE, OTHER)),
             caller.may_read_alerts, caller.may_read_metrics)
    assert asked == expected


#: caller -> (sees a silence of blue_sky, of law_enforcement, a global one;
#:            manages one of blue_sky, of law_enforcement, a global one)
SILENCES = {
    "officer": (OFFICER, (True, False, True, True, False, False)),
    "supervisor": (SUPERVISOR, (True, True, True, True, True, False)),
    "bureau": (BUREAU, (False, False, False, False, False, False)),
    "admin": (ADMIN, (True, True, True, True, True, True)),
}


@pytest.mark.parametrize("who", list(SILENCES))
def test_each_role_sees_and_manages_the_silences_it_may(who: str) -> None:
    caller, expected = SILENCES[who]
    queues = ("blue_sky", "law_enforcement", None)
    assert (*(caller.may_see_silence(q) for q in queues),
            *(caller.may_manage_silence(q) for q in queues)) == expected


@pytest.mark.parametrize("role", list(Role))
def test_a_configured_token_answers_as_a_user_of_its_role_does(role: Role) -> None:
    queue = "blue_sky" if role is Role.OFFICER else None
    token: Grants = Token("machine", "s" * 16, role, queue)
    user: Grants = User("person", role, frozenset(() if queue is None else (queue,)))
    incidents = (BLUE, LAW, LAW_ASSISTED_BY_BLUE, OTHER)
    queues = ("blue_sky", "law_enforcement", None)

    def answers(g: Grants) -> tuple[object, ...]:
        return (*(g.may_act_on(i) for i in incidents), *(g.may_see_silence(q) for q in queues),
                *(g.may_manage_silence(q) for q in queues), g.may_read_alerts,
                g.may_read_metrics, g.sees_every_queue(), g.queues, g.queue)

    assert answers(token) == answers(user)


def test_configured_tokens_are_found_by_the_digest_of_the_presented_one() -> None:
    blue = Token("blue", "blue-secret-0123456789", Role.OFFICER, "blue_sky")
    book = TokenBook([blue, Token("root", "root-secret-0123456789", Role.ADMIN)])
    assert book.find(token_digest("blue-secret-0123456789")) is blue
    assert book.find(token_digest("blue-secret-012345678")) is None
    assert book.find("blue-secret-0123456789") is None  # the secret itself is no key
    assert "blue-secret" not in repr(blue)


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (("Li", "officer", ["blue_sky"]), "user name 'Li'"),
        (("li", "chief", ["blue_sky"]), "role 'chief': one of officer, supervisor, bureau"),
        (("li", "officer", []), "an officer works at least one queue"),
        (("li", "bureau", ["blue_sky"]), "a bureau sees every queue or none"),
        (("li", "officer", ["Blue Sky"]), "queue 'Blue Sky'"),
        (("li", "officer", ["roads"]), "no queue 'roads'; queues: blue_sky, law_enforcement"),
        (("li", "officer", ["blue_sky"], "a\nb"), "display name"),
        (("li", "officer", ["blue_sky"], "x" * 65), "display name"),
    ],
)
def test_a_user_that_cannot_be_is_refused_saying_why(args: tuple[object, ...], why: str) -> None:
    with pytest.raises(UserRefused, match=why.replace("(", r"\(")):
        new_user(*args, known_queues={"blue_sky", "law_enforcement"})  # type: ignore[arg-type]


def test_a_valid_user_is_made() -> None:
    user = new_user("li.wei", "officer", ["blue_sky", "roads"], " 李值班 ")
    assert user == User("li.wei", Role.OFFICER, frozenset({"blue_sky", "roads"}), "李值班")
    assert user.me() == {"username": "li.wei", "display_name": "李值班", "role": "officer",
                         "queues": ["blue_sky", "roads"]}
    assert new_user("root", "admin").me()["display_name"] == "root"


@pytest.mark.parametrize(
    ("password", "problem"),
    [("short-pw1", "at least 10"), ("x" * 257, "at most 256"), ("abababababab", "4 different"),
     ("correct horse", None), ("长城长城长城长城长城长城长城", "4 different"),
     ("长城脚下值班的人们好", None)],
)
def test_the_password_policy(password: str, problem: str | None) -> None:
    found = password_problem(password)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_passwords_are_checked_against_their_argon2id_hash() -> None:
    passwords = Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    stored = passwords.hash("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert passwords.check(stored, "correct horse battery")
    assert not passwords.check(stored, "correct horse batterY")
    assert not passwords.check(None, "correct horse battery")  # no such user
    assert not passwords.check("not a hash", "correct horse battery")


def test_personal_tokens_are_random_and_recognisable() -> None:
    tokens = {new_personal_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(t.startswith(TOKEN_PREFIX) and len(t) >= 40 for t in tokens)
