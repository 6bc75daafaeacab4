"""Reading the fields of a JSON payload, each check one line and each refusal a sentence
a device's integrator understands: `field "pm10" must be a number, got string "187"`.

Inside the JSON decoders a bad field raises `BadField`, carrying its `Rejection`; the
decoder turns it into the result (`ingest._lantian_json`). An optional field sent as
null counts as absent, as JSON producers commonly mean it.
"""

from __future__ import annotations

import orjson

from ingest._result import Rejection

JsonObject = dict[str, object]


class BadField(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.rejection = Rejection(code, reason)




def required(obj: JsonObject, key: str) -> object:
    value = obj.get(key)
    if value is None:
        detail = "is null" if key in obj else "is missing"
        raise BadField("missing_field", f'field "{key}" {detail}')
    return value


def text(obj: JsonObject, key: str) -> str:
    value = required(obj, key)
    if type(value) is not str:
        raise wrong_type(key, "a string", value)
    if not value:
        raise BadField("bad_value", f'field "{key}" must not be empty')
    return value


def opt_text(obj: JsonObject, key: str) -> str | None:
    value = obj.get(key)
    if value is None or type(value) is str:
        return value
    raise wrong_type(key, "a string", value)


def opt_texts(obj: JsonObject, key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if type(value) is not list:
        raise wrong_type(key, "an array of strings", value)
    for i, item in enumerate(value):
        if type(item) is not str:
            raise wrong_type(f"{key}[{i}]", "a string", item)
    return tuple(value)


def number(obj: JsonObject, key: str) -> float:
    return as_number(key, required(obj, key))


def opt_number(obj: JsonObject, key: str) -> float | None:
    value = obj.get(key)
    return None if value is None else as_number(key, value)


def as_number(name: str, value: object) -> float:
    # type() rather than isinstance(): bool is an int subclass and true is not a number.
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    raise wrong_type(name, "a number", value)


def opt_int(obj: JsonObject, key: str) -> int | None:
    value = obj.get(key)
    if value is None or type(value) is int:
        return value
    raise wrong_type(key, "an integer", value)


def as_extra(value: object) -> str:
    return value if type(value) is str else orjson.dumps(value).decode()


def wrong_type(name: str, expected: str, value: object) -> BadField:
    return BadField("wrong_type", f'field "{name}" must be {expected}, got {describe(value)}')


def describe(value: object) -> str:
    """A JSON value as an operator would name it, short enough for a dead-letter line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    if isinstance(value, str):
        return f"string {quoted(value)}"
    if isinstance(value, int | float):
        return f"number {value!r}"
    if isinstance(value, list):
        return f"array of length {len(value)}"
    return "object"


def quoted(text: str) -> str:
    """`text` as a JSON string, cut at 40 characters: a device's junk stays one short line."""
    shown = text if len(text) <= 40 else text[:40] + "…"
    return orjson.dumps(shown).decode()
