"""The `keras-gen` command line: parsing and dispatch; the work is in the library.

    keras-gen train CONFIG.yaml [CONFIG.yaml ...] [--set key=value ...]
    keras-gen sample MODEL --num N --out FILE.png|FILE.npz [--seed S]
    keras-gen interpolate MODEL --out FILE.png|FILE.gif [--seeds 0,1,2] [--steps 8]
    keras-gen evaluate MODEL --data rooms|FOLDER [--metrics fid,kid,swd,pr] [--num N]
    keras-gen data convert|import-lsun|preview ...
    keras-gen export RUN_DIR|MODEL.keras --name NAME [--version V]
    keras-gen denoise MODEL IN_DIR|IMAGE --out OUT_DIR [--add-noise 0.1]
    keras-gen anomaly fit MODEL --data NORMAL_VAL [--fpr 0.05] [--score nelbo]
    keras-gen anomaly score MODEL --data DIR --out scores.csv [--normal CLASS]
    keras-gen data convert SRC --out DIR [--shards N] [--image-size S]
    keras-gen data import-lsun PATH_TO_lmdb --out DIR [--to tfrecord|folder]
    keras-gen data preview SPEC|CONFIG.yaml --out grid.png
    keras-gen series train|detect|score|evaluate ...   (time series anomalies)

MODEL is a run folder (its model.keras), a `.keras` file, a SavedModel
version folder, or a model folder of `saved_models/` (its highest version);
`anomaly` needs the trained model (run folder or `.keras`).
Every command takes -q (warnings only) and -v (debug, TensorFlow's own lines).
Exit codes: 0 ok, 2 usage/config/data error, 3 training diverged, 130 interrupted.

One module per command group, each with `add_parser(sub)` and its `cmd_*`
handler(s); `app` holds the top-level parser, `main` and the exit codes.
Nothing here imports TensorFlow at import time: a config is validated first.
"""

from __future__ import annotations

from keras_gen.cli.anomaly import cmd_anomaly
from keras_gen.cli.app import (
    STORAGE_ERRORS,
    _one_line_warnings,
    _Parser,
    _run,
    build_parser,
    main,
)
from keras_gen.cli.data import cmd_data
from keras_gen.cli.denoise import cmd_denoise
from keras_gen.cli.evaluate import cmd_evaluate
from keras_gen.cli.export import cmd_export
from keras_gen.cli.generate import cmd_interpolate, cmd_sample
from keras_gen.cli.train import cmd_train
from keras_gen.inference import sample_images

__all__ = [
    "STORAGE_ERRORS",
    "_Parser",
    "_one_line_warnings",
    "_run",
    "build_parser",
    "cmd_anomaly",
    "cmd_data",
    "cmd_denoise",
    "cmd_evaluate",
    "cmd_export",
    "cmd_interpolate",
    "cmd_sample",
    "cmd_train",
    "main",
    "sample_images",
]
