"""One room drawn from its seed: factors, camera, colours, furniture, walls.

:func:`_sample_scene` reads the uniforms of :class:`_Uniforms` in a fixed
order: the factors (the labels), the camera, the colours, the bed, lamp, rug
and floor, the wall items, then the lighting. Changing that order, or the
number of draws of any step, changes every room.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from keras_gen.data.rooms.camera import _Camera, _make_camera, _Uniforms
from keras_gen.data.rooms.colours import Color, _sample_colours
from keras_gen.data.rooms.furniture import (
    _sample_bed,
    _sample_bedding,
    _sample_floor,
    _sample_lamp,
    _sample_rug,
)
from keras_gen.data.rooms.labels import (
    _FLOAT_RANGES,
    _INT_LABELS,
    FLOOR_TEXTURES,
    ROOM_LABELS,
)
from keras_gen.data.rooms.wall_items import _sample_wall_items, _WallItem


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


def _sample_factors(
    u: _Uniforms, overrides: Mapping[str, int | float]
) -> dict[str, int | float]:
    """The factors of :data:`ROOM_LABELS`; overrides replace them after drawing."""
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
    return f


def _sample_light(f: Mapping[str, int | float], u: _Uniforms) -> dict[str, float]:
    """The ceiling light, ambient light, vignette and side-wall shading."""
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
    return light


def _labels(f: Mapping[str, int | float]) -> dict[str, int | float]:
    labels = {name: f[name] for name in ROOM_LABELS}
    for name in _INT_LABELS:
        labels[name] = int(labels[name])
    for name in _FLOAT_RANGES:
        labels[name] = float(labels[name])
    return labels


def _sample_scene(
    seed: int, overrides: Mapping[str, int | float]
) -> tuple[_Scene, np.random.Generator]:
    """Draw every factor of one room; overrides replace factors after drawing."""
    rng = np.random.default_rng(seed)
    u = _Uniforms(rng)
    f = _sample_factors(u, overrides)
    cam = _make_camera(f, u)
    colors, floor_value = _sample_colours(f, u)
    # Furniture footprints are always drawn, and used only if present.
    bed, bed_cx = _sample_bed(cam, u)
    _sample_bedding(colors, u)
    lamp = _sample_lamp(bed, colors["wood"], u)
    rug = _sample_rug(cam, bed, bed_cx, floor_value, u)
    floor = _sample_floor(FLOOR_TEXTURES[int(f["floor_texture"])], u)
    items = _sample_wall_items(cam, f, colors, bed, u)
    # A count the walls cannot hold is lowered: the labels say what is drawn.
    f["has_door"] = sum(it.kind == "door" for it in items)
    f["num_windows"] = sum(it.kind == "window" for it in items)
    f["num_frames"] = sum(it.kind == "frame" for it in items)
    light = _sample_light(f, u)
    scene = _Scene(cam, _labels(f), colors, items, bed, lamp, rug, floor, light)
    return scene, rng
