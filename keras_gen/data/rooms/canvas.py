"""Drawing primitives: a supersampled canvas that projects 3-D polygons.

The canvas holds the picture and a material mask (per-pixel noise amplitude
and emission), both drawn with the same polygons, which
:mod:`keras_gen.data.rooms.render` turns into lighting and noise.
"""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image, ImageDraw

from keras_gen.data.rooms.camera import Point3, _Camera
from keras_gen.data.rooms.colours import Color, _shade

# Material noise amplitudes, stored in the mask image as 1/1000 units.
_AMP_WALL = 12
_AMP_WOOD = 30
_AMP_FABRIC = 22
_AMP_TILE = 14
_AMP_CARPET = 80
_AMP_RUG = 50


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
