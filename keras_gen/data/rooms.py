"""Procedural room renderer: the project's embedded, download-free dataset.

Every image is an interior (mostly a bedroom) in one-point perspective, drawn
from an integer seed with numpy and Pillow only, so the VAE and GAN demos can
train without any download and without TensorFlow being imported here (the
multiprocessing workers stay light).

Scene model
-----------
A pinhole camera at the origin looks along +Z (X to the right, Y up, units are
metres) into a box-shaped room. The camera's principal point, which is also the
vanishing point of every line running into the depth of the room, is placed at
random (labels ``vanishing_x``, ``vanishing_y``), and the room box is chosen so
that the back wall occupies a random rectangle around it: the floor, ceiling and
side walls are then the trapezoids between the back wall and the image border.
Furniture and wall items are real 3-D boxes and rectangles projected through
the same camera, so the bed, rug, doors and windows on the side walls all
respect the perspective. Objects are drawn back to front (painter's algorithm)
into a supersampled Pillow canvas that is box-filtered down to the requested
size, which antialiases every edge. Lighting (a soft fall-off around a ceiling
light, a vignette, the warm glow of a lamp) and material noise (carpet fibres,
wood grain, wall texture) are applied afterwards at the output resolution with
vectorised numpy, so their cost does not depend on the scene content.

Factors
-------
Each image comes with the labels listed in :data:`ROOM_LABELS`:

===================  ======  =======================================================
name                 type    meaning (sampled range; override range if wider)
===================  ======  =======================================================
``has_bed``          int     1 if a bed (headboard, pillows, blanket) is drawn
``num_windows``      int     windows showing the sky, 0..2 (on any wall)
``has_door``         int     1 if a door is drawn (back or side wall)
``num_frames``       int     picture frames on the walls, 0..3
``has_rug``          int     1 if a rug lies on the floor
``has_lamp``         int     1 if a lit lamp (bedside or floor lamp) is drawn
``floor_texture``    int     index into :data:`FLOOR_TEXTURES`
``wall_hue``         float   HSV hue of the wall paint, [0, 1)
``wall_saturation``  float   HSV saturation of the paint, 0.04..0.4 (0..1)
``wall_value``       float   HSV value of the paint, 0.65..0.95 (0..1)
``floor_hue``        float   HSV hue of the floor material, [0, 1)
``vanishing_x``      float   vanishing point, fraction of width, 0.3..0.7
``vanishing_y``      float   vanishing point, fraction of height, 0.33..0.5
``back_wall_width``  float   back-wall width, fraction of width, 0.45..0.68
``light_x``          float   ceiling-light x, fraction of width, 0.15..0.85 (0..1)
``brightness``       float   global exposure, 0.8..1.1 (0.5..1.5)
===================  ======  =======================================================

Probabilities: bed 65 %, door 50 %, rug 45 %, lamp 50 %; windows 0/1/2 with
20/50/30 %; frames 0/1/2/3 with 30/35/20/15 %; floors planks/tiles/carpet with
40/30/30 %. The same seed gives the same scene (and identical labels) at every
size; only the pixel noise differs between sizes.

Performance
-----------
Measured on one core of the 2-core development machine (load average ~0.3)
with ``python -m keras_gen.data.rooms --benchmark`` (mean over 200 rooms):
0.7 ms per image at 32x32, 1.1 ms at 64x64, 2.2 ms at 128x128 and 6.2 ms at
256x256. A 20k-image 64x64 set thus takes ~25 s on one core, and
:func:`render_rooms` spreads large sets over all cores.

Example:
    >>> from keras_gen.data.rooms import render_room, render_rooms
    >>> image, labels = render_room(7, size=64, has_bed=True)
    >>> image.shape, image.dtype, labels["has_bed"]
    ((64, 64, 3), dtype('uint8'), 1)
    >>> images, table = render_rooms(8, size=32, seed=1)
    >>> images.shape, table["num_windows"].dtype
    ((8, 32, 32, 3), dtype('int32'))
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import math
import multiprocessing
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "FLOOR_TEXTURES",
    "MAX_FRAMES",
    "MAX_SIZE",
    "MAX_WINDOWS",
    "MIN_SIZE",
    "RENDERER_VERSION",
    "ROOM_LABELS",
    "SEED_STRIDE",
    "image_seed",
    "render_room",
    "render_rooms",
]

#: Bumped whenever the pictures or labels for a given seed change, so that
#: cached ``.npz`` files from an older renderer are never reused.
RENDERER_VERSION: int = 1

FLOOR_TEXTURES: tuple[str, ...] = ("planks", "tiles", "carpet")

ROOM_LABELS: tuple[str, ...] = (
    "has_bed",
    "num_windows",
    "has_door",
    "num_frames",
    "has_rug",
    "has_lamp",
    "floor_texture",
    "wall_hue",
    "wall_saturation",
    "wall_value",
    "floor_hue",
    "vanishing_x",
    "vanishing_y",
    "back_wall_width",
    "light_x",
    "brightness",
)

MIN_SIZE: int = 32
MAX_SIZE: int = 256
MAX_WINDOWS: int = 2
MAX_FRAMES: int = 3

#: Image ``i`` of ``render_rooms(..., seed=s)`` is ``render_room(s * SEED_STRIDE + i)``.
SEED_STRIDE: int = 1_000_003

_BOOL_LABELS = frozenset({"has_bed", "has_door", "has_rug", "has_lamp"})
_COUNT_LABELS: dict[str, int] = {"num_windows": MAX_WINDOWS, "num_frames": MAX_FRAMES}
_INT_LABELS = _BOOL_LABELS | set(_COUNT_LABELS) | {"floor_texture"}


def class_names(label: str) -> tuple[str, ...]:
    """Names of the classes of an integer room label, by id.

    Used to train conditional models on the procedural rooms
    (`data.labels: has_bed` etc.): `has_bed` gives ("no_bed", "bed"),
    `floor_texture` the floor names, counts "0_windows", "1_windows", ...

    Raises:
        ValueError: `label` is not an integer label of :data:`ROOM_LABELS`.

    Example:
        >>> class_names("has_bed")
        ('no_bed', 'bed')
    """
    if label in _BOOL_LABELS:
        thing = label.removeprefix("has_")
        return (f"no_{thing}", thing)
    if label in _COUNT_LABELS:
        thing = label.removeprefix("num_")
        return tuple(f"{n}_{thing}" for n in range(_COUNT_LABELS[label] + 1))
    if label == "floor_texture":
        return FLOOR_TEXTURES
    raise ValueError(
        f"{label!r} is not a class label of the rooms; allowed: "
        + ", ".join(sorted(_INT_LABELS))
    )
# Override ranges. Geometry factors are limited to the sampled range because
# the room layout is only guaranteed to fit inside the frame there.
_FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "wall_hue": (0.0, 1.0),
    "wall_saturation": (0.0, 1.0),
    "wall_value": (0.0, 1.0),
    "floor_hue": (0.0, 1.0),
    "vanishing_x": (0.3, 0.7),
    "vanishing_y": (0.33, 0.5),
    "back_wall_width": (0.45, 0.68),
    "light_x": (0.0, 1.0),
    "brightness": (0.5, 1.5),
}

# Every scene reads exactly this many uniforms (whatever the overrides), so an
# override changes only the factor it names and never reshuffles the others.
_NUM_UNIFORMS = 320
_NUM_PLANK_SHADES = 40

Color = tuple[int, int, int]
Point3 = tuple[float, float, float]

# Material noise amplitudes, stored in the mask image as 1/1000 units.
_AMP_WALL = 12
_AMP_WOOD = 30
_AMP_FABRIC = 22
_AMP_TILE = 14
_AMP_CARPET = 80
_AMP_RUG = 50


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
def _check_size(size: Any) -> int:
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise ValueError(
            f"size must be an integer in [{MIN_SIZE}, {MAX_SIZE}], got {size!r}"
        )
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be in [{MIN_SIZE}, {MAX_SIZE}] pixels, got {size}")
    return int(size)


def _check_seed(seed: Any, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"{name} must be a non-negative integer, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed}")
    return int(seed)


def _allowed_values(key: str) -> str:
    if key in _BOOL_LABELS:
        return "True/False (or 1/0)"
    if key in _COUNT_LABELS:
        return f"integers 0..{_COUNT_LABELS[key]}"
    if key == "floor_texture":
        return f"one of {FLOOR_TEXTURES} or an index 0..{len(FLOOR_TEXTURES) - 1}"
    lo, hi = _FLOAT_RANGES[key]
    return f"numbers in [{lo}, {hi}]"


def _normalize_overrides(overrides: Mapping[str, Any]) -> dict[str, int | float]:
    """Validate factor overrides and convert them to label values.

    Args:
        overrides: Mapping from a name in :data:`ROOM_LABELS` to a forced value
            (bools for ``has_*``, ints for counts, a texture name or index for
            ``floor_texture``, numbers for the continuous factors).

    Returns:
        The overrides as plain ``int``/``float`` label values.

    Raises:
        ValueError: For an unknown name or a value outside the allowed set; the
            message names the key and the allowed values.
    """
    result: dict[str, int | float] = {}
    for key, value in overrides.items():
        if key not in ROOM_LABELS:
            raise ValueError(
                f"unknown room factor {key!r}; allowed keys: {', '.join(ROOM_LABELS)}"
            )
        bad = ValueError(
            f"invalid value {value!r} for {key!r}; allowed: {_allowed_values(key)}"
        )
        is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
        if key in _BOOL_LABELS:
            if isinstance(value, bool | np.bool_) or (is_int and value in (0, 1)):
                result[key] = int(bool(value))
            else:
                raise bad
        elif key in _COUNT_LABELS:
            if not is_int or not 0 <= value <= _COUNT_LABELS[key]:
                raise bad
            result[key] = int(value)
        elif key == "floor_texture":
            if isinstance(value, str) and value in FLOOR_TEXTURES:
                result[key] = FLOOR_TEXTURES.index(value)
            elif is_int and 0 <= value < len(FLOOR_TEXTURES):
                result[key] = int(value)
            else:
                raise bad
        else:
            lo, hi = _FLOAT_RANGES[key]
            if isinstance(value, bool) or not isinstance(
                value, int | float | np.number
            ):
                raise bad
            if not (math.isfinite(float(value)) and lo <= float(value) <= hi):
                raise bad
            result[key] = float(value) % 1.0 if key.endswith("hue") else float(value)
    return result


# --------------------------------------------------------------------------- #
# Random factors and layout
# --------------------------------------------------------------------------- #
class _Uniforms:
    """Sequential reader over a fixed block of uniform draws."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._values = rng.random(_NUM_UNIFORMS).tolist()
        self._next = 0

    def __call__(self, lo: float = 0.0, hi: float = 1.0) -> float:
        value = self._values[self._next]
        self._next += 1
        return lo + (hi - lo) * value

    def chance(self, p: float) -> bool:
        return self() < p

    def category(self, weights: Sequence[float]) -> int:
        x = self() * sum(weights)
        for i, w in enumerate(weights):
            x -= w
            if x < 0:
                return i
        return len(weights) - 1

    def take(self, n: int) -> list[float]:
        out = self._values[self._next : self._next + n]
        self._next += n
        return out


def _hsv(h: float, s: float, v: float) -> Color:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (int(r * 255 + 0.5), int(g * 255 + 0.5), int(b * 255 + 0.5))


def _shade(color: Color, k: float) -> Color:
    return (
        min(int(color[0] * k + 0.5), 255),
        min(int(color[1] * k + 0.5), 255),
        min(int(color[2] * k + 0.5), 255),
    )


def _mix(a: Color, b: Color, t: float) -> Color:
    return (
        int(a[0] + (b[0] - a[0]) * t + 0.5),
        int(a[1] + (b[1] - a[1]) * t + 0.5),
        int(a[2] + (b[2] - a[2]) * t + 0.5),
    )


@dataclass(frozen=True)
class _Camera:
    """Pinhole camera at the origin; image coordinates are fractions of the side."""

    vx: float
    vy: float
    f: float
    eye: float  # camera height above the floor
    depth: float  # Z of the back wall
    x_left: float
    x_right: float
    height: float  # floor-to-ceiling height
    z_clip: float  # Z at which the room shell is cut, just outside the frame
    z_floor: float  # nearest floor depth that is still inside the frame
    z_left: float  # nearest visible depth of the left wall
    z_right: float

    def uv(self, x: float, y: float, z: float) -> tuple[float, float]:
        return self.vx + self.f * x / z, self.vy - self.f * (y - self.eye) / z


def _make_camera(factors: Mapping[str, float], u: _Uniforms) -> _Camera:
    """Build a 3-D room and camera whose back wall lands where the factors say.

    The back-wall rectangle is chosen in the image around the vanishing point;
    the room height fixes the scale, so depth, camera height and wall positions
    all follow from it and a focal length.
    """
    vx, vy = factors["vanishing_x"], factors["vanishing_y"]
    width = factors["back_wall_width"]
    aspect, lateral, eye_frac, focal = u(1.1, 1.5), u(0.3, 0.7), u(0.42, 0.62), u()
    room_h = u(2.5, 2.8)
    left = min(max(vx - lateral * width, 0.05), 0.95 - width)
    wall_h = width / aspect
    top = max(vy - (1.0 - eye_frac) * wall_h, 0.05)
    bottom = min(vy + eye_frac * wall_h, 0.85)
    wall_h = bottom - top
    # Focal length (in image widths) between ~50 and ~80 degrees of view, also
    # kept such that the room is 3.6-5.8 m deep: shallower rooms crop the bed
    # and deeper ones make it a speck at 64x64.
    f_lo = max(0.6, 3.6 * wall_h / room_h)
    f_hi = max(f_lo, min(1.0, 5.8 * wall_h / room_h))
    f = f_lo + (f_hi - f_lo) * focal
    depth = f * room_h / wall_h
    eye = (bottom - vy) * depth / f
    x_left = (left - vx) * depth / f
    x_right = (left + width - vx) * depth / f
    z_floor = f * eye / (1.0 - vy)
    z_ceiling = f * (room_h - eye) / vy
    z_left = f * -x_left / vx
    z_right = f * x_right / (1.0 - vx)
    z_clip = 0.9 * min(z_floor, z_ceiling, z_left, z_right)
    return _Camera(
        vx, vy, f, eye, depth, x_left, x_right, room_h, z_clip, z_floor, z_left, z_right
    )


# Walls are indexed 0 = left, 1 = back, 2 = right. A wall item spans the wall
# coordinate [a0, a1] (X on the back wall, Z on the side walls) and heights
# [y0, y1] above the floor.
@dataclass
class _WallItem:
    kind: str
    wall: int
    a0: float
    a1: float
    y0: float
    y1: float
    params: dict[str, Any]


def _wall_range(cam: _Camera, wall: int, y0: float, y1: float) -> tuple[float, float]:
    """Wall-coordinate interval where an item spanning heights [y0, y1] is in frame."""
    if wall == 1:
        return cam.x_left + 0.15, cam.x_right - 0.15
    z_edge = cam.z_left if wall == 0 else cam.z_right
    # Both the top and the bottom of the item must be inside the frame.
    z_top = cam.f * max(y1 - cam.eye, 0.0) / cam.vy
    z_bottom = cam.f * max(cam.eye - y0, 0.0) / (1.0 - cam.vy)
    return max(z_edge, z_top, z_bottom) + 0.2, cam.depth - 0.15


def _free_position(
    occupied: list[tuple[float, float]],
    lo: float,
    hi: float,
    width: float,
    pref: float,
    gap: float,
) -> float | None:
    """Start of the free slot of ``width`` in [lo, hi] nearest to ``pref``."""
    segments = [(lo, hi)]
    for a, b in occupied:
        a, b = a - gap, b + gap
        kept = []
        for s, e in segments:
            if b <= s or a >= e:
                kept.append((s, e))
                continue
            if a > s:
                kept.append((s, a))
            if b < e:
                kept.append((b, e))
        segments = kept
    best: float | None = None
    for s, e in segments:
        if e - s >= width:
            x = min(max(pref, s), e - width)
            if best is None or abs(x - pref) < abs(best - pref):
                best = x
    return best


@dataclass
class _WallSpec:
    """A wall item to place: preferred wall and position, candidate widths."""

    kind: str
    wall: int
    pref: float  # preferred position, 0 = start of the wall's free range, 1 = end
    widths: tuple[float, ...]  # tried in turn until one fits
    y0: float
    y1: float
    pad: float  # extra room on both sides (curtains), dropped for the last width
    params: dict[str, Any]


def _layout(
    cam: _Camera,
    specs: Sequence[_WallSpec],
    reserved_back: list[tuple[float, float]],
    compact: bool,
) -> list[_WallItem]:
    """Place wall items without overlaps; items that fit nowhere are dropped.

    Each item tries its preferred wall, then the other two, then its narrower
    widths. ``compact`` packs items at the start of the free space instead of
    at their preferred positions.
    """
    occupied: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}
    items: list[_WallItem] = []
    for spec in specs:
        spot = None
        for i, width in enumerate(spec.widths):
            last = i == len(spec.widths) - 1 and len(spec.widths) > 1
            pad = 0.0 if last else spec.pad
            total = width + 2 * pad
            for k in range(3):
                w = (spec.wall + k) % 3
                lo, hi = _wall_range(cam, w, spec.y0, spec.y1)
                if hi - lo < total:
                    continue
                blocked = occupied[w]
                if spec.kind == "door" and w == 1:
                    blocked = blocked + reserved_back
                target = lo if compact else lo + spec.pref * (hi - lo - total)
                a0 = _free_position(blocked, lo, hi, total, target, 0.12)
                if a0 is not None:
                    spot = (w, a0, width, pad)
                    break
            if spot is not None:
                break
        if spot is None:
            continue
        w, a0, width, pad = spot
        occupied[w].append((a0, a0 + width + 2 * pad))
        params = dict(spec.params)
        if spec.kind == "window" and pad == 0.0:
            params["curtain"] = None
        items.append(
            _WallItem(
                spec.kind, w, a0 + pad, a0 + pad + width, spec.y0, spec.y1, params
            )
        )
    return items


@dataclass
class _Scene:
    cam: _Camera
    labels: dict[str, int | float]
    colors: dict[str, Color]
    items: list[_WallItem]
    bed: dict[str, float]
    lamp: dict[str, Any]
    rug: dict[str, Any]
    floor: dict[str, Any]
    light: dict[str, float]


def _sample_scene(
    seed: int, overrides: Mapping[str, int | float]
) -> tuple[_Scene, np.random.Generator]:
    """Draw every factor of one room; overrides replace factors after drawing."""
    rng = np.random.default_rng(seed)
    u = _Uniforms(rng)
    f: dict[str, int | float] = {
        "has_bed": int(u.chance(0.65)),
        "num_windows": u.category((0.2, 0.5, 0.3)),
        "has_door": int(u.chance(0.5)),
        "num_frames": u.category((0.3, 0.35, 0.2, 0.15)),
        "has_rug": int(u.chance(0.45)),
        "has_lamp": int(u.chance(0.5)),
        "floor_texture": u.category((0.4, 0.3, 0.3)),
        "wall_hue": u(),
        "wall_saturation": 0.04 + 0.36 * u() ** 2,  # mostly soft, near-white paint
        "wall_value": u(0.65, 0.95),
        "floor_hue": u(),
        "vanishing_x": u(0.3, 0.7),
        "vanishing_y": u(0.33, 0.5),
        "back_wall_width": u(0.45, 0.68),
        "light_x": u(0.15, 0.85),
        "brightness": u(0.8, 1.1),
    }
    f.update(overrides)
    if "floor_hue" not in overrides:
        if f["floor_texture"] == 0:
            f["floor_hue"] = 0.035 + 0.075 * float(f["floor_hue"])  # wood tones
        elif f["floor_texture"] == 1:
            # Tiles: mostly greys, beiges and terracotta, some blue and green.
            f["floor_hue"] = float(f["floor_hue"]) ** 2 * 0.6
    cam = _make_camera(f, u)

    # ---- colours -------------------------------------------------------- #
    wall = _hsv(f["wall_hue"], f["wall_saturation"], f["wall_value"])
    texture = FLOOR_TEXTURES[int(f["floor_texture"])]
    fh = float(f["floor_hue"])
    floor_u = (u(), u())
    if texture == "planks":
        floor = _hsv(fh, 0.35 + 0.3 * floor_u[0], 0.35 + 0.4 * floor_u[1])
    elif texture == "tiles":
        floor = _hsv(fh, 0.04 + 0.3 * floor_u[0], 0.55 + 0.35 * floor_u[1])
    else:
        floor = _hsv(fh, 0.15 + 0.35 * floor_u[0], 0.3 + 0.4 * floor_u[1])
    white = _hsv(u(0.05, 0.15), u(0.0, 0.08), u(0.88, 0.97))
    wood = _hsv(u(0.04, 0.1), u(0.4, 0.65), u(0.22, 0.55))
    ceiling_k = u(0.84, 0.95)
    trim_style = u.category((0.55, 0.25, 0.2))
    colors = {
        "wall": wall,
        "ceiling": _shade(
            _hsv(f["wall_hue"], 0.25 * f["wall_saturation"], 0.93), ceiling_k
        ),
        "floor": floor,
        "floor_alt": _shade(floor, u(0.72, 0.86)),
        "grout": _shade(floor, u(0.55, 0.7)),
        "white": white,
        "wood": wood,
        "trim": (white, _shade(wall, 0.8), wood)[trim_style],
    }

    # ---- furniture footprint (always drawn, used only if present) -------- #
    room_w = cam.x_right - cam.x_left
    bed_w = min(u(1.4, 1.9), room_w - 1.2)
    # In shallow rooms the bed is shortened so that some floor stays visible
    # in front of it (for the rug, and for the bed to read as standing on it).
    bed_l = min(u(1.9, 2.15), max(cam.depth - cam.z_floor - 0.7, 1.5))
    slack = max(0.0, (room_w - bed_w) / 2 - 0.6)
    bed_cx = (cam.x_left + cam.x_right) / 2 + u(-1.0, 1.0) * slack
    bed = {
        "x0": bed_cx - bed_w / 2,
        "x1": bed_cx + bed_w / 2,
        "length": bed_l,
        "base": u(0.22, 0.32),
        "top": u(0.45, 0.6),
        "headboard": u(0.85, 1.2),
        "cover": u(0.6, 0.75),
        "pillows": 2 if bed_w > 1.55 else 1,
    }
    frame_style = u.category((0.5, 0.3, 0.2))
    colors["bed_frame"] = (
        wood,
        white,
        _hsv(u(), u(0.1, 0.4), u(0.25, 0.5)),
    )[frame_style]
    sheet_tint = u()
    colors["sheet"] = _hsv(sheet_tint, u(0.0, 0.12), u(0.86, 0.97))
    colors["pillow"] = _hsv(sheet_tint, u(0.0, 0.15), u(0.9, 1.0))
    colors["blanket"] = _hsv(u(), u(0.3, 0.7), u(0.4, 0.85))
    colors["fold"] = _shade(colors["sheet"], 0.95)

    lamp_side = 1 if u.chance(0.5) else -1
    lamp_type = "table" if u.chance(0.6) else "floor"
    # A 0.45 m wide nightstand (or floor lamp) beside the head of the bed.
    lamp_x0 = bed["x1"] + 0.08 if lamp_side > 0 else bed["x0"] - 0.53
    lamp = {
        "type": lamp_type,
        "side": lamp_side,
        "x0": lamp_x0,
        "x1": lamp_x0 + 0.45,
        "stand_h": u(0.45, 0.6),
        "shade": _hsv(u(0.08, 0.14), u(0.1, 0.35), 1.0),
        "base": (_hsv(u(0.05, 0.12), u(0.3, 0.6), u(0.25, 0.7)), wood)[
            int(u.chance(0.5))
        ],
        "glow": u(0.5, 0.9),
    }

    rug_w = min(u(1.2, 2.2), room_w - 0.6)
    rug_back = cam.depth - bed_l + u(0.25, 0.6)
    # Keep the front edge in frame when possible, but always leave at least
    # half a metre of rug in front of the bed.
    rug_front = min(
        max(rug_back - u(1.1, 1.8), cam.z_floor * 1.03), cam.depth - bed_l - 0.5
    )
    # Light rugs on dark floors and dark rugs on light floors stand out.
    rug_value = u(0.55, 0.85) if floor_u[1] < 0.5 else u(0.22, 0.45)
    rug_cx = bed_cx + u(-0.3, 0.3)
    rug = {
        "x0": rug_cx - rug_w / 2,
        "x1": rug_cx + rug_w / 2,
        "z0": rug_front,
        "z1": rug_back,
        "main": _hsv(u(), u(0.3, 0.7), rug_value),
        "border": _hsv(u(), u(0.2, 0.6), u(0.2, 0.8)),
        "pattern": u.category((0.4, 0.35, 0.25)),  # border / stripes / plain
    }

    floor_params = {
        "texture": texture,
        "plank_w": u(0.13, 0.22),
        "plank_len": u(1.0, 1.8),
        "tile": u(0.3, 0.6),
        "checker": u.chance(0.4),
        "shades": u.take(_NUM_PLANK_SHADES),
        "offsets": u.take(_NUM_PLANK_SHADES),
    }

    # ---- wall items: door, windows, frames ------------------------------- #
    specs: list[_WallSpec] = []
    door_wall = u.category((0.3, 0.4, 0.3))
    door_pref, door_w = u(), u(0.8, 0.95)
    door_h = min(u(2.0, 2.1), cam.height - 0.25)
    # Painted doors are white on coloured or darker walls and a deep colour on
    # near-white walls, so that the door never vanishes into the wall.
    dark_paint = _hsv(u(), u(0.1, 0.35), u(0.3, 0.55))
    white_ok = f["wall_value"] < 0.8 or f["wall_saturation"] > 0.2
    door_color = wood if u.chance(0.5) else (white if white_ok else dark_paint)
    if f["has_door"]:
        specs.append(
            _WallSpec(
                "door",
                door_wall,
                door_pref,
                (door_w,),
                0.0,
                door_h,
                0.0,
                {"color": door_color},
            )
        )
    sky_top = _hsv(u(0.55, 0.62), u(0.45, 0.75), u(0.78, 0.95))
    sky_low = _hsv(u(0.53, 0.58), u(0.12, 0.3), u(0.95, 1.0))
    window_frame = white if u.chance(0.7) else wood
    for k in range(MAX_WINDOWS):
        wall_k = u.category((0.3, 0.4, 0.3))
        pref, width = u(), u(0.8, 1.4)
        sill = u(0.8, 1.0)
        top = min(u(2.0, 2.2), cam.height - 0.2)
        curtains = u.chance(0.5)
        curtain = _hsv(u(), u(0.2, 0.6), u(0.45, 0.85))
        trees = u.chance(0.4)
        tree_h = u(0.15, 0.35)
        if k < f["num_windows"]:
            params = {
                "frame": window_frame,
                "sky_top": sky_top,
                "sky_low": sky_low,
                "curtain": curtain,
                "trees": tree_h if trees else 0.0,
                "tree_color": _hsv(0.27 + 0.08 * tree_h, 0.5, 0.45),
            }
            pad = 0.25 if curtains else 0.0
            specs.append(
                _WallSpec(
                    "window",
                    wall_k,
                    pref,
                    (width, 0.75 * width, 0.55 * width),
                    sill,
                    top,
                    pad,
                    params,
                )
            )
    for k in range(MAX_FRAMES):
        wall_k = u.category((0.25, 0.5, 0.25))
        pref, width, height = u(), u(0.3, 0.75), u(0.3, 0.6)
        center = u(1.45, 1.75)
        style = u.category((0.35, 0.35, 0.15, 0.15))
        pic = (_hsv(u(), u(0.2, 0.7), u(0.4, 0.9)), _hsv(u(), u(0.2, 0.7), u(0.3, 0.8)))
        split = u(0.35, 0.65)
        if k < f["num_frames"]:
            frame_color = ((30, 28, 26), wood, (196, 160, 70), white)[style]
            specs.append(
                _WallSpec(
                    "frame",
                    wall_k,
                    pref,
                    (width, 0.5 * width, 0.22),
                    center - height / 2,
                    center + height / 2,
                    0.0,
                    {"color": frame_color, "pic": pic, "split": split},
                )
            )
    # The door must not open behind the bed or the lamp whether or not they
    # are drawn, so that toggling them never moves the door.
    reserved = [(bed["x0"] - 0.55, bed["x1"] + 0.55)]
    items = _layout(cam, specs, reserved, compact=False)
    if len(items) < len(specs):
        # Crowded room: pack the items from the wall ends instead of at their
        # random positions, which leaves no unusable gaps between them.
        packed = _layout(cam, specs, reserved, compact=True)
        items = packed if len(packed) > len(items) else items
    f["has_door"] = sum(it.kind == "door" for it in items)
    f["num_windows"] = sum(it.kind == "window" for it in items)
    f["num_frames"] = sum(it.kind == "frame" for it in items)

    light = {
        "x": float(f["light_x"]),
        "y": u(0.0, 0.35),
        "radius": u(0.35, 0.6),
        "ambient": u(0.5, 0.7),
        "vignette": u(0.25, 0.5),
        "left": u(0.75, 0.9),
        "right": u(0.75, 0.9),
    }
    # The side wall nearer the ceiling light receives more of it.
    light["left"] += 0.1 * (1.0 - light["x"])
    light["right"] += 0.1 * light["x"]

    labels = {name: f[name] for name in ROOM_LABELS}
    for name in _INT_LABELS:
        labels[name] = int(labels[name])
    for name in _FLOAT_RANGES:
        labels[name] = float(labels[name])
    scene = _Scene(cam, labels, colors, items, bed, lamp, rug, floor_params, light)
    return scene, rng


# --------------------------------------------------------------------------- #
# Drawing
# --------------------------------------------------------------------------- #
class _Canvas:
    """Supersampled picture plus a material mask (noise amplitude, emission)."""

    def __init__(self, cam: _Camera, pixels: int, background: Color) -> None:
        self.cam = cam
        self.scale = float(pixels)
        self.image = Image.new("RGB", (pixels, pixels), background)
        self.mask = Image.new("RGB", (pixels, pixels), (_AMP_WALL, 0, 0))
        self._draw = ImageDraw.Draw(self.image)
        self._mdraw = ImageDraw.Draw(self.mask)

    def project(self, points: Sequence[Point3]) -> list[tuple[float, float]]:
        """Room coordinates (metres, Y above the floor) to canvas pixels."""
        c, s = self.cam, self.scale
        return [
            ((c.vx + c.f * x / z) * s, (c.vy - c.f * (y - c.eye) / z) * s)
            for x, y, z in points
        ]

    def polygon(
        self,
        points: Sequence[Point3],
        color: Color,
        amp: int = _AMP_WALL,
        emit: int = 0,
    ) -> None:
        """Fill a planar 3-D polygon; ``amp`` is its noise amplitude (1/1000 of
        the colour), ``emit`` (0..255) how much it glows instead of being lit."""
        xy = self.project(points)
        self._draw.polygon(xy, fill=color)
        self._mdraw.polygon(xy, fill=(amp, emit, 0))

    def box(
        self,
        x0: float,
        x1: float,
        y0: float,
        y1: float,
        z0: float,
        z1: float,
        color: Color,
        amp: int = _AMP_WOOD,
    ) -> None:
        """Axis-aligned box: only the faces turned towards the camera are drawn."""
        eye = self.cam.eye
        # A convex box's visible faces never overlap, so their order is free.
        if x0 > 0:
            pts = ((x0, y0, z0), (x0, y1, z0), (x0, y1, z1), (x0, y0, z1))
            self.polygon(pts, _shade(color, 0.7), amp)
        elif x1 < 0:
            pts = ((x1, y0, z0), (x1, y1, z0), (x1, y1, z1), (x1, y0, z1))
            self.polygon(pts, _shade(color, 0.7), amp)
        if y1 < eye:
            pts = ((x0, y1, z0), (x1, y1, z0), (x1, y1, z1), (x0, y1, z1))
            self.polygon(pts, color, amp)
        pts = ((x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0))
        self.polygon(pts, _shade(color, 0.84), amp)


def _wall_points(
    cam: _Camera, wall: int, a0: float, a1: float, y0: float, y1: float
) -> tuple[Point3, Point3, Point3, Point3]:
    """Corners of the rectangle [a0, a1] x [y0, y1] lying on a wall."""
    if wall == 1:
        d = cam.depth
        return (a0, y1, d), (a1, y1, d), (a1, y0, d), (a0, y0, d)
    x = cam.x_left if wall == 0 else cam.x_right
    return (x, y1, a0), (x, y1, a1), (x, y0, a1), (x, y0, a0)


def _draw_shell(cv: _Canvas, scene: _Scene) -> None:
    """Walls, floor and skirting boards (the ceiling is the background)."""
    cam, col, light = scene.cam, scene.colors, scene.light
    d, zc, h = cam.depth, cam.z_clip, cam.height
    xl, xr = cam.x_left, cam.x_right
    wall = col["wall"]
    cv.polygon(((xl, 0, d), (xl, h, d), (xr, h, d), (xr, 0, d)), wall)
    cv.polygon(
        ((xl, 0, zc), (xl, h, zc), (xl, h, d), (xl, 0, d)), _shade(wall, light["left"])
    )
    cv.polygon(
        ((xr, 0, zc), (xr, h, zc), (xr, h, d), (xr, 0, d)), _shade(wall, light["right"])
    )
    _draw_floor(cv, scene)
    # Skirting boards make the wall/floor seams read at low resolution.
    trim, sk = col["trim"], 0.09
    cv.polygon(((xl, 0, d), (xl, sk, d), (xr, sk, d), (xr, 0, d)), trim, _AMP_WOOD)
    cv.polygon(
        ((xl, 0, zc), (xl, sk, zc), (xl, sk, d), (xl, 0, d)),
        _shade(trim, light["left"]),
        _AMP_WOOD,
    )
    cv.polygon(
        ((xr, 0, zc), (xr, sk, zc), (xr, sk, d), (xr, 0, d)),
        _shade(trim, light["right"]),
        _AMP_WOOD,
    )


def _draw_floor(cv: _Canvas, scene: _Scene) -> None:
    """Floor with planks, tiles or carpet, all as polygons in perspective."""
    cam, col, fl = scene.cam, scene.colors, scene.floor
    d, zc = cam.depth, cam.z_clip
    xl, xr = cam.x_left, cam.x_right
    texture = fl["texture"]
    amp = {"planks": _AMP_WOOD, "tiles": _AMP_TILE, "carpet": _AMP_CARPET}[texture]
    cv.polygon(((xl, 0, d), (xr, 0, d), (xr, 0, zc), (xl, 0, zc)), col["floor"], amp)
    if texture == "planks":
        width, length = fl["plank_w"], fl["plank_len"]
        shades, offsets = fl["shades"], fl["offsets"]
        seam = _shade(col["floor"], 0.6)
        n = int(math.ceil((xr - xl) / width))
        for i in range(n):
            x0 = xl + i * width
            x1 = min(x0 + width, xr)
            tone = _shade(col["floor"], 0.86 + 0.24 * shades[i % _NUM_PLANK_SHADES])
            cv.polygon(((x0, 0, d), (x1, 0, d), (x1, 0, zc), (x0, 0, zc)), tone, amp)
            # Dark gap along one side of every plank, narrowing with depth.
            g = 0.012
            cv.polygon(
                ((x0, 0, d), (x0 + g, 0, d), (x0 + g, 0, zc), (x0, 0, zc)), seam, amp
            )
            # Butt joints, staggered from plank to plank.
            z = d - offsets[i % _NUM_PLANK_SHADES] * length
            while z > zc:
                cv.polygon(
                    ((x0, 0, z), (x1, 0, z), (x1, 0, z - 0.02), (x0, 0, z - 0.02)),
                    seam,
                    amp,
                )
                z -= length
    elif texture == "tiles":
        t = fl["tile"]
        if fl["checker"]:
            alt = col["floor_alt"]
            nx = int(math.ceil((xr - xl) / t))
            nz = int(math.ceil((d - zc) / t))
            for i in range(nx):
                x0, x1 = xl + i * t, min(xl + (i + 1) * t, xr)
                for j in range(i % 2, nz, 2):
                    z1 = d - j * t
                    z0 = max(z1 - t, zc)
                    cv.polygon(
                        ((x0, 0, z1), (x1, 0, z1), (x1, 0, z0), (x0, 0, z0)), alt, amp
                    )
        grout, g = col["grout"], 0.018
        x = xl + t
        while x < xr:
            cv.polygon(
                ((x - g, 0, d), (x + g, 0, d), (x + g, 0, zc), (x - g, 0, zc)),
                grout,
                amp,
            )
            x += t
        z = d - t
        while z > zc:
            cv.polygon(
                ((xl, 0, z + g), (xr, 0, z + g), (xr, 0, z - g), (xl, 0, z - g)),
                grout,
                amp,
            )
            z -= t


def _draw_window(cv: _Canvas, scene: _Scene, it: _WallItem) -> None:
    """Frame, glowing sky (optionally trees), mullions, sill and curtains."""
    cam, p = scene.cam, it.params
    w, a0, a1, y0, y1 = it.wall, it.a0, it.a1, it.y0, it.y1
    side = 1.0 if w == 1 else (scene.light["left"] if w == 0 else scene.light["right"])
    frame = _shade(p["frame"], side)
    fw = 0.07
    cv.polygon(_wall_points(cam, w, a0, a1, y0, y1), frame, _AMP_WOOD)
    # Sky gradient as horizontal bands: cheap, and correct on the side walls.
    ia0, ia1, iy0, iy1 = a0 + fw, a1 - fw, y0 + fw, y1 - fw
    bands = 4
    for b in range(bands):
        t = b / (bands - 1)
        ya = iy1 - (iy1 - iy0) * b / bands
        yb = iy1 - (iy1 - iy0) * (b + 1) / bands
        cv.polygon(
            _wall_points(cam, w, ia0, ia1, yb, ya),
            _mix(p["sky_top"], p["sky_low"], t),
            0,
            255,
        )
    if p["trees"]:
        tree_top = iy0 + (iy1 - iy0) * p["trees"]
        cv.polygon(
            _wall_points(cam, w, ia0, ia1, iy0, tree_top), p["tree_color"], 40, 200
        )
    mid_a, mid_y = (a0 + a1) / 2, iy0 + 0.6 * (iy1 - iy0)
    bar = 0.025
    cv.polygon(
        _wall_points(cam, w, mid_a - bar, mid_a + bar, iy0, iy1), frame, _AMP_WOOD
    )
    cv.polygon(
        _wall_points(cam, w, ia0, ia1, mid_y - bar, mid_y + bar), frame, _AMP_WOOD
    )
    # Sill below the window, a little wider than the frame.
    cv.polygon(
        _wall_points(cam, w, a0 - 0.05, a1 + 0.05, y0 - 0.05, y0 + 0.01),
        _shade(frame, 0.9),
        _AMP_WOOD,
    )
    if p["curtain"] is not None:
        curtain = _shade(p["curtain"], side)
        dark = _shade(curtain, 0.8)
        top, bottom = min(y1 + 0.12, cam.height - 0.03), max(y0 - 0.25, 0.1)
        for c0, c1 in ((a0 - 0.25, a0 + 0.05), (a1 - 0.05, a1 + 0.25)):
            cv.polygon(_wall_points(cam, w, c0, c1, bottom, top), curtain, _AMP_FABRIC)
            m = (c0 + c1) / 2
            cv.polygon(
                _wall_points(cam, w, m - 0.03, m + 0.03, bottom, top), dark, _AMP_FABRIC
            )


def _draw_door(cv: _Canvas, scene: _Scene, it: _WallItem) -> None:
    """Door with trim, four panels and a handle."""
    cam, w = scene.cam, it.wall
    side = 1.0 if w == 1 else (scene.light["left"] if w == 0 else scene.light["right"])
    color = _shade(it.params["color"], side)
    trim = _shade(scene.colors["white"], side * 0.95)
    a0, a1, y1 = it.a0, it.a1, it.y1
    cv.polygon(
        _wall_points(cam, w, a0 - 0.07, a1 + 0.07, 0.0, y1 + 0.07), trim, _AMP_WOOD
    )
    cv.polygon(_wall_points(cam, w, a0, a1, 0.0, y1), color, _AMP_WOOD)
    panel = _shade(color, 0.86)
    m = 0.12
    mid = (a0 + a1) / 2
    for p0, p1 in ((0.15, y1 * 0.45), (y1 * 0.52, y1 - 0.15)):
        cv.polygon(_wall_points(cam, w, a0 + m, mid - 0.04, p0, p1), panel, _AMP_WOOD)
        cv.polygon(_wall_points(cam, w, mid + 0.04, a1 - m, p0, p1), panel, _AMP_WOOD)
    # Handle on the side away from the hinge.
    h = a1 - 0.1 if w != 2 else a0 + 0.06
    cv.polygon(_wall_points(cam, w, h, h + 0.05, 0.95, 1.03), (200, 180, 120), 0)


def _draw_frame(cv: _Canvas, scene: _Scene, it: _WallItem) -> None:
    """Picture frame holding a two-colour picture."""
    cam, w, p = scene.cam, it.wall, it.params
    side = 1.0 if w == 1 else (scene.light["left"] if w == 0 else scene.light["right"])
    a0, a1, y0, y1 = it.a0, it.a1, it.y0, it.y1
    cv.polygon(
        _wall_points(cam, w, a0, a1, y0, y1), _shade(p["color"], side), _AMP_WOOD
    )
    b = 0.045
    pic0, pic1 = (_shade(c, side) for c in p["pic"])
    ys = y0 + b + (y1 - y0 - 2 * b) * p["split"]
    cv.polygon(_wall_points(cam, w, a0 + b, a1 - b, ys, y1 - b), pic0, 8)
    cv.polygon(_wall_points(cam, w, a0 + b, a1 - b, y0 + b, ys), pic1, 8)


def _draw_rug(cv: _Canvas, scene: _Scene) -> None:
    """Rug lying flat on the floor: bordered, striped or plain."""
    r = scene.rug
    x0, x1, z0, z1, y = r["x0"], r["x1"], r["z0"], r["z1"], 0.004
    cv.polygon(
        ((x0, y, z1), (x1, y, z1), (x1, y, z0), (x0, y, z0)), r["border"], _AMP_RUG
    )
    b = min(0.14, 0.2 * (z1 - z0))
    if r["pattern"] == 0:
        pts = (
            (x0 + b, y, z1 - b),
            (x1 - b, y, z1 - b),
            (x1 - b, y, z0 + b),
            (x0 + b, y, z0 + b),
        )
        cv.polygon(pts, r["main"], _AMP_RUG)
    elif r["pattern"] == 1:
        n = 5
        for i in range(0, n, 2):
            xa = x0 + (x1 - x0) * i / n
            xb = x0 + (x1 - x0) * (i + 1) / n
            cv.polygon(
                ((xa, y, z1), (xb, y, z1), (xb, y, z0), (xa, y, z0)),
                r["main"],
                _AMP_RUG,
            )
    else:
        pts = (
            (x0 + b, y, z1 - b),
            (x1 - b, y, z1 - b),
            (x1 - b, y, z0 + b),
            (x0 + b, y, z0 + b),
        )
        cv.polygon(pts, _mix(r["main"], r["border"], 0.3), _AMP_RUG)


def _draw_bed(cv: _Canvas, scene: _Scene) -> None:
    """Bed against the back wall: headboard, base, sheet, pillows, blanket."""
    b, col, d = scene.bed, scene.colors, scene.cam.depth
    x0, x1, zf = b["x0"], b["x1"], d - b["length"]
    frame = col["bed_frame"]
    cv.box(x0 - 0.04, x1 + 0.04, 0.0, b["headboard"], d - 0.07, d, frame)
    cv.box(x0, x1, 0.0, b["base"], zf, d - 0.07, _shade(frame, 0.9))
    top = b["top"]
    cv.box(
        x0 + 0.02,
        x1 - 0.02,
        b["base"],
        top,
        zf + 0.03,
        d - 0.08,
        col["sheet"],
        _AMP_FABRIC,
    )
    n = b["pillows"]
    span = (x1 - x0 - 0.16) / n
    for i in range(n):
        px0 = x0 + 0.08 + i * span + 0.03
        cv.box(
            px0,
            px0 + span - 0.06,
            top,
            top + 0.14,
            d - 0.6,
            d - 0.15,
            col["pillow"],
            _AMP_FABRIC,
        )
    zb = d - b["length"] * b["cover"]
    cv.box(
        x0 - 0.03,
        x1 + 0.03,
        b["base"] - 0.08,
        top + 0.04,
        zf - 0.02,
        zb,
        col["blanket"],
        _AMP_FABRIC,
    )
    # Turned-down sheet at the head end of the blanket.
    cv.box(
        x0 - 0.03,
        x1 + 0.03,
        top + 0.02,
        top + 0.05,
        zb - 0.01,
        zb + 0.18,
        col["fold"],
        _AMP_FABRIC,
    )


def _draw_lamp(cv: _Canvas, scene: _Scene) -> tuple[float, float, float]:
    """Draw the lamp; return the image position and size of its lit shade."""
    lamp, d = scene.lamp, scene.cam.depth
    x0, x1 = lamp["x0"], lamp["x1"]
    cx, cz = (x0 + x1) / 2, d - 0.25
    if lamp["type"] == "table":
        stand = lamp["stand_h"]
        cv.box(x0, x1, 0.0, stand, d - 0.42, d - 0.02, scene.colors["wood"])
        cv.box(
            cx - 0.03,
            cx + 0.03,
            stand,
            stand + 0.22,
            cz - 0.03,
            cz + 0.03,
            lamp["base"],
        )
        y0, y1, r0, r1 = stand + 0.17, stand + 0.42, 0.17, 0.11
    else:
        cv.box(cx - 0.15, cx + 0.15, 0.0, 0.03, cz - 0.15, cz + 0.15, lamp["base"])
        cv.box(cx - 0.02, cx + 0.02, 0.0, 1.45, cz - 0.02, cz + 0.02, lamp["base"])
        y0, y1, r0, r1 = 1.35, 1.7, 0.24, 0.15
    z = cz - 0.15
    pts = ((cx - r0, y0, z), (cx - r1, y1, z), (cx + r1, y1, z), (cx + r0, y0, z))
    cv.polygon(pts, lamp["shade"], 0, 255)
    u, v = scene.cam.uv(cx, (y0 + y1) / 2, z)
    size = scene.cam.f * (y1 - y0) / z
    return u, v, size


def _draw_scene(cv: _Canvas, scene: _Scene) -> tuple[float, float, float] | None:
    """Draw everything back to front; return the lamp glow (u, v, size) if lit."""
    _draw_shell(cv, scene)
    for it in scene.items:
        {"door": _draw_door, "window": _draw_window, "frame": _draw_frame}[it.kind](
            cv, scene, it
        )
    labels = scene.labels
    if labels["has_rug"]:
        _draw_rug(cv, scene)
    glow = None
    lamp = scene.lamp
    # Painter's order for two boxes side by side: the one farther from the
    # camera's X first (the camera is at X = 0).
    lamp_first = lamp["side"] * (lamp["x0"] if lamp["side"] > 0 else -lamp["x1"]) > 0
    if labels["has_lamp"] and lamp_first:
        glow = _draw_lamp(cv, scene)
    if labels["has_bed"]:
        _draw_bed(cv, scene)
    if labels["has_lamp"] and not lamp_first:
        glow = _draw_lamp(cv, scene)
    return glow


@lru_cache(maxsize=16)
def _coords(size: int) -> np.ndarray:
    return ((np.arange(size, dtype=np.float32) + 0.5) / size).astype(np.float32)


def _supersampling(size: int) -> int:
    # Small images need more sub-samples for smooth edges; large ones have
    # enough pixels per edge already and would pay quadratically.
    return 4 if size <= 48 else 3 if size <= 96 else 2


def _render_scene(scene: _Scene, rng: np.random.Generator, size: int) -> np.ndarray:
    """Rasterise a sampled scene, then light it and add material noise."""
    ss = _supersampling(size)
    cv = _Canvas(scene.cam, size * ss, scene.colors["ceiling"])
    glow = _draw_scene(cv, scene)
    image = np.asarray(cv.image.reduce(ss), dtype=np.float32)
    mask = np.asarray(cv.mask.reduce(ss), dtype=np.float32)

    light, c = scene.light, _coords(size)
    # Separable Gaussian fall-off around the ceiling light, plus a vignette.
    r2 = 2.0 * light["radius"] ** 2
    gx, gy = (
        np.exp(-((c - light["x"]) ** 2) / r2),
        np.exp(-((c - light["y"]) ** 2) / r2),
    )
    amb = light["ambient"]
    vx = (c - 0.5) ** 2
    shade = amb + (1.0 - amb) * (gy[:, None] * gx[None, :])
    shade *= 1.0 - light["vignette"] * (vx[:, None] + vx[None, :])
    shade *= scene.labels["brightness"]
    shade3 = np.repeat(shade[:, :, None], 3, axis=2)
    if glow is not None:
        u, v, s = glow
        gr2 = 2.0 * max(2.2 * s, 0.06) ** 2
        lg = (
            np.exp(-((c - v) ** 2) / gr2)[:, None]
            * np.exp(-((c - u) ** 2) / gr2)[None, :]
        )
        lg *= scene.lamp["glow"]
        shade3 += lg[:, :, None] * np.array([0.55, 0.42, 0.22], dtype=np.float32)
    emit = mask[:, :, 1:2] * (1.0 / 255.0)
    shade3 = shade3 * (1.0 - emit) + emit
    noise = rng.standard_normal((size, size), dtype=np.float32)
    noise *= mask[:, :, 0] * (1.0 / 1000.0)
    noise += 1.0
    image *= shade3
    image *= noise[:, :, None]
    np.clip(image, 0.0, 255.0, out=image)
    return (image + 0.5).astype(np.uint8)


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #
def render_room(
    seed: int, size: int = 64, **overrides: Any
) -> tuple[np.ndarray, dict[str, int | float]]:
    """Render one room.

    Args:
        seed: Non-negative integer; the same seed and size always give the
            same pixels, and the same seed gives the same scene at every size.
        size: Side of the square image in pixels, in [32, 256].
        **overrides: Forced factors, by label name (see :data:`ROOM_LABELS`),
            e.g. ``has_bed=True``, ``num_windows=0``, ``floor_texture="tiles"``,
            ``wall_hue=0.6``. The other factors keep the values the seed gives
            them, so an override plants or removes one thing only. A count the
            room cannot hold (no free wall left) is lowered, and the label says
            what was drawn.

    Returns:
        ``(image, labels)``: a ``uint8`` array of shape ``(size, size, 3)`` and
        a dict with one ``int`` or ``float`` per name in :data:`ROOM_LABELS`.

    Raises:
        ValueError: If ``size`` is outside [32, 256], ``seed`` is negative, or
            an override has an unknown name or a value outside its allowed set
            (the message names the key and the allowed values).

    Example:
        >>> image, labels = render_room(3, size=64, has_bed=False, num_windows=2)
        >>> image.shape, labels["has_bed"], labels["num_windows"]
        ((64, 64, 3), 0, 2)
    """
    size = _check_size(size)
    seed = _check_seed(seed)
    scene, rng = _sample_scene(seed, _normalize_overrides(overrides))
    return _render_scene(scene, rng, size), dict(scene.labels)


def image_seed(seed: int, index: int) -> int:
    """Per-image seed used by :func:`render_rooms`: ``seed * SEED_STRIDE + index``.

    Args:
        seed: The data-set seed passed to :func:`render_rooms`.
        index: Position of the image in the data set.

    Returns:
        The seed to pass to :func:`render_room` for that image.

    Example:
        >>> image_seed(2, 5)
        2000011
    """
    return seed * SEED_STRIDE + index


def _label_arrays(num: int) -> dict[str, np.ndarray]:
    return {
        name: np.zeros(num, dtype=np.int32 if name in _INT_LABELS else np.float32)
        for name in ROOM_LABELS
    }


def _render_chunk(
    task: tuple[int, int, int, int, dict[str, int | float]],
) -> tuple[int, np.ndarray, dict[str, np.ndarray]]:
    """Render images ``start..stop-1`` of a data set (runs in worker processes)."""
    start, stop, seed, size, overrides = task
    images = np.empty((stop - start, size, size, 3), dtype=np.uint8)
    labels = _label_arrays(stop - start)
    for k in range(stop - start):
        scene, rng = _sample_scene(image_seed(seed, start + k), overrides)
        images[k] = _render_scene(scene, rng, size)
        for name in ROOM_LABELS:
            labels[name][k] = scene.labels[name]
    return start, images, labels


def _cache_path(
    cache_dir: str | os.PathLike[str],
    num: int,
    size: int,
    seed: int,
    overrides: Mapping[str, int | float],
) -> Path:
    tag = ""
    if overrides:
        key = json.dumps(sorted(overrides.items())).encode()
        tag = "_" + hashlib.sha1(key).hexdigest()[:12]
    name = f"rooms_v{RENDERER_VERSION}_n{num}_size{size}_seed{seed}{tag}.npz"
    return Path(cache_dir) / name


def _load_cache(
    path: Path, num: int, size: int
) -> tuple[np.ndarray, dict[str, np.ndarray]] | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            images = data["images"]
            labels = {name: data[f"label_{name}"] for name in ROOM_LABELS}
        expected = _label_arrays(1)
        ok = images.shape == (num, size, size, 3) and images.dtype == np.uint8
        ok = ok and all(
            v.shape == (num,) and v.dtype == expected[k].dtype
            for k, v in labels.items()
        )
        if ok:
            return images, labels
        reason = "unexpected shapes or dtypes"
    except Exception as err:  # whatever is wrong with the file, render again
        reason = f"{type(err).__name__}: {err}"
    warnings.warn(
        f"room cache {path} is unreadable ({reason}); rendering again",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


def _save_cache(
    path: Path, images: np.ndarray, labels: Mapping[str, np.ndarray]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a crash or a concurrent reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, images=images, **{f"label_{k}": v for k, v in labels.items()})
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _default_workers(num: int, size: int) -> int:
    # Below ~1000 64x64 images a pool costs more to start than it saves.
    if num * size * size < 1000 * 64 * 64:
        return 1
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _chunks(
    num: int, chunk: int, seed: int, size: int, overrides: dict[str, int | float]
) -> Iterator[tuple[int, int, int, int, dict[str, int | float]]]:
    for start in range(0, num, chunk):
        yield start, min(start + chunk, num), seed, size, overrides


def render_rooms(
    num: int,
    size: int = 64,
    seed: int = 0,
    workers: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    **overrides: Any,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Render a deterministic data set of rooms.

    Image ``i`` is ``render_room(image_seed(seed, i), size, **overrides)``, with
    ``image_seed(seed, i) = seed * 1_000_003 + i``, so the result does not
    depend on ``workers`` and a longer set starts with the images of a shorter
    one.

    Args:
        num: Number of images, at least 1.
        size: Side in pixels, in [32, 256].
        seed: Non-negative data-set seed.
        workers: Processes to render with. ``None`` picks 1 for small sets
            (under ~1000 images of 64x64) and one per available CPU otherwise.
            Workers are forked on Linux, so they never re-import the caller's
            modules (TensorFlow included); elsewhere they are spawned.
        cache_dir: Directory for an ``.npz`` cache named by ``num``, ``size``,
            ``seed``, the overrides and :data:`RENDERER_VERSION`. An existing,
            valid file is loaded instead of rendering; an unreadable one is
            rendered again (with a ``RuntimeWarning``) and overwritten.
            ``None`` (the default) disables caching.
        progress: Show a ``tqdm`` progress bar.
        **overrides: Factors forced on every image, as in :func:`render_room`.

    Returns:
        ``(images, labels)``: ``uint8`` images of shape ``(num, size, size, 3)``
        and a dict with one 1-D array of length ``num`` per name in
        :data:`ROOM_LABELS` (``int32`` for flags, counts and
        ``floor_texture``; ``float32`` for the continuous factors).

    Raises:
        ValueError: For ``num < 1``, a size outside [32, 256], a negative seed,
            ``workers < 1`` or an invalid override.

    Example:
        >>> images, labels = render_rooms(16, size=32, seed=3, has_bed=True)
        >>> images.shape, bool(labels["has_bed"].all())
        ((16, 32, 32, 3), True)
    """
    if isinstance(num, bool) or not isinstance(num, int | np.integer) or num < 1:
        raise ValueError(f"num must be a positive integer, got {num!r}")
    num = int(num)
    size = _check_size(size)
    seed = _check_seed(seed)
    fixed = _normalize_overrides(overrides)
    if workers is not None and (
        isinstance(workers, bool)
        or not isinstance(workers, int | np.integer)
        or workers < 1
    ):
        raise ValueError(f"workers must be a positive integer or None, got {workers!r}")

    path = None
    if cache_dir is not None:
        path = _cache_path(cache_dir, num, size, seed, fixed)
        cached = _load_cache(path, num, size)
        if cached is not None:
            return cached

    n_workers = _default_workers(num, size) if workers is None else int(workers)
    chunk = max(1, min(256, math.ceil(num / (4 * n_workers))))
    n_workers = min(n_workers, math.ceil(num / chunk))
    images = np.empty((num, size, size, 3), dtype=np.uint8)
    labels = _label_arrays(num)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num, desc=f"rendering rooms {size}x{size}", unit="img")
    tasks = _chunks(num, chunk, seed, size, fixed)
    try:
        if n_workers == 1:
            results: Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]] = map(
                _render_chunk, tasks
            )
            _collect(results, images, labels, bar)
        else:
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            with multiprocessing.get_context(method).Pool(n_workers) as pool:
                _collect(pool.imap(_render_chunk, tasks), images, labels, bar)
    finally:
        if bar is not None:
            bar.close()
    if path is not None:
        try:
            _save_cache(path, images, labels)
        except OSError as err:
            # A read-only or full disk must not cost the caller the images.
            warnings.warn(
                f"could not write room cache {path}: {err}",
                RuntimeWarning,
                stacklevel=2,
            )
    return images, labels


def _collect(
    results: Iterator[tuple[int, np.ndarray, dict[str, np.ndarray]]],
    images: np.ndarray,
    labels: dict[str, np.ndarray],
    bar: Any,
) -> None:
    for start, chunk_images, chunk_labels in results:
        stop = start + len(chunk_images)
        images[start:stop] = chunk_images
        for name in ROOM_LABELS:
            labels[name][start:stop] = chunk_labels[name]
        if bar is not None:
            bar.update(stop - start)


def _benchmark(sizes: Sequence[int] = (32, 64, 128, 256), num: int = 200) -> None:
    """Print the single-core rendering time per image for each size."""
    import time

    for size in sizes:
        render_room(0, size)  # warm caches
        start = time.perf_counter()
        for i in range(num):
            render_room(i, size)
        ms = (time.perf_counter() - start) / num * 1e3
        print(f"size {size:3d}: {ms:6.2f} ms/image")


if __name__ == "__main__":
    if "--benchmark" in sys.argv:
        _benchmark()
