"""Credentials out of messages: a config error is printed, logged and pasted into tickets,
so it must never carry the MQTT password, an InfluxDB token or an API token.

Two layers, because neither alone is enough: the secret values the config actually holds
are replaced wherever they appear (whatever message a check builds around them), and
anything shaped like a credential (the password of a URL, the value after a key named
like password/token/secret) is masked even when its value was not known in advance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import unquote, urlsplit

MASK: Final = "***"

#: Keys whose values are credentials (`password`, `mqtt_passwd`, `token`, `api_key`, ...).
SECRET_KEY: Final = re.compile(r"pass(?:word|wd)?|token|secret|credential|api_?key", re.I)
# scheme://user:password@ -- the password is everything up to the last @ of the authority
_URL_PASSWORD: Final = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s'\"]*):[^/\s'\"]*@", re.I)
# token = "…", 'password': '…', secret=…  (TOML, Python reprs, query strings)
_KEY_VALUE: Final = re.compile(
    rf"""((?:{SECRET_KEY.pattern})\w*['"]?\s*[:=]\s*)(['"]?)[^\s'",}}&]+\2""", re.I
)
#: Values this short are masked only by shape: replacing every "ab" in a message would
#: garble it and tell a reader the secret anyway.
_MIN_LITERAL: Final = 4


def url_password(url: str) -> Iterator[str]:
    """The password of a URL, as written and decoded (none if it has none)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return
    if password:
        yield password
        yield unquote(password)


def secrets_in(tree: Any, key: str = "") -> Iterator[str]:
    """Every credential value in a parsed config: strings under secret-named keys and the
    passwords of URLs anywhere."""
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from secrets_in(v, str(k))
    elif isinstance(tree, list):
        for v in tree:
            yield from secrets_in(v, key)
    elif isinstance(tree, str):
        if SECRET_KEY.search(key):
            yield tree
        if "://" in tree:
            yield from url_password(tree)
    elif tree is not None and not isinstance(tree, bool) and SECRET_KEY.search(key):
        yield str(tree)  # a token written as a number is still the token


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in sorted({s for s in secrets if len(s) >= _MIN_LITERAL}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(rf"\1:{MASK}@", text)
    return _KEY_VALUE.sub(rf"\1\2{MASK}\2", text)
