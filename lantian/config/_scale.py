"""The `[scale]` table: which partition of the stream this instance is
(`LANTIAN_PARTITION=k/N` over `partition = "k/N"`; `lantian.partition` says what owning
a partition means, docs/scale.md how to run several)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated

from pydantic import Field

from lantian.config._errors import ConfigError
from lantian.config._schema import Section
from lantian.partition import Partition


class ScaleSection(Section):
    #: this instance's partition of N; "0/1": the single instance, owning everything
    partition: Annotated[str, Field(min_length=1, max_length=16)] = "0/1"
    #: partition 0 also subscribes to the wide filters, so that a misspelt topic is
    #: dead-lettered (and receives the whole stream); false: only its stations' topics
    catch_all: bool = True


def build_partition(
    section: ScaleSection, where: str, stations: Collection[str], shared: Collection[str]
) -> Partition:
    """The partition `section` names, over the registered `stations`, with `shared` (the
    reference stations) watched by every instance; ConfigError naming the key."""
    try:
        index, count = Partition.parse(section.partition)
    except ValueError as exc:
        raise ConfigError(where, "scale.partition", str(exc)) from None
    return Partition(index, count, frozenset(stations), frozenset(shared), section.catch_all)
