"""Which drone a verify step may send: the rule the route applies (`unknown_drone`)."""

from __future__ import annotations

from dispatch._api_alerts import unknown_drone


def test_a_known_drone_passes() -> None:
    assert unknown_drone("KY-UAV-01", {"KY-UAV-01", "KY-UAV-02"}) is None


def test_an_unknown_drone_is_refused_naming_the_known_ones_in_order() -> None:
    refused = unknown_drone("KY-UAV-9", {"KY-UAV-02", "KY-UAV-01"})
    assert refused == "unknown drone 'KY-UAV-9'; the known drones are: KY-UAV-01, KY-UAV-02"


def test_with_no_drone_known_it_says_so() -> None:
    assert unknown_drone("x", set()) == "unknown drone 'x'; the known drones are: none"


def test_the_list_named_is_bounded() -> None:
    refused = unknown_drone("x", {f"D{i:04}" for i in range(10_000)})
    assert refused is not None and refused.count(",") == 49
