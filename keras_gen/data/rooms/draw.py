"""Drawing a sampled room back to front (painter's algorithm) on a canvas.

Room shell (walls, floor, skirting), wall items (doors, windows, frames), then
the rug, and the lamp and bed in the order that hides the right one.
"""

from __future__ import annotations

import math

from keras_gen.data.rooms.canvas import (
    _AMP_CARPET,
    _AMP_FABRIC,
    _AMP_RUG,
    _AMP_TILE,
    _AMP_WOOD,
    _Canvas,
    _wall_points,
)
from keras_gen.data.rooms.colours import _mix, _shade
from keras_gen.data.rooms.furniture import _NUM_PLANK_SHADES
from keras_gen.data.rooms.scene import _Scene
from keras_gen.data.rooms.wall_items import _WallItem


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


def _draw_planks(cv: _Canvas, scene: _Scene, amp: int) -> None:
    """Planks of alternating tones, with a seam and staggered butt joints."""
    cam, col, fl = scene.cam, scene.colors, scene.floor
    d, zc = cam.depth, cam.z_clip
    xl, xr = cam.x_left, cam.x_right
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


def _draw_tiles(cv: _Canvas, scene: _Scene, amp: int) -> None:
    """Tiles: an optional checkerboard, then the grout lines."""
    cam, col, fl = scene.cam, scene.colors, scene.floor
    d, zc = cam.depth, cam.z_clip
    xl, xr = cam.x_left, cam.x_right
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


def _draw_floor(cv: _Canvas, scene: _Scene) -> None:
    """Floor with planks, tiles or carpet, all as polygons in perspective."""
    cam, col, fl = scene.cam, scene.colors, scene.floor
    d, zc = cam.depth, cam.z_clip
    xl, xr = cam.x_left, cam.x_right
    texture = fl["texture"]
    amp = {"planks": _AMP_WOOD, "tiles": _AMP_TILE, "carpet": _AMP_CARPET}[texture]
    cv.polygon(((xl, 0, d), (xr, 0, d), (xr, 0, zc), (xl, 0, zc)), col["floor"], amp)
    if texture == "planks":
        _draw_planks(cv, scene, amp)
    elif texture == "tiles":
        _draw_tiles(cv, scene, amp)


def _draw_sky(cv: _Canvas, scene: _Scene, it: _WallItem) -> None:
    """The glowing sky inside a window's frame, with trees if it has them."""
    cam, p, w = scene.cam, it.params, it.wall
    fw = 0.07
    # Sky gradient as horizontal bands: cheap, and correct on the side walls.
    ia0, ia1, iy0, iy1 = it.a0 + fw, it.a1 - fw, it.y0 + fw, it.y1 - fw
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


def _draw_curtains(cv: _Canvas, scene: _Scene, it: _WallItem, side: float) -> None:
    """Two curtains beside the window, each with a darker fold."""
    cam, w, a0, a1, y0, y1 = scene.cam, it.wall, it.a0, it.a1, it.y0, it.y1
    curtain = _shade(it.params["curtain"], side)
    dark = _shade(curtain, 0.8)
    top, bottom = min(y1 + 0.12, cam.height - 0.03), max(y0 - 0.25, 0.1)
    for c0, c1 in ((a0 - 0.25, a0 + 0.05), (a1 - 0.05, a1 + 0.25)):
        cv.polygon(_wall_points(cam, w, c0, c1, bottom, top), curtain, _AMP_FABRIC)
        m = (c0 + c1) / 2
        cv.polygon(
            _wall_points(cam, w, m - 0.03, m + 0.03, bottom, top), dark, _AMP_FABRIC
        )


def _draw_window(cv: _Canvas, scene: _Scene, it: _WallItem) -> None:
    """Frame, glowing sky (optionally trees), mullions, sill and curtains."""
    cam, p = scene.cam, it.params
    w, a0, a1, y0, y1 = it.wall, it.a0, it.a1, it.y0, it.y1
    side = 1.0 if w == 1 else (scene.light["left"] if w == 0 else scene.light["right"])
    frame = _shade(p["frame"], side)
    fw = 0.07
    cv.polygon(_wall_points(cam, w, a0, a1, y0, y1), frame, _AMP_WOOD)
    _draw_sky(cv, scene, it)
    ia0, ia1, iy0, iy1 = a0 + fw, a1 - fw, y0 + fw, y1 - fw
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
        _draw_curtains(cv, scene, it, side)


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
