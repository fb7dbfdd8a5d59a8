"""Any Pillow image as RGB, transparency composited on white.

Pillow's `convert("RGB")` drops the alpha channel and shows whatever colour
the transparent pixels happen to store (often black); a person viewing the
file sees them as the background, so they are composited on white.

Example:
>>> from PIL import Image
>>> clear = Image.new("RGBA", (2, 2), (0, 0, 0, 0))
>>> to_rgb(clear).getpixel((0, 0))
(255, 255, 255)
"""

from __future__ import annotations

from PIL import Image


def to_rgb(image: Image.Image) -> Image.Image:
    """`image` in RGB mode; alpha (RGBA, LA, palette transparency) over white."""
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")
