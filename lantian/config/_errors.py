"""The one error config loading raises.

Its own module, importing nothing: `lantian.cli` catches it around every command, and the
client commands must not pay for pydantic, shapely and the rules to be able to.
"""

from __future__ import annotations


class ConfigError(Exception):
    """A config problem: where (file, key) and what."""

    def __init__(self, where: str, key: str, problem: str) -> None:
        self.where, self.key, self.problem = where, key, problem
        super().__init__(f"{where}: {key}: {problem}" if key else f"{where}: {problem}")
