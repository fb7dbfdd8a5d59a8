"""Does a GAN copy its training photos? Nearest-neighbour distances in pixels.

For each generated image (the EMA generator, seeds 0..N-1, as `evaluate`
samples them) the RMS pixel distance to its nearest training image, beside
the same distance for held-out real photos: a model that memorises has
samples much closer to the training set than unseen photos are (a low
5th percentile or minimum), whatever its FID or KID.

    python benchmarks/memorization.py MODEL [MODEL ...] \
        --train runs/recipes/data/train --heldout runs/recipes/data/heldout

MODEL: a `.keras` file, a run folder or `preset:NAME`.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from keras_gen.evaluation.sources import generated_source, real_source
from keras_gen.inference import load_generator


def load_all(source, num: int) -> np.ndarray:
    """The first `num` images of a source as float32 [N, S*S*3] in [0, 1]."""
    batches = list(source.batches(num, 100))
    flat = np.concatenate(batches).reshape(-1, source.image_size**2 * 3)
    return flat / np.float32(255)


def nearest_rms(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """RMS pixel distance of each row of `x` to its nearest row of `ref`."""
    sq = (x * x).sum(1)[:, None] + (ref * ref).sum(1)[None] - 2 * x @ ref.T
    return np.sqrt(np.maximum(sq.min(1), 0) / x.shape[1])


def summary(distances: np.ndarray) -> dict:
    return {
        "median": round(float(np.median(distances)), 4),
        "p5": round(float(np.percentile(distances, 5)), 4),
        "min": round(float(distances.min()), 4),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+")
    p.add_argument("--train", required=True)
    p.add_argument("--heldout", required=True)
    p.add_argument("--num", type=int, default=500)
    p.add_argument("--size", type=int, default=64)
    args = p.parse_args()
    train_source = real_source(args.train, args.size)
    train = load_all(train_source, train_source.available)
    held = load_all(real_source(args.heldout, args.size), args.num)
    results = {"held-out photos": summary(nearest_rms(held, train))}
    for name in args.models:
        model = load_generator(name, compile=False)
        fake = load_all(generated_source(model), args.num)
        results[name] = summary(nearest_rms(fake, train))
    record = {"train_images": len(train), "num": args.num, **results}
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
