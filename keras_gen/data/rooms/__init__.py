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

Modules
-------
:mod:`~keras_gen.data.rooms.labels` (the labels, constants and argument
checks), :mod:`~keras_gen.data.rooms.camera` (the uniform stream and the
camera), :mod:`~keras_gen.data.rooms.colours`,
:mod:`~keras_gen.data.rooms.furniture` and
:mod:`~keras_gen.data.rooms.wall_items` (the scene's parts, drawn in that
order by :mod:`~keras_gen.data.rooms.scene`),
:mod:`~keras_gen.data.rooms.canvas` (drawing primitives),
:mod:`~keras_gen.data.rooms.draw` (the room, back to front),
:mod:`~keras_gen.data.rooms.render` (pixels, and the API re-exported here)
and :mod:`~keras_gen.data.rooms.cache`.

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

from keras_gen.data.rooms.labels import (
    FLOOR_TEXTURES,
    MAX_FRAMES,
    MAX_SIZE,
    MAX_WINDOWS,
    MIN_SIZE,
    RENDERER_VERSION,
    ROOM_LABELS,
    SEED_STRIDE,
    class_names,
)
from keras_gen.data.rooms.render import image_seed, render_room, render_rooms

__all__ = [
    "FLOOR_TEXTURES",
    "MAX_FRAMES",
    "MAX_SIZE",
    "MAX_WINDOWS",
    "MIN_SIZE",
    "RENDERER_VERSION",
    "ROOM_LABELS",
    "SEED_STRIDE",
    "class_names",
    "image_seed",
    "render_room",
    "render_rooms",
]
