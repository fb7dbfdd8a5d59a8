"""Run `keras_gen.trainer.train` in this process and dump the final weights.

Used by the multi-worker test (one process per worker, `TF_CONFIG` set by the
test) and for the single-process reference run.

Usage: python train_worker.py CONFIG WORK_DIR WEIGHTS.npz [key=value ...]
"""

import os
import sys

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "-1")

import numpy as np  # noqa: E402

from keras_gen.config import load_config  # noqa: E402
from keras_gen.trainer import train  # noqa: E402


def main():
    config_path, work_dir, out, *overrides = sys.argv[1:]
    config = load_config(config_path, overrides)
    result = train(config, work_dir=work_dir)
    weights = result.model.get_weights()
    np.savez(out, *weights)
    print(f"DONE steps={result.images_seen // config.train.batch_size}")
    print(
        "HISTORY",
        {k: [round(float(x), 6) for x in v] for k, v in result.history.items()},
    )


if __name__ == "__main__":
    main()
