"""The labels of a room, the public constants, and checks of the arguments.

Every name of :data:`ROOM_LABELS` is a factor drawn for each room (see
:mod:`keras_gen.data.rooms`); overrides force one of them
(:func:`_normalize_overrides` checks them).

Example:
    >>> class_names("num_windows")
    ('0_windows', '1_windows', '2_windows')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

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


def _bool_value(value: Any) -> int | None:
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if isinstance(value, bool | np.bool_) or (is_int and value in (0, 1)):
        return int(bool(value))
    return None


def _count_value(key: str, value: Any) -> int | None:
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not is_int or not 0 <= value <= _COUNT_LABELS[key]:
        return None
    return int(value)


def _texture_value(value: Any) -> int | None:
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if isinstance(value, str) and value in FLOOR_TEXTURES:
        return FLOOR_TEXTURES.index(value)
    if is_int and 0 <= value < len(FLOOR_TEXTURES):
        return int(value)
    return None


def _float_value(key: str, value: Any) -> float | None:
    lo, hi = _FLOAT_RANGES[key]
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    if not (math.isfinite(float(value)) and lo <= float(value) <= hi):
        return None
    return float(value) % 1.0 if key.endswith("hue") else float(value)


def _label_value(key: str, value: Any) -> int | float | None:
    """The label value an override stands for, or None if it is not allowed."""
    if key in _BOOL_LABELS:
        return _bool_value(value)
    if key in _COUNT_LABELS:
        return _count_value(key, value)
    if key == "floor_texture":
        return _texture_value(value)
    return _float_value(key, value)


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
        label = _label_value(key, value)
        if label is None:
            raise ValueError(
                f"invalid value {value!r} for {key!r}; allowed: {_allowed_values(key)}"
            )
        result[key] = label
    return result
