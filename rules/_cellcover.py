"""The cell cover behind `ZoneIndex`'s fast path (`rules._zone_index`, which says why):
a two-level uniform grid in lon/lat over the zones, recording per cell which zones cover
all of it and which only part. Computed once per index, from the polygons alone.

Cells
    - coarse cells, about `cells_per_zone` per zone and about square on the ground.
      A cell's *base* lists the zones covering all of it (answered without a test) and
      the zones whose boundary passes through it (the candidates).
    - a coarse cell with candidates is refined into `refine` × `refine` fine cells, each
      holding two bit masks over the candidates: those covering the whole fine cell, and
      those whose boundary passes through it (test them). Most points near an edge then
      need no test.

Construction
    The cover is made from the boundary segments, rasterised in numpy onto the fine grid
    with every cell widened by 1e-6 of its size: a zone "touches" a cell when its
    boundary comes that close, and an untouched cell is wholly inside or wholly outside,
    decided by one point-in-polygon test of its centre (at the fine level, one test per
    run of untouched cells in a row). The widening only ever turns an answer into a
    test, so the rounding of the cell arithmetic cannot make an answer wrong.

Limits
    The polygons must be valid, non-empty and in lon/lat (`check_polygons`, which
    `ZoneIndex` calls); cells are in degrees, and zones crossing the antimeridian are
    not supported.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from types import MappingProxyType
from typing import Final, NamedTuple

import numpy as np
import numpy.typing as npt
import shapely

__all__ = ["CODE_DTYPES", "CellCover", "build_cover", "check_polygons"]

#: Cells are widened by this fraction of a fine cell: far above the ~1e-11 cells of
#: rounding in (lon - x0) * cells_per_degree, far below anything a GPS can tell apart.
_EPS: Final = 1e-6

#: A coarse cell with more candidates than this is not refined (a fine cell's two
#: masks must fit in a uint16): its candidates are all tested.
_MAX_REFINED: Final = 8

#: array typecodes of the fine codes, and their numpy dtypes
CODE_DTYPES: Final = MappingProxyType({"B": np.uint8, "H": np.uint16})

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
GeomArray = npt.NDArray[np.object_]
_Segments = tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]


def check_polygons(ids: Sequence[str], geoms: GeomArray) -> None:
    """The cover assumes valid, non-empty polygons in lon/lat; refuse anything else
    (`ids` name the zones of `geoms`, for the message)."""
    if not len(geoms):
        return
    type_id = shapely.get_type_id(geoms)
    polygonal = (type_id == 3) | (type_id == 6)  # Polygon, MultiPolygon
    bad = np.flatnonzero(~polygonal | shapely.is_empty(geoms) | ~shapely.is_valid(geoms))
    if len(bad):
        i = int(bad[0])
        geom = geoms[i]
        raise ValueError(
            f"zone {ids[i]!r}: expected a valid, non-empty Polygon or MultiPolygon, got "
            f"{geom.geom_type} ({shapely.is_valid_reason(geom)})"
        )
    x0, y0, x1, y1 = shapely.total_bounds(geoms).tolist()
    if not (-180.0 <= x0 <= x1 <= 180.0 and -90.0 <= y0 <= y1 <= 90.0):
        raise ValueError(f"zone bounds {[x0, y0, x1, y1]} are not lon/lat degrees")


def build_cover(
    geoms: GeomArray, cells_per_zone: float, refine: int, max_coarse_cells: int
) -> CellCover:
    """The cell cover of `geoms` (zones numbered by their position in it): about
    `cells_per_zone` coarse cells per zone, at most `max_coarse_cells`, each refined
    into `refine` × `refine` fine cells (a power of two) when it has candidates."""
    return _Cover(geoms, cells_per_zone, refine, max_coarse_cells).build()


class CellCover(NamedTuple):
    """A cell cover, as the flat arrays a lookup indexes (see the module docstring)."""

    x0: float  # lon, lat of the grid's corner
    y0: float
    u_per_deg: float  # fine cells per degree of longitude
    v_per_deg: float
    nu: int  # fine columns and rows
    nv: int
    ncol: int  # coarse columns
    shift: int  # log2(refine)
    coarse: array[int]  # per coarse cell: base id, or ~block of a refined cell
    block_base: array[int]  # per block: its base id
    fine: array[int]  # per block, refine² codes, row-major
    half: int  # bits of each of a code's two masks
    base_full: list[tuple[int, ...]]  # per base: ranks of the zones covering the cell
    base_part: list[tuple[int, ...]]  # per base: ranks of the candidates


class _Cover:
    """Builds a ZoneIndex's cell cover (see the module docstring). Zones are numbered by
    rank, their position in specificity order; a fine cell is u, v (columns, rows)."""

    def __init__(
        self, geoms: GeomArray, cells_per_zone: float, refine: int, max_coarse_cells: int
    ) -> None:
        self.geoms = geoms
        self.n = len(geoms)
        self.k = refine
        self.shift = refine.bit_length() - 1
        if self.n:
            x0, y0, x1, y1 = shapely.total_bounds(geoms).tolist()
        else:
            x0, y0, x1, y1 = 0.0, 0.0, 1.0, 1.0
        # ground metres per degree of longitude, relative to a degree of latitude
        aspect = max(math.cos(math.radians((y0 + y1) / 2)), 0.05)
        cells = min(max(cells_per_zone * max(self.n, 1), 64.0), float(max_coarse_cells))
        width, height = max((x1 - x0) * aspect, 1e-9), max(y1 - y0, 1e-9)
        side = math.sqrt(width * height / cells)  # a coarse cell, in degrees of latitude
        # one cell of margin all round: every vertex is strictly inside the grid
        self.ncol = math.ceil(width / side) + 2
        self.nrow = math.ceil(height / side) + 2
        self.x0, self.y0 = x0 - side / aspect, y0 - side
        self.upd, self.vpd = refine * aspect / side, refine / side
        self.bases: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {((), ()): 0}

    def build(self) -> CellCover:
        coarse = np.zeros(self.ncol * self.nrow, dtype=np.int64)
        block_base = np.zeros(0, dtype=np.int64)
        fine, half = np.zeros(0, dtype=np.int64), 1
        if self.n:
            seg = self._segments()
            touched = self._touched(seg)
            coarse, block_base = self._coarse_bases(*self._coarse_pairs(seg, touched))
            fine, half = self._fine_codes(touched, coarse, len(block_base))
        typecode = "B" if 2 * half <= 8 else "H"  # half <= _MAX_REFINED = 8
        return CellCover(
            self.x0, self.y0, self.upd, self.vpd, self.ncol * self.k, self.nrow * self.k,
            self.ncol, self.shift, array("i", coarse.astype(np.int32).tobytes()),
            array("i", block_base.astype(np.int32).tobytes()),
            array(typecode, fine.astype(CODE_DTYPES[typecode]).tobytes()), half,
            [full for full, _ in self.bases], [part for _, part in self.bases],
        )  # fmt: skip

    # -- step 1: every boundary segment, in fine-cell units -------------------------------

    def _segments(self) -> _Segments:
        parts, part_zone = shapely.get_parts(self.geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        xy, coord_ring = shapely.get_coordinates(rings, return_index=True)
        u = (xy[:, 0] - self.x0) * self.upd
        v = (xy[:, 1] - self.y0) * self.vpd
        a = np.flatnonzero(coord_ring[1:] == coord_ring[:-1])  # rings are closed
        zone = part_zone[ring_part[coord_ring[a]]].astype(np.int64)
        return zone, u[a], v[a], u[a + 1], v[a + 1]

    # -- step 2: the fine cells each boundary touches -------------------------------------

    def _touched(self, seg: _Segments) -> IntArray:
        """Every fine cell some zone's boundary comes within _EPS of, as sorted unique
        keys (zone * coarse cells + coarse cell) * refine² + fine cell in it. In chunks of
        segments: each expands to ~20 temporary arrays of one element per cell touched."""
        keys: list[IntArray] = []
        chunk = 1 << 14
        for i in range(0, len(seg[0]), chunk):
            zone, au, av, bu, bv = seg
            keys.append(_unique(self._touched_chunk(
                zone[i:i + chunk], au[i:i + chunk], av[i:i + chunk], bu[i:i + chunk],
                bv[i:i + chunk])))
        return _unique(np.concatenate(keys))

    def _touched_chunk(
        self, zone: IntArray, au: FloatArray, av: FloatArray, bu: FloatArray, bv: FloatArray
    ) -> IntArray:
        """Column by column: the segment's v range over the column's widened u range
        gives the rows it touches there."""
        ulo, uhi = np.minimum(au, bu), np.maximum(au, bu)
        c0 = np.floor(ulo - _EPS).astype(np.int64)
        ncol = np.floor(uhi + _EPS).astype(np.int64) - c0 + 1
        s = np.repeat(np.arange(len(zone)), ncol)
        col = np.repeat(c0, ncol) + _ranges(ncol)
        lo = np.maximum(ulo[s], col - _EPS)
        hi = np.minimum(uhi[s], col + 1 + _EPS)
        du = (bu - au)[s]
        vertical = du == 0.0
        slope = np.where(vertical, 0.0, (bv - av)[s] / np.where(vertical, 1.0, du))
        va = np.where(vertical, av[s], av[s] + (lo - au[s]) * slope)
        vb = np.where(vertical, bv[s], av[s] + (hi - au[s]) * slope)
        vmin, vmax = np.minimum(av, bv)[s], np.maximum(av, bv)[s]
        vlo = np.clip(np.minimum(va, vb), vmin, vmax)
        vhi = np.clip(np.maximum(va, vb), vmin, vmax)
        # (lo - au) * slope multiplies the rounding of u by the slope: widen by as much
        slack = _EPS + 4 * np.spacing(float(max(self.ncol, self.nrow) * self.k)) * (
            1.0 + np.abs(slope))
        r0 = np.floor(vlo - slack).astype(np.int64)
        nrow = np.floor(vhi + slack).astype(np.int64) - r0 + 1
        t = np.repeat(np.arange(len(s)), nrow)
        row = np.repeat(r0, nrow) + _ranges(nrow)
        col = col[t]
        sh, m = self.shift, self.k - 1
        cell = (row >> sh) * self.ncol + (col >> sh)
        local = ((row & m) << sh) + (col & m)
        key: IntArray = (zone[s[t]] * (self.ncol * self.nrow) + cell) * (self.k * self.k) + local
        return key

    # -- step 3: coarse cells ---------------------------------------------------------------

    def _coarse_pairs(
        self, seg: _Segments, touched: IntArray
    ) -> tuple[IntArray, IntArray, BoolArray]:
        """(coarse cell, zone, covers the whole cell?) for every cell a zone is in: the
        cells its boundary touches (no), and the untouched cells of its bounding box whose
        centre it covers (yes)."""
        zone, au, av, bu, bv = seg
        n, sh, nc = self.n, self.shift, self.ncol * self.nrow
        bounds = np.full((4, n), np.inf)
        bounds[2:] = -np.inf
        np.minimum.at(bounds[0], zone, np.minimum(au, bu))
        np.minimum.at(bounds[1], zone, np.minimum(av, bv))
        np.maximum.at(bounds[2], zone, np.maximum(au, bu))
        np.maximum.at(bounds[3], zone, np.maximum(av, bv))
        cu0, cv0 = (np.floor(bounds[:2] - _EPS).astype(np.int64) >> sh)
        cu1, cv1 = (np.floor(bounds[2:] + _EPS).astype(np.int64) >> sh)
        w = cu1 - cu0 + 1
        z = np.repeat(np.arange(n, dtype=np.int64), w * (cv1 - cv0 + 1))
        i = _ranges(w * (cv1 - cv0 + 1))
        cell = (cv0[z] + i // w[z]) * self.ncol + cu0[z] + i % w[z]
        boundary = _unique(touched // (self.k * self.k))  # zone * nc + cell, sorted
        key = z * nc + cell
        partial = boundary[np.minimum(np.searchsorted(boundary, key), len(boundary) - 1)] == key
        test = np.flatnonzero(~partial)
        mid = self.k / 2
        cx = self.x0 + ((cell[test] % self.ncol) * self.k + mid) / self.upd
        cy = self.y0 + ((cell[test] // self.ncol) * self.k + mid) / self.vpd
        keep = partial.copy()
        keep[test[shapely.intersects_xy(self.geoms[z[test]], cx, cy)]] = True
        return cell[keep], z[keep], ~partial[keep]

    def _coarse_bases(
        self, cell: IntArray, zone: IntArray, full: BoolArray
    ) -> tuple[IntArray, IntArray]:
        """(per coarse cell: base id or ~block, per block: base id). Blocks are numbered
        in cell order."""
        coarse = np.zeros(self.ncol * self.nrow, dtype=np.int64)
        order = np.lexsort((zone, cell))
        cs, fs = cell[order].tolist(), full[order].tolist()
        ranks = list(range(self.n))
        zs = [ranks[z] for z in zone[order].tolist()]  # one int object per rank, shared
        bases = self.bases
        block_base: list[int] = []
        i, total = 0, len(cs)
        while i < total:
            c = cs[i]
            in_full: list[int] = []
            in_part: list[int] = []
            while i < total and cs[i] == c:
                (in_full if fs[i] else in_part).append(zs[i])
                i += 1
            key = (tuple(in_full), tuple(in_part))
            base = bases.setdefault(key, len(bases))
            if in_part and len(in_part) <= _MAX_REFINED and self.k > 1:
                coarse[c] = ~len(block_base)
                block_base.append(base)
            else:
                coarse[c] = base
        return coarse, np.array(block_base, dtype=np.int64)

    # -- step 4: the fine cells of refined coarse cells -------------------------------------

    def _fine_codes(
        self, touched: IntArray, coarse: IntArray, nblocks: int
    ) -> tuple[IntArray, int]:
        """(per block, refine² codes; half). A code is two bit masks over the block's
        candidates, `covers the fine cell | boundary touches it << half`, half being the
        most candidates of any block."""
        kk, n, nc = self.k * self.k, self.n, self.ncol * self.nrow
        if nblocks == 0:
            return np.zeros(0, dtype=np.int64), 1
        t_cell = touched // kk % nc
        block_of = np.where(coarse < 0, ~coarse, -1)
        refined = np.flatnonzero(block_of[t_cell] >= 0)
        t_pair = t_cell[refined] * n + touched[refined] // kk // nc
        pairs = _unique(t_pair)  # (cell, zone): each block's candidates, in rank order
        hit = np.zeros((len(pairs), kk), dtype=bool)
        hit[np.searchsorted(pairs, t_pair), touched[refined] % kk] = True
        del t_cell, t_pair
        block = block_of[pairs // n]
        first = np.searchsorted(block, np.arange(nblocks + 1))  # each block's first pair
        half = int(np.diff(first).max())
        bit = (1 << (np.arange(len(pairs)) - first[block])).astype(np.int32)
        codes = np.empty((nblocks, kk), dtype=np.int32)
        step = 1 << 12  # blocks at a time: a few int arrays of step * refine² elements
        for b0 in range(0, nblocks, step):
            b1 = min(b0 + step, nblocks)
            p0, p1 = int(first[b0]), int(first[b1])
            state = self._fine_state(pairs[p0:p1] // n, pairs[p0:p1] % n, hit[p0:p1])
            shifted = np.where(state == 2, bit[p0:p1, None] << half, state * bit[p0:p1, None])
            codes[b0:b1] = np.add.reduceat(shifted, first[b0:b1] - p0, axis=0)
        return np.asarray(codes.ravel(), dtype=np.int64), half

    def _fine_state(self, cell: IntArray, zone: IntArray, hit: BoolArray) -> npt.NDArray[np.int32]:
        """Per (coarse cell, zone) pair, its refine² fine cells' states: 2 where the
        boundary touches; else 1 inside, 0 outside. Untouched cells in a row between
        touched ones are all inside or all outside: one centre test per run."""
        k, kk = self.k, self.k * self.k
        rows = hit.reshape(-1, k)
        start = ~rows
        start[:, 1:] &= rows[:, :-1]
        first_cell = np.flatnonzero(start.ravel())
        p, local = first_cell // kk, first_cell % kk
        fu = (cell[p] % self.ncol) * k + local % k + 0.5
        fv = (cell[p] // self.ncol) * k + local // k + 0.5
        inside = shapely.intersects_xy(
            self.geoms[zone[p]], self.x0 + fu / self.upd, self.y0 + fv / self.vpd
        )
        # run -1 (before any run starts) only falls on touched cells, which where() drops
        run = (np.cumsum(start.ravel(), dtype=np.int64) - 1).reshape(hit.shape)
        return np.where(hit, 2, np.append(inside, False)[run]).astype(np.int32)


def _unique(a: IntArray) -> IntArray:
    """Sorted unique values (np.unique's hash path is several times slower here)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def _ranges(counts: IntArray) -> IntArray:
    """Concatenated aranges: 0..counts[0]-1, 0..counts[1]-1, ..."""
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)
