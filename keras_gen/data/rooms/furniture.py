"""The furniture of a room (bed, lamp, rug) and its floor's pattern.

The footprints are always drawn from the uniform stream, whether or not the
room has the piece, so that toggling one never moves the others.
"""

from __future__ import annotations

from typing import Any

from keras_gen.data.rooms.camera import _Camera, _Uniforms
from keras_gen.data.rooms.colours import Color, _hsv, _shade

_NUM_PLANK_SHADES = 40


def _sample_bed(cam: _Camera, u: _Uniforms) -> tuple[dict[str, float], float]:
    """The bed against the back wall; and the X of its centre."""
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
    return bed, bed_cx


def _sample_bedding(colors: dict[str, Color], u: _Uniforms) -> None:
    """Add the colours of the bed frame, sheet, pillows and blanket."""
    wood, white = colors["wood"], colors["white"]
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


def _sample_lamp(bed: dict[str, float], wood: Color, u: _Uniforms) -> dict[str, Any]:
    """A table lamp on a nightstand, or a floor lamp, beside the bed's head."""
    lamp_side = 1 if u.chance(0.5) else -1
    lamp_type = "table" if u.chance(0.6) else "floor"
    # A 0.45 m wide nightstand (or floor lamp) beside the head of the bed.
    lamp_x0 = bed["x1"] + 0.08 if lamp_side > 0 else bed["x0"] - 0.53
    return {
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


def _sample_rug(
    cam: _Camera,
    bed: dict[str, float],
    bed_cx: float,
    floor_value: float,
    u: _Uniforms,
) -> dict[str, Any]:
    """A rug in front of the bed: light on dark floors, dark on light ones."""
    room_w = cam.x_right - cam.x_left
    bed_l = bed["length"]
    rug_w = min(u(1.2, 2.2), room_w - 0.6)
    rug_back = cam.depth - bed_l + u(0.25, 0.6)
    # Keep the front edge in frame when possible, but always leave at least
    # half a metre of rug in front of the bed.
    rug_front = min(
        max(rug_back - u(1.1, 1.8), cam.z_floor * 1.03), cam.depth - bed_l - 0.5
    )
    # Light rugs on dark floors and dark rugs on light floors stand out.
    rug_value = u(0.55, 0.85) if floor_value < 0.5 else u(0.22, 0.45)
    rug_cx = bed_cx + u(-0.3, 0.3)
    return {
        "x0": rug_cx - rug_w / 2,
        "x1": rug_cx + rug_w / 2,
        "z0": rug_front,
        "z1": rug_back,
        "main": _hsv(u(), u(0.3, 0.7), rug_value),
        "border": _hsv(u(), u(0.2, 0.6), u(0.2, 0.8)),
        "pattern": u.category((0.4, 0.35, 0.25)),  # border / stripes / plain
    }


def _sample_floor(texture: str, u: _Uniforms) -> dict[str, Any]:
    """Sizes of the planks or tiles, and the shade and offset of each plank."""
    return {
        "texture": texture,
        "plank_w": u(0.13, 0.22),
        "plank_len": u(1.0, 1.8),
        "tile": u(0.3, 0.6),
        "checker": u.chance(0.4),
        "shades": u.take(_NUM_PLANK_SHADES),
        "offsets": u.take(_NUM_PLANK_SHADES),
    }
