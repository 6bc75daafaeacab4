"""Geofence lookup rate: `ZoneIndex.containing` one point at a time and
`ZoneIndex.containing_many` in batches, over synthetic zones, against the STRtree that
perf_baseline.md §2 measured.

    python -m bench.geofence [--zones 10000] [--points 100000] [--batch 10000] [--runs 5]

Zones: star-shaped 20-vertex polygons, one in each cell of a 100 x 100 grid over
120.25-120.75E 29.75-30.25N (~48 x 55 km, as in perf_baseline.md §2), some cells left
empty, plus 3 % large zones (1-5 km radius, 64 vertices, a fifth with a hole, half with
an altitude band) overlapping them and each other; --large-inner 0.5 makes those as
spiky as the small ones. Points: uniform over the area; the correctness sample adds
every 7th vertex of every zone (on a boundary: covered, by definition).

Each case is timed over --points lookups, the cases round-robin --runs times (this box
drifts by ±20 %, and round-robin makes the drift hit every case alike). Before timing,
the answers on a sample are checked against brute force (STRtree `intersects`, ranked).
Memory: Python allocations of the index (tracemalloc), and the process's RSS growth over
the build (GEOS allocates outside Python's allocator: the projected copies of the zones
and their STRtree; RSS also keeps what the build's temporaries freed).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import time
import tracemalloc
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shapely
from rich.table import Table

from bench._common import console, machine_info, print_header, spread, write_results
from rules._zone_index import ZoneIndex
from rules._zones import specificity
from rules.geo import Zone

SINGLE_TARGET = 200_000  # lookups/s, one at a time
BATCH_TARGET = 1_000_000  # points/s, batched
AREA = (120.25, 29.75, 120.75, 30.25)
_SMALL_KINDS = ("construction_site", "community", "land_use", "road", "grid")
_LARGE_KINDS = ("patrol_area", "no_fly", "land_use")


def _star(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float,
          points: int, inner: float = 0.5) -> shapely.Polygon:
    """A star-shaped polygon: radii alternate between ~1 and ~inner, jittered."""
    a = np.linspace(0.0, 2 * np.pi, points, endpoint=False) + rng.uniform(0, 0.2)
    r = np.where(np.arange(points) % 2 == 0, 1.0, inner) * rng.uniform(0.8, 1.0, points)
    return shapely.Polygon(np.column_stack([cx + rx * r * np.cos(a), cy + ry * r * np.sin(a)]))


def synthetic_zones(n_zones: int = 10_000, seed: int = 1, large_inner: float = 0.9) -> list[Zone]:
    """n_zones valid zones: 97 % small stars, one per grid cell, and 3 % large ones
    (64 vertices, alternate radii 1 and `large_inner`: 0.5 makes them 3x as spiky and
    triples their perimeter)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = AREA
    n_large = max(1, n_zones * 3 // 100)
    n_small = n_zones - n_large
    side = max(1, int(np.ceil(np.sqrt(n_small))))
    cw, ch = (x1 - x0) / side, (y1 - y0) / side
    cells = np.sort(rng.choice(side * side, size=n_small, replace=False))
    zones: list[Zone] = []
    for i, c in enumerate(cells.tolist()):
        cx, cy = x0 + (c % side + 0.5) * cw, y0 + (c // side + 0.5) * ch
        geom = _star(rng, cx, cy, cw * 0.45, ch * 0.45, 20)
        zones.append(Zone(f"s{i:05d}", f"small {i}", _SMALL_KINDS[i % len(_SMALL_KINDS)], geom))
    for i in range(n_large):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        ry = rng.uniform(1_000, 5_000) / 111_000
        rx = ry / np.cos(np.radians(cy))
        geom = _star(rng, cx, cy, rx, ry, 64, large_inner)
        if i % 5 == 0:  # a hole: the zone is a ring
            geom = geom.difference(shapely.Point(cx, cy).buffer(ry * 0.3, 8))
        zones.append(Zone(
            f"L{i:04d}", f"large {i}", _LARGE_KINDS[i % len(_LARGE_KINDS)], geom,
            min_alt_m=0.0 if i % 2 else None, max_alt_m=120.0 if i % 2 else None,
        ))  # fmt: skip
    assert all(z.geometry.is_valid for z in zones)
    return zones


def uniform_points(n: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = AREA
    return rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)


def brute_force(zones: Sequence[Zone], x: np.ndarray, y: np.ndarray) -> list[tuple[str, ...]]:
    """The reference: every zone intersecting the point (= covering it), ranked."""
    ranked = sorted(zones, key=specificity)
    tree = shapely.STRtree([z.geometry for z in ranked])
    pt, zi = tree.query(shapely.points(x, y), predicate="intersects")
    found: list[list[int]] = [[] for _ in range(len(x))]
    for p, z in zip(pt.tolist(), zi.tolist(), strict=True):
        found[p].append(z)
    return [tuple(ranked[z].id for z in sorted(f)) for f in found]


def check(index: ZoneIndex, zones: Sequence[Zone], n: int) -> int:
    """Points checked; raises if the index disagrees with brute force on any."""
    x, y = uniform_points(n, seed=3)
    xy = shapely.get_coordinates([z.geometry for z in zones])[::7]
    x, y = np.concatenate([x, xy[:, 0]]), np.concatenate([y, xy[:, 1]])
    want = brute_force(zones, x, y)
    many = index.containing_many(x, y)
    for i, w in enumerate(want):
        one = tuple(z.id for z in index.containing(float(x[i]), float(y[i])))
        batch = tuple(z.id for z in many[i])
        if not (one == batch == w):
            raise RuntimeError(f"point {i} ({x[i]!r}, {y[i]!r}): brute force {w}, "
                               f"containing {one}, containing_many {batch}")
    return len(want)


def _rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _trim() -> None:
    """Give freed heap back to the OS, so that RSS shows what is kept, not what was used."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def build_stats(zones: Sequence[Zone], warm_points: int = 100_000) -> dict[str, float]:
    """Build time; the index's memory: Python allocations (tracemalloc, which sees numpy
    arrays too), the same after `warm_points` lookups filled the memo of answers, and RSS
    growth (which also sees GEOS: the projected zones and their STRtree); peak during
    the build."""
    _trim()
    rss0 = _rss_bytes()
    t0 = time.perf_counter()
    index = ZoneIndex(zones)
    build_s = time.perf_counter() - t0
    _trim()
    rss = _rss_bytes() - rss0
    del index
    _trim()
    x, y = uniform_points(warm_points, seed=4)
    tracemalloc.start()
    index = ZoneIndex(zones)
    traced, peak = tracemalloc.get_traced_memory()
    index.containing_many(x, y)
    warm, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del index
    return {"build_s": build_s, "tracemalloc_mb": traced / 1e6, "warm_tracemalloc_mb": warm / 1e6,
            "build_peak_mb": peak / 1e6, "rss_mb": rss / 1e6}


def run(
    n_zones: int = 10_000, points: int = 100_000, batch: int = 10_000, runs: int = 5,
    sample: int = 20_000, large_inner: float = 0.9,
) -> dict[str, float]:
    """Median rates (and build/memory figures) of the index over n_zones synthetic zones;
    the keys name the figure. Raises RuntimeError if any answer on the sample is wrong."""
    return _measure(n_zones, points, batch, runs, sample, large_inner)[0]


def _measure(
    n_zones: int, points: int, batch: int, runs: int, sample: int, large_inner: float
) -> tuple[dict[str, float], dict[str, list[float]], dict[str, float]]:
    zones = synthetic_zones(n_zones, large_inner=large_inner)
    stats = build_stats(zones)
    index = ZoneIndex(zones)
    checked = check(index, zones, sample)
    at = datetime(2026, 5, 1, 9, tzinfo=UTC)
    tree = shapely.STRtree([z.geometry for z in zones])
    # fresh points every run: the memo of answers helps only as far as it would in use
    # (the warm-up fills it, from other points)
    seeds = iter(range(100, 100 + runs + 1))
    x, y = uniform_points(points, seed=next(seeds))
    xs, ys = x.tolist(), y.tolist()
    pts = shapely.points(x, y)

    def single() -> None:
        containing = index.containing
        for lon, lat in zip(xs, ys, strict=True):
            containing(lon, lat)

    def single_alt_time() -> None:
        containing = index.containing
        for lon, lat in zip(xs, ys, strict=True):
            containing(lon, lat, 80.0, at)

    def batched() -> None:
        for i in range(0, points, batch):
            index.containing_many(x[i : i + batch], y[i : i + batch])

    def strtree_single() -> None:
        query = tree.query
        for p in pts[: points // 4]:
            query(p, predicate="intersects")

    def strtree_batched() -> None:
        for i in range(0, points, batch):
            tree.query(pts[i : i + batch], predicate="intersects")

    cases: dict[str, tuple[Callable[[], None], int]] = {
        "containing(lon, lat)": (single, points),
        "containing(lon, lat, alt_m, at)": (single_alt_time, points),
        f"containing_many, batches of {batch:,}": (batched, points),
        "STRtree.query(Point), for comparison": (strtree_single, points // 4),
        f"STRtree.query(Points), batches of {batch:,}": (strtree_batched, points),
    }
    for call, _n in cases.values():
        call()  # warm-up: the memo of answers, caches
    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        x, y = uniform_points(points, seed=next(seeds))
        xs, ys = x.tolist(), y.tolist()
        pts = shapely.points(x, y)
        for name, (call, n) in cases.items():
            t0 = time.perf_counter()
            call()
            rates[name].append(n / (time.perf_counter() - t0))
    med = {name: float(np.median(r)) for name, r in rates.items()}
    summary = {
        "single_per_s": med["containing(lon, lat)"],
        "single_alt_time_per_s": med["containing(lon, lat, alt_m, at)"],
        "batched_per_s": med[f"containing_many, batches of {batch:,}"],
        "strtree_single_per_s": med["STRtree.query(Point), for comparison"],
        "strtree_batched_per_s": med[f"STRtree.query(Points), batches of {batch:,}"],
        "checked_points": float(checked),
        **stats,
    }
    shape = {
        "bases": float(len(index._full)),
        "coarse_cells": float(len(index._coarse)),
        "fine_cells": float(len(index._fine)),
        "fine_cell_bytes": float(index._fine.itemsize),
        "memo": float(len(index._memo)),
        "tested_share": _tested_share(index, x, y),
    }
    return summary, rates, shape


def _tested_share(index: ZoneIndex, x: np.ndarray, y: np.ndarray) -> float:
    """The share of points whose cell leaves at least one zone to a polygon test."""
    base, code = index._cells(x, y)
    m = index._plen[base]
    tested = (code < 0) & (m > 0)
    for j in range(int(m.max(initial=0))):
        tested |= (code >= 0) & (j < m) & ((code // 3**j) % 3 == 2)
    return float(np.mean(tested))


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.geofence", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--zones", type=int, default=10_000)
    p.add_argument("--points", type=int, default=100_000, help="lookups per case per run")
    p.add_argument("--batch", type=int, default=10_000, help="points per containing_many")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--sample", type=int, default=20_000, help="uniform points checked")
    p.add_argument("--large-inner", type=float, default=0.9,
                   help="inner radius of the large zones' stars (0.5: as spiky as the small)")
    p.add_argument("--no-json", action="store_true", help="do not write bench/results/*.json")
    args = p.parse_args(argv)
    info = machine_info()
    info["shapely"] = f"{shapely.__version__} (GEOS {shapely.geos_version_string})"
    print_header("Lantian geofence benchmark (in-process, one thread)", info)
    summary, rates, shape = _measure(args.zones, args.points, args.batch, args.runs,
                                     args.sample, args.large_inner)
    console.print(
        f"{args.zones:,} zones: built in {summary['build_s']:.2f} s; "
        f"index memory {summary['tracemalloc_mb']:.1f} MB (tracemalloc; "
        f"{summary['warm_tracemalloc_mb']:.1f} MB with the answers of 100k lookups "
        f"memoised; build peak {summary['build_peak_mb']:.0f} MB), "
        f"RSS +{summary['rss_mb']:.1f} MB (GEOS included); "
        f"{shape['bases']:,.0f} bases, {shape['coarse_cells']:,.0f} coarse + "
        f"{shape['fine_cells']:,.0f} fine cells ({shape['fine_cell_bytes']:.0f} B each), "
        f"{shape['memo']:,.0f} answers memoised; "
        f"{shape['tested_share']:.0%} of uniform points need a polygon test; "
        f"{summary['checked_points']:,.0f} points agree with brute force."
    )
    table = Table(title=f"Lookup rate, {args.points:,} points × {args.runs} runs: "
                        "median [min..max]", title_justify="left")
    for col in ("case", "points/s", "µs/point", "target"):
        table.add_column(col, justify="left" if col == "case" else "right")
    targets = {"containing(lon, lat)": SINGLE_TARGET,
               f"containing_many, batches of {args.batch:,}": BATCH_TARGET}
    for name, rs in rates.items():
        target = targets.get(name)
        verdict = ""
        if target is not None:
            ok = float(np.median(rs)) >= target
            verdict = f"{'[green]' if ok else '[red]'}≥ {target:,}: {'yes' if ok else 'no'}[/]"
        table.add_row(name, spread(rs), spread([1e6 / r for r in rs], "{:.2f}"), verdict)
    console.print(table)
    if not args.no_json:
        path = write_results("geofence", {"machine": info, "args": vars(args),
                                          "summary": summary, "shape": shape, "rates": rates})
        console.print(f"results: {path}")


if __name__ == "__main__":
    main()
