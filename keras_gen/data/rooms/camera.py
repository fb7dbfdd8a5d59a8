"""The stream of uniform draws every sampler reads, and the room's camera.

A scene reads exactly :data:`_NUM_UNIFORMS` uniforms in a fixed order
(whatever the overrides), so an override changes only the factor it names and
never reshuffles the others: every sampler of the scene takes the same
:class:`_Uniforms` and must keep its order of draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# Every scene reads exactly this many uniforms (whatever the overrides), so an
# override changes only the factor it names and never reshuffles the others.
_NUM_UNIFORMS = 320

Point3 = tuple[float, float, float]


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
