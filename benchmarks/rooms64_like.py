"""Write photos as places365-rooms' rooms64 was made: 64x64 bicubic, JPEG 95.

The bedroom VAE preset is trained on bedroom256 (resized by keras-gen's
loader) and its anomaly figures score rooms64 photos of other room types.
Held-out bedroom256 photos go through the same downscaling and JPEG
encoding as rooms64 first, so that normal and anomalous test images differ
by their content, not by how they were resized and compressed.

`--damage KIND:VALUE` (noise:SIGMA, blur:SIGMA, cutout:RATIO, from
`keras_gen.evaluation.damage`) damages the 64x64 images before the JPEG
encoding: the anomalies a reconstruction model is expected to flag.

    python benchmarks/rooms64_like.py SRC_FILES... --out DIR [--damage noise:0.05]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from keras_gen.evaluation import damage

DAMAGES = {
    "noise": damage.add_noise,
    "blur": damage.blur,
    "cutout": damage.paste_cutout,
}


def convert(src: Path, out: Path, harm=None, seed: int = 0) -> Path:
    target = out / (src.stem + ".jpg")
    with Image.open(src) as im:
        small = np.asarray(im.convert("RGB").resize((64, 64), Image.BICUBIC))
    if harm is not None:
        kind, value = harm
        kwargs = {"seed": seed} if kind != "blur" else {}
        small = DAMAGES[kind](small[None], float(value), **kwargs)[0]
    Image.fromarray(small).save(target, quality=95)
    return target


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--damage", help=f"KIND:VALUE, KIND one of {', '.join(DAMAGES)}")
    args = p.parse_args(argv)
    harm = tuple(args.damage.split(":")) if args.damage else None
    if harm and (len(harm) != 2 or harm[0] not in DAMAGES):
        p.error(
            f"--damage {args.damage!r}: expected KIND:VALUE, KIND in {list(DAMAGES)}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(args.files):
        convert(f, args.out, harm, seed=i)
    print(f"{len(args.files)} images -> {args.out}")


if __name__ == "__main__":
    main()
