"""The zone index: which zones a point is in (`ZoneIndex`), the spatial lookup under
every geofence rule (those are `rules._nofly`, `rules._zone_events`, ...; this module
only answers "where").

Semantics
    A point is in a zone when the zone's polygon *covers* it: its boundary counts as
    inside, so a point on an edge shared by two zones is in both, and one on a shared
    vertex is in all of them. Every answer is GEOS's own (`intersects_xy`, which for a
    point and a polygon is `covers`), or follows from the cover below without a test.
    With an altitude and/or a time, a zone also needs that altitude in *its* band
    (`Zone.band_contains`) and to be active then (`Zone.active_at`): polygon, band and
    period are judged together, per zone, never the polygon of one zone with the band of
    another (drone_telemetry.md §5.2).

Order
    Answers are sorted by specificity, then zone id (`rules._zones.specificity`):
    construction_site, no_fly, land_use, community, road, patrol_area, (any other
    kind), grid. An alert is attributed to the first zone that is not a grid cell.

Fast path (why not just an STRtree)
    On this machine an STRtree query costs ~6.5 µs a point, one `intersects_xy` ~1.0 µs,
    a list index ~0.05 µs. So the index is a two-level uniform cell cover in lon/lat,
    computed once (`rules._cellcover`, which describes it and how it is made): a coarse
    cell's *base* lists the zones covering all of it (answered without a test) and the
    candidates, the zones whose boundary passes through it; the fine cells of a refined
    coarse cell say, per candidate, whether it covers the whole fine cell or has to be
    tested. Most points near an edge then need no test.

    A lookup is the base's zones plus a bit mask of the candidates that (by cell or by
    test) cover the point; each distinct (base, mask) answer tuple is built once and
    memoised (the answers never change, only how fast they come).

Limits
    Cells are in degrees (the answers are exact; only their speed depends on it). Zones
    crossing the antimeridian are not supported. Read-only after construction and safe
    to share between threads (the memo is a dict, written whole under the GIL).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Final

import numpy as np
import numpy.typing as npt
import shapely
from shapely import STRtree

from rules._cellcover import (
    CODE_DTYPES,
    FloatArray,
    GeomArray,
    IntArray,
    build_cover,
    check_polygons,
)
from rules._geodesy import Projection
from rules._zones import Zone, specificity

__all__ = ["ZoneIndex"]

#: With no zones there is nothing to measure; any CRS does, so take the deployment's.
_DEFAULT_AREA: Final = (120.5, 30.0)

#: The batched path carries the candidates' outcomes as a bit mask in an int64 key.
_MAX_MASKED: Final = 31
#: Distinct answers memoised; beyond this they are built per call (still correct).
_MEMO_LIMIT: Final = 1 << 17

#: The ufunc behind shapely.intersects_xy: called directly, one point costs 1.0 µs
#: instead of 1.8 (the wrapper's argument handling), on the path that has to be fast.
_intersects_xy: Final = getattr(shapely.lib, "intersects_xy", shapely.intersects_xy)


class ZoneIndex:
    """The zones of a deployment, indexed for point lookups. Immutable.

    `projection` (default: the UTM zone of the zones' area-weighted centroid) is the
    metric CRS of `near`; `containing` works in lon/lat and is exact. `cells_per_zone`,
    `refine` (a power of two) and `max_coarse_cells` tune the cell cover: see
    `rules._cellcover`."""

    def __init__(
        self,
        zones: Sequence[Zone],
        projection: Projection | None = None,
        *,
        cells_per_zone: float = 4.0,
        refine: int = 8,
        max_coarse_cells: int = 1 << 20,
    ) -> None:
        if refine < 1 or refine & (refine - 1):
            # a power of two keeps the fine index exact: bits of floor(u * refine)
            raise ValueError(f"refine must be a power of two, got {refine}")
        self._zones: Final = tuple(zones)
        by_id: dict[str, Zone] = {}
        for z in self._zones:
            if z.id in by_id:
                raise ValueError(f"duplicate zone id {z.id!r}")
            by_id[z.id] = z
        self._by_id: Final[Mapping[str, Zone]] = MappingProxyType(by_id)
        ranked = tuple(sorted(self._zones, key=specificity))
        self._ranked: Final = ranked
        self._rank: Final = {z.id: r for r, z in enumerate(ranked)}
        geoms = np.array([z.geometry for z in ranked], dtype=object)
        check_polygons([z.id for z in ranked], geoms)
        self._geoms: Final = geoms
        self.projection: Final = projection or _default_projection(geoms)
        self._tree_m: Final = STRtree(self.projection.project(geoms) if len(geoms) else geoms)
        self._memo: Final[dict[int, tuple[Zone, ...]]] = {}
        self._alone: Final[list[tuple[Zone, ...]]] = [(z,) for z in ranked]

        c = build_cover(geoms, cells_per_zone, refine, max_coarse_cells)
        # unpacked into plain attributes: the lookup reads each once, without a dot more
        self._x0, self._y0, self._upd, self._vpd = c.x0, c.y0, c.u_per_deg, c.v_per_deg
        self._nu, self._nv = float(c.nu), float(c.nv)
        self._ncol, self._shift = c.ncol, c.shift
        self._coarse: Final = c.coarse
        self._block_base: Final = c.block_base
        self._fine: Final = c.fine
        self._half: Final = c.half  # a fine cell's code: covered mask | tested mask << half
        self._in_bits: Final = (1 << c.half) - 1
        self._full: Final = [tuple(ranked[r] for r in full) for full in c.base_full]
        self._full_r: Final = c.base_full
        self._part_g: Final = [tuple(geoms[r] for r in part) for part in c.base_part]
        self._part_r: Final = c.base_part
        plen = np.array([len(p) for p in c.base_part], dtype=np.int64)
        self._plen: Final = plen
        self._pstart: Final = np.cumsum(plen) - plen
        self._pflat: Final = np.array([r for p in c.base_part for r in p], dtype=np.int64)
        fulls: dict[tuple[int, ...], int] = {}
        self._fid: Final = [fulls.setdefault(f, len(fulls)) for f in c.base_full]
        self._fid_np: Final = np.array(self._fid, dtype=np.int64)
        # rank keys must fit an int64 in the batched path
        self._rank_keys: Final = (len(fulls) + 1) * (len(ranked) + 1) ** 2 < 1 << 62

    # -- lookups -------------------------------------------------------------------------------

    @property
    def zones(self) -> tuple[Zone, ...]:
        """The zones, in the order given."""
        return self._zones

    def get(self, zone_id: str) -> Zone:
        """The zone with this id; KeyError if there is none."""
        return self._by_id[zone_id]

    def __len__(self) -> int:
        return len(self._zones)

    def __contains__(self, zone_id: object) -> bool:
        return zone_id in self._by_id

    def containing(
        self, lon: float, lat: float, alt_m: float | None = None, at: datetime | None = None
    ) -> tuple[Zone, ...]:
        """The zones whose polygon covers (lon, lat) (edges and vertices included) and,
        per zone, whose altitude band contains `alt_m` and that are active at `at` (each
        not checked when None); most specific first. NaN, or off every zone: ()."""
        u = (lon - self._x0) * self._upd
        v = (lat - self._y0) * self._vpd
        if not (0.0 <= u < self._nu and 0.0 <= v < self._nv):
            return ()
        iu, iv, s = int(u), int(v), self._shift
        e = self._coarse[(iv >> s) * self._ncol + (iu >> s)]
        if e >= 0:
            parts = self._part_g[e]
            if not parts:
                found = self._full[e]
            else:
                mask, bit = 0, 1
                for g in parts:
                    if _intersects_xy(g, lon, lat):
                        mask |= bit
                    bit <<= 1
                found = self._lookup(e, mask) if mask else self._full[e]
        else:
            m = (1 << s) - 1
            code = self._fine[(~e << (s + s)) + ((iv & m) << s) + (iu & m)]
            e = self._block_base[~e]
            if code == 0:
                found = self._full[e]
            else:
                mask, test = code & self._in_bits, code >> self._half
                if test:
                    parts, j = self._part_g[e], 0
                    while test:
                        if test & 1 and _intersects_xy(parts[j], lon, lat):
                            mask |= 1 << j
                        test >>= 1
                        j += 1
                found = self._lookup(e, mask) if mask else self._full[e]
        if (alt_m is None and at is None) or not found:
            return found
        return tuple(
            z for z in found
            if z.band_contains(alt_m) and (at is None or z.active_at(at))
        )  # fmt: skip

    def containing_many(
        self, lons: npt.ArrayLike, lats: npt.ArrayLike
    ) -> list[tuple[Zone, ...]]:
        """`containing` for many points at once (2-D: no altitude, no time), vectorised;
        the same answers in the same order."""
        x = np.ascontiguousarray(lons, dtype=np.float64)
        y = np.ascontiguousarray(lats, dtype=np.float64)
        if x.shape != y.shape or x.ndim != 1:
            raise ValueError(f"lons and lats must be 1-D of one length, got {x.shape} {y.shape}")
        base, code = self._cells(x, y)
        full = self._full
        out = [full[e] for e in base.tolist()]
        m = self._plen[base]
        leaf = np.flatnonzero((code < 0) & (m > 0) & (m <= _MAX_MASKED))
        fine = np.flatnonzero(code > 0)
        todo = np.concatenate([leaf, fine])
        if len(todo):
            mask = np.concatenate([self._leaf_masks(x, y, base, m, leaf),
                                   self._fine_masks(x, y, base, code, fine)])
            hit = mask != 0  # the others' answer is the base's, already in `out`
            todo, b, mask = todo[hit], base[todo[hit]], mask[hit]
            keys = self._keys(b, mask)
            memo, build = self._memo, self._build
            for i, key, e, msk in zip(todo.tolist(), keys.tolist(), b.tolist(), mask.tolist(),
                                      strict=True):
                found = memo.get(key)
                out[i] = found if found is not None else build(key, e, msk)
        for i in np.flatnonzero((code < 0) & (m > _MAX_MASKED)).tolist():
            out[i] = self.containing(float(x[i]), float(y[i]))
        return out

    def near(
        self,
        lon: float,
        lat: float,
        distance_m: float,
        kinds: Collection[str] | None = None,
        *,
        alt_m: float | None = None,
        at: datetime | None = None,
    ) -> tuple[Zone, ...]:
        """The zones (of `kinds`, when given) whose polygon comes within `distance_m`
        metres of (lon, lat) in the index's projection, and always those `containing` the
        point; most specific first. The band between a zone's edge and `distance_m`
        outside it is where a drone hovering on the edge is still "at" the zone, so it
        does not flicker in and out. `alt_m` and `at` filter per zone as in `containing`."""
        if not (math.isfinite(distance_m) and distance_m >= 0.0):
            raise ValueError(f"distance_m must be a finite number >= 0, got {distance_m!r}")
        x, y = self.projection.to_xy(lon, lat)
        hits = set(
            self._tree_m.query(shapely.points(x, y), predicate="dwithin", distance=distance_m)
            .tolist()
        )
        # projecting rounds: a point exactly on an edge can land a nanometre off it
        hits.update(self._rank[z.id] for z in self.containing(lon, lat))
        ranked = self._ranked
        return tuple(
            z for z in (ranked[r] for r in sorted(hits))
            if (kinds is None or z.kind in kinds)
            and z.band_contains(alt_m) and (at is None or z.active_at(at))
        )  # fmt: skip

    def attribution(
        self, lon: float, lat: float, *, at: datetime | None = None
    ) -> tuple[Zone | None, tuple[Zone, ...], str | None]:
        """(primary zone, all zones, grid id) of a point, as alerts are attributed. The
        primary is the most specific zone that is not a grid cell (the grid cell if that
        is all; None off every zone). The grid id is the `grid` of the most specific zone
        naming one, else the id of a grid cell containing the point."""
        found = self.containing(lon, lat, at=at)
        primary = next((z for z in found if z.kind != "grid"), found[0] if found else None)
        grid = next((z.grid for z in found if z.grid is not None), None)
        if grid is None:
            grid = next((z.id for z in found if z.kind == "grid"), None)
        return primary, found, grid

    # -- internals -----------------------------------------------------------------------------

    # Answers are memoised by what they contain: the base's covering zones (as the id of
    # that set, shared by many cells) and the one or two candidates that cover the point,
    # key (full id * n + r1) * (n + 1) + r2 with r2 = n for none; 28k cells' bases share
    # 1.7k such sets in the benchmark, so the memo fills fast and stays small. Rarer
    # answers, with three or more candidates, are keyed by cell base and mask, negated.

    def _lookup(self, base: int, mask: int) -> tuple[Zone, ...]:
        """The answer in a cell of `base` where the candidates in `mask` (not 0) cover
        the point."""
        rest = mask & (mask - 1)
        if self._rank_keys and not rest & (rest - 1):
            part, n = self._part_r[base], len(self._ranked)
            r2 = part[rest.bit_length() - 1] if rest else n
            key = (self._fid[base] * n + part[(mask ^ rest).bit_length() - 1]) * (n + 1) + r2
        else:
            key = ~(base | mask << 32)
        found = self._memo.get(key)
        return found if found is not None else self._build(key, base, mask)

    def _keys(self, base: IntArray, mask: IntArray) -> IntArray:
        """`_lookup`'s keys, vectorised."""
        low = mask & -mask
        rest = mask ^ low
        keys = ~(base | mask << 32)
        if self._rank_keys:
            few = np.flatnonzero((rest & (rest - 1)) == 0)
            b, low, rest = base[few], low[few], rest[few]
            start, n = self._pstart[b], len(self._ranked)
            r1 = self._pflat[start + _log2(low)]
            r2 = np.where(rest > 0, self._pflat[start + _log2(np.maximum(rest, 1))], n)
            keys[few] = (self._fid_np[b] * n + r1) * (n + 1) + r2
        return keys

    def _build(self, key: int, base: int, mask: int) -> tuple[Zone, ...]:
        part, full = self._part_r[base], self._full_r[base]
        if not full and not mask & (mask - 1):
            found = self._alone[part[mask.bit_length() - 1]]  # one zone: no new tuple
        else:
            ranks = sorted(full + tuple(r for j, r in enumerate(part) if mask >> j & 1))
            found = tuple(self._ranked[r] for r in ranks)
        if len(self._memo) < _MEMO_LIMIT:
            self._memo[key] = found
        return found

    def _cells(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, IntArray]:
        """(base, code) of each point's cell; code -1 means "test every candidate" (an
        unrefined coarse cell). Off the grid, and NaN: the empty base 0, code 0."""
        u = (x - self._x0) * self._upd
        v = (y - self._y0) * self._vpd
        ok = (u >= 0.0) & (u < self._nu) & (v >= 0.0) & (v < self._nv)
        iu = np.where(ok, u, 0.0).astype(np.int64)
        iv = np.where(ok, v, 0.0).astype(np.int64)
        s = self._shift
        e = np.frombuffer(self._coarse, dtype=np.int32)[(iv >> s) * self._ncol + (iu >> s)]
        base = e.astype(np.int64)
        code = np.full(len(x), -1, dtype=np.int64)
        refined = np.flatnonzero(e < 0)
        if len(refined):
            block = ~base[refined]
            m = (1 << s) - 1
            fine = np.frombuffer(self._fine, dtype=CODE_DTYPES[self._fine.typecode])
            code[refined] = fine[(block << (s + s)) + ((iv[refined] & m) << s)
                                 + (iu[refined] & m)]
            base[refined] = np.frombuffer(self._block_base, dtype=np.int32)[block]
        base[~ok] = 0
        code[~ok] = 0
        return base, code

    def _leaf_masks(
        self, x: FloatArray, y: FloatArray, base: IntArray, m: IntArray, todo: IntArray
    ) -> IntArray:
        """Per point of `todo` (in unrefined cells): the bit mask of its cell's candidates
        that cover it, every one tested."""
        n = m[todo]
        pt = np.repeat(todo, n)
        first = np.cumsum(n) - n
        j = np.arange(len(pt), dtype=np.int64) - np.repeat(first, n)
        cand = self._pflat[self._pstart[base[pt]] + j]
        hit = shapely.intersects_xy(self._geoms[cand], x[pt], y[pt])
        return np.bincount(np.repeat(np.arange(len(todo)), n), weights=hit << j,
                           minlength=len(todo)).astype(np.int64)

    def _fine_masks(
        self, x: FloatArray, y: FloatArray, base: IntArray, code: IntArray, todo: IntArray
    ) -> IntArray:
        """Per point of `todo` (in fine cells): the bit mask of its cell's candidates
        that cover it: those covering the whole cell, and those tested that do."""
        c = code[todo]
        mask = c & self._in_bits
        test = (c >> self._half).astype(np.uint8)
        i, j = np.nonzero(np.unpackbits(test[:, None], axis=1, bitorder="little"))
        if len(i):
            pt = todo[i]
            cand = self._pflat[self._pstart[base[pt]] + j]
            hit = shapely.intersects_xy(self._geoms[cand], x[pt], y[pt])
            mask += np.bincount(i, weights=hit.astype(np.int64) << j,
                                minlength=len(todo)).astype(np.int64)
        return mask


def _default_projection(geoms: GeomArray) -> Projection:
    if not len(geoms):
        return Projection.for_area(*_DEFAULT_AREA)
    c = shapely.centroid(shapely.geometrycollections(list(geoms)))
    return Projection.for_area(c.x, c.y)


def _log2(powers: IntArray) -> IntArray:
    """Exponents of powers of two (exact: below 2**53 they are exact doubles)."""
    return np.frexp(powers.astype(np.float64))[1].astype(np.int64) - 1
