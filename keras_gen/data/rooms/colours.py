"""Colours: HSV helpers and the paint, floor and trim colours of a room."""

from __future__ import annotations

import colorsys
from collections.abc import Mapping

from keras_gen.data.rooms.camera import _Uniforms
from keras_gen.data.rooms.labels import FLOOR_TEXTURES

Color = tuple[int, int, int]


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


def _floor_colour(texture: str, hue: float, floor_u: tuple[float, float]) -> Color:
    if texture == "planks":
        return _hsv(hue, 0.35 + 0.3 * floor_u[0], 0.35 + 0.4 * floor_u[1])
    if texture == "tiles":
        return _hsv(hue, 0.04 + 0.3 * floor_u[0], 0.55 + 0.35 * floor_u[1])
    return _hsv(hue, 0.15 + 0.35 * floor_u[0], 0.3 + 0.4 * floor_u[1])


def _sample_colours(
    f: Mapping[str, int | float], u: _Uniforms
) -> tuple[dict[str, Color], float]:
    """Wall, ceiling, floor, white, wood and trim colours of the room.

    Returns:
        The colours by name, and the floor's brightness draw (in [0, 1]),
        which decides whether the rug is light or dark.
    """
    wall = _hsv(f["wall_hue"], f["wall_saturation"], f["wall_value"])
    texture = FLOOR_TEXTURES[int(f["floor_texture"])]
    floor_u = (u(), u())
    floor = _floor_colour(texture, float(f["floor_hue"]), floor_u)
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
    return colors, floor_u[1]
