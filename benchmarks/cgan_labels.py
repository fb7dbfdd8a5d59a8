"""Does the label condition? A conditional GAN's samples, classified by room type.

For every class of the model, `--num` samples (seeds 0..num-1, the same
seeds under every label) are classified by the shipped room classifier; the
fraction assigned to the asked label is compared with the classifier's own
validation accuracy on real photos of that room type (target: >= 0.8x).
Also per-class KID (room features) of the samples against the photos of
that class, and the mean pixel distance between the same seed's images
under different labels (0: the label does nothing).

    python benchmarks/cgan_labels.py runs/rooms64_cgan/model.keras \
        --data ../shared/data/places365-rooms/rooms64 [--num 500] [--out F.json]

MODEL is a `.keras` file, a run folder or `preset:NAME`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from keras_gen.evaluation.evaluate import real_source
from keras_gen.evaluation.features import RoomFeatures
from keras_gen.evaluation.metrics import kernel_inception_distance
from keras_gen.inference import load_keras
from keras_gen.precision import load_model


def samples_per_label(model, num: int) -> dict[str, np.ndarray]:
    return {
        name: model.generate_uint8(num, seed=0, labels=name)
        for name in model.class_names
    }


def label_report(model, data: Path, num: int) -> dict:
    features = RoomFeatures()
    classifier_names = features.record["class_names"]
    real_accuracy = features.record["validation_accuracy"]
    full = load_model(features.weights_path, compile=False)
    samples = samples_per_label(model, num)
    rows = {}
    for name, images in samples.items():
        predicted = np.argmax(full.predict(images.astype("float32"), verbose=0), -1)
        assigned = np.bincount(predicted, minlength=len(classifier_names)) / num
        real = real_source(str(data / name), images.shape[1])
        photos = np.concatenate(list(real.batches(min(num, real.available), 250)))
        kid, kid_std = kernel_inception_distance(
            features(photos),
            features(images),
            num_subsets=20,
            subset_size=min(len(photos), num, 500),
        )
        hit = float(assigned[classifier_names.index(name)])
        rows[name] = {
            "assigned_to_label": hit,
            "classifier_real_accuracy": real_accuracy[name],
            "ratio": hit / real_accuracy[name],
            "assigned": dict(zip(classifier_names, assigned.round(3).tolist())),
            "kid": kid,
            "kid_std": kid_std,
        }
    stack = np.stack([s.astype(np.float32) for s in samples.values()])
    label_effect = float(np.mean(np.abs(stack - stack.mean(0, keepdims=True))))
    return {"per_label": rows, "same_seed_pixel_spread": label_effect, "num": num}


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--num", type=int, default=500)
    parser.add_argument("--out")
    args = parser.parse_args()
    model = load_keras(args.model, compile=False)  # also preset:NAME
    report = label_report(model, args.data, args.num)
    report["model"] = args.model
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return report


if __name__ == "__main__":
    main()
