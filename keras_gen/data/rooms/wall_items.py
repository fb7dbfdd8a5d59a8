"""Wall items (door, windows, picture frames): what to hang, and where.

Every item's size and preferred place are drawn whether or not the room has
it (so toggling one never moves the others); :func:`_layout` then places the
present ones without overlaps, dropping those that fit nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keras_gen.data.rooms.camera import _Camera, _Uniforms
from keras_gen.data.rooms.colours import Color, _hsv
from keras_gen.data.rooms.labels import MAX_FRAMES, MAX_WINDOWS


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


def _find_spot(
    cam: _Camera,
    spec: _WallSpec,
    occupied: dict[int, list[tuple[float, float]]],
    reserved_back: list[tuple[float, float]],
    compact: bool,
) -> tuple[int, float, float, float] | None:
    """``(wall, start, width, pad)`` of the first place that fits, or None."""
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
                return w, a0, width, pad
    return None


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
        spot = _find_spot(cam, spec, occupied, reserved_back, compact)
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


def _door_spec(
    cam: _Camera,
    f: Mapping[str, int | float],
    colors: Mapping[str, Color],
    u: _Uniforms,
) -> _WallSpec | None:
    """The door (None if the room has none; its draws are made anyway)."""
    wood, white = colors["wood"], colors["white"]
    door_wall = u.category((0.3, 0.4, 0.3))
    door_pref, door_w = u(), u(0.8, 0.95)
    door_h = min(u(2.0, 2.1), cam.height - 0.25)
    # Painted doors are white on coloured or darker walls and a deep colour on
    # near-white walls, so that the door never vanishes into the wall.
    dark_paint = _hsv(u(), u(0.1, 0.35), u(0.3, 0.55))
    white_ok = f["wall_value"] < 0.8 or f["wall_saturation"] > 0.2
    door_color = wood if u.chance(0.5) else (white if white_ok else dark_paint)
    if not f["has_door"]:
        return None
    return _WallSpec(
        "door",
        door_wall,
        door_pref,
        (door_w,),
        0.0,
        door_h,
        0.0,
        {"color": door_color},
    )


def _window_specs(
    cam: _Camera,
    f: Mapping[str, int | float],
    colors: Mapping[str, Color],
    u: _Uniforms,
) -> list[_WallSpec]:
    """The windows: sky, trees and curtains (draws made for all of them)."""
    sky_top = _hsv(u(0.55, 0.62), u(0.45, 0.75), u(0.78, 0.95))
    sky_low = _hsv(u(0.53, 0.58), u(0.12, 0.3), u(0.95, 1.0))
    window_frame = colors["white"] if u.chance(0.7) else colors["wood"]
    specs = []
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
            widths = (width, 0.75 * width, 0.55 * width)
            specs.append(
                _WallSpec("window", wall_k, pref, widths, sill, top, pad, params)
            )
    return specs


def _frame_specs(
    f: Mapping[str, int | float], colors: Mapping[str, Color], u: _Uniforms
) -> list[_WallSpec]:
    """The picture frames, each holding a two-colour picture."""
    specs = []
    for k in range(MAX_FRAMES):
        wall_k = u.category((0.25, 0.5, 0.25))
        pref, width, height = u(), u(0.3, 0.75), u(0.3, 0.6)
        center = u(1.45, 1.75)
        style = u.category((0.35, 0.35, 0.15, 0.15))
        pic = (_hsv(u(), u(0.2, 0.7), u(0.4, 0.9)), _hsv(u(), u(0.2, 0.7), u(0.3, 0.8)))
        split = u(0.35, 0.65)
        if k < f["num_frames"]:
            frame_color = (
                (30, 28, 26),
                colors["wood"],
                (196, 160, 70),
                colors["white"],
            )[style]
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
    return specs


def _sample_wall_items(
    cam: _Camera,
    f: Mapping[str, int | float],
    colors: Mapping[str, Color],
    bed: Mapping[str, float],
    u: _Uniforms,
) -> list[_WallItem]:
    """Door, windows and frames as the room has them, placed on the walls."""
    door = _door_spec(cam, f, colors, u)
    specs = [door] if door is not None else []
    specs += _window_specs(cam, f, colors, u)
    specs += _frame_specs(f, colors, u)
    # The door must not open behind the bed or the lamp whether or not they
    # are drawn, so that toggling them never moves the door.
    reserved = [(bed["x0"] - 0.55, bed["x1"] + 0.55)]
    items = _layout(cam, specs, reserved, compact=False)
    if len(items) < len(specs):
        # Crowded room: pack the items from the wall ends instead of at their
        # random positions, which leaves no unusable gaps between them.
        packed = _layout(cam, specs, reserved, compact=True)
        items = packed if len(packed) > len(items) else items
    return items
