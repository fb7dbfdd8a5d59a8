"""Turn a finished training run into a preset (maintainers' tool).

    python -m keras_gen.presets.publish runs/rooms_denoiser --name rooms_denoiser \\
        --task denoise --description "..." --data-name "..." --licence "..." \\
        [--evaluation FILE.json --evaluation-command "..."] \\
        [--saved-models saved_models] [--float32-weights]

Writes `keras_gen/presets/<name>/model.keras` (the model without optimizer
state: presets are for inference and for fine-tuning with a fresh
optimizer; kernels stored as float16 unless `--float32-weights`),
`preset.json` and the SavedModel `saved_models/<name>/1/` (replaced), then
rewrites `saved_models/models.config`. Evaluation figures
are JSON files written by the command given beside each (e.g.
`keras-gen evaluate ... --out FILE.json`); their numbers go into the record.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import yaml

from keras_gen import presets
from keras_gen.presets import MODEL_FILE, PRESET_FILE, sha256_of
from keras_gen.presets.storage import save_half_precision
from keras_gen.utils.files import atomic_write_text
from keras_gen.utils.names import check_name

#: The figures copied from an evaluation JSON into a preset's record
#: (timings, arguments and the environment stay in the JSON).
FIGURES = (
    "fid",
    "kid_mean",
    "kid_std",
    "precision",
    "recall",
    "flat_fraction",
    "psnr",
    "psnr_noisy",
    "sigma",
    "ssim",
    "nelbo_bpd_8bit",
    "threshold",
    "flagged_fraction",
    "roc_auc",
    "tpr_at_5pct_fpr",
    "images",
    "num_images",
    # benchmarks/cgan_labels.py, per label of a conditional model
    "assigned_to_label",
    "ratio",
    "kid",
)


def _flatten(result: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in result.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _figures(result: dict) -> dict:
    """The figures of an evaluation JSON, flattened (`groups.kitchen.roc_auc`)."""
    flat = _flatten(result)
    return {
        k: v
        for k, v in flat.items()
        if k.split(".")[-1] in FIGURES
        and isinstance(v, (int, float))
        and not isinstance(v, bool)
    }


def evaluation_entry(path: str | Path, command: str) -> dict:
    """One record of `preset.json`'s `evaluation` list from an evaluation JSON."""
    result = json.loads(Path(path).read_text())
    return {
        "command": command,
        "date": time.strftime("%Y-%m-%d", time.gmtime(Path(path).stat().st_mtime)),
        "figures": _figures(result),
    }


def _model_facts(model: Any) -> dict:
    facts: dict[str, Any] = {"model_class": type(model).__name__}
    for key in ("latent_dim", "num_classes", "class_names", "value_range"):
        value = getattr(model, key, None)
        if value is not None:
            facts[key] = list(value) if isinstance(value, tuple) else value
    return facts


def _relative_paths(value: Any, root: Path) -> Any:
    """`value` with the maintainer's absolute paths made relative to `root`.

    Paths under `root` or beside it (`../shared/...`, as the docs write the
    shared data) lose the machine's prefix; other paths stay as they are.
    """
    if isinstance(value, dict):
        return {k: _relative_paths(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_relative_paths(v, root) for v in value]
    if isinstance(value, str) and value.startswith(f"{root.parent}/"):
        return os.path.relpath(value, root)
    return value


def _source_facts(source: str) -> dict:
    """The record of what a run started from (its `model.init_from`).

    A preset's images and seconds (its own lineage included) add to the new
    preset's; a `.keras` file is named with its sha256 only, since a
    checkpoint's share of its run is not recorded.
    """
    if not source.startswith(presets.PREFIX):
        path = Path(source)
        return {"source": path.name, "sha256": sha256_of(path)}
    parent = presets.get(source[len(presets.PREFIX) :])
    return {
        "source": source,
        "sha256": parent.sha256,
        "images_seen": parent.images_seen,
        "wall_time_s": parent.wall_time_s,
        "config": parent.record.get("config"),
        **(
            {"init_from": parent.record["init_from"]}
            if "init_from" in parent.record
            else {}
        ),
    }


def _run_facts(run_dir: Path) -> dict:
    """Images seen, wall time and config of a run, counted from scratch."""
    record = json.loads((run_dir / "run.json").read_text())
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    # The record ships: no path of the machine that trained it.
    config = _relative_paths(config, Path.cwd().resolve())
    facts = {
        "images_seen": int(record["images_seen"]),
        "wall_time_s": float(record["seconds"]),
        "config": config,
        "image_size": config["model"]["image_size"],
    }
    source = config["model"].get("init_from")
    if source:
        facts["init_from"] = parent = _source_facts(source)
        facts["images_seen"] += parent.get("images_seen", 0)
        facts["wall_time_s"] = round(
            facts["wall_time_s"] + parent.get("wall_time_s", 0.0), 1
        )
    return facts


def publish(
    run_dir: str | Path,
    name: str,
    *,
    task: str,
    description: str,
    data: dict,
    licence: str,
    evaluation: list[dict] | None = None,
    saved_models: str | Path | None = "saved_models",
    half_precision: bool = True,
) -> Path:
    """Write preset `name` from the finished run in `run_dir`; returns its folder.

    With `half_precision` the weights file stores its kernels as float16
    (`keras_gen.presets.storage`), and the SavedModel is exported from those
    rounded weights, so both give the same images.
    """
    from keras_gen.inference import load_keras
    from keras_gen.precision import use_float32_compute

    check_name(name)
    run_dir = Path(run_dir)
    # Before the folder is written: a run may continue this very preset.
    facts = _run_facts(run_dir)
    model = load_keras(run_dir, compile=False)
    use_float32_compute(model)
    folder = presets.PRESETS_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    stored = {}
    if half_precision:
        stored = save_half_precision(model, folder / MODEL_FILE)
        model = load_keras(folder / MODEL_FILE, compile=False)
        use_float32_compute(model)
    else:
        model.save(folder / MODEL_FILE)
    sidecar = run_dir / "model.anomaly.json"
    if sidecar.is_file():
        (folder / "model.anomaly.json").write_text(sidecar.read_text())
    record = {
        "name": name,
        "task": task,
        "description": description,
        "data": data,
        "licence": licence,
        **_model_facts(model),
        **facts,
        "sha256": sha256_of(folder / MODEL_FILE),
        "size_bytes": (folder / MODEL_FILE).stat().st_size,
        "weights_dtype": "float16" if half_precision else "float32",
        "weights_arrays": stored,
        "evaluation": evaluation or [],
        "published": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    if saved_models is not None:
        record["saved_model"] = _export(model, saved_models, name, folder)
    atomic_write_text(folder / PRESET_FILE, json.dumps(record, indent=1) + "\n")
    return folder


def _export(model: Any, saved_models: str | Path, name: str, folder: Path) -> dict:
    from keras_gen.anomaly import export_threshold
    from keras_gen.export import export_generator, signature_names

    # The repository's models.config names the container path (see
    # saved_models/README.md); TF Serving's image mounts the folder there.
    export_generator(
        model,
        saved_models,
        name,
        version=1,
        overwrite=True,
        base_path="/models",
        anomaly_threshold=export_threshold(folder / MODEL_FILE),
    )
    return {
        "path": f"saved_models/{name}/1",
        "signatures": list(signature_names(model)),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dir")
    p.add_argument("--name", required=True)
    p.add_argument("--task", required=True)
    p.add_argument("--description", required=True)
    p.add_argument("--data-name", required=True, help="what the model was trained on")
    p.add_argument("--data-split", default="", help="which files (and which held out)")
    p.add_argument("--licence", required=True)
    p.add_argument("--evaluation", action="append", default=[], help="JSON file")
    p.add_argument(
        "--evaluation-command", action="append", default=[], help="one per --evaluation"
    )
    p.add_argument("--saved-models", default="saved_models")
    p.add_argument(
        "--float32-weights",
        action="store_true",
        help="store the weights in float32 (default: kernels as float16, half size)",
    )
    args = p.parse_args(argv)
    if len(args.evaluation) != len(args.evaluation_command):
        p.error("give one --evaluation-command per --evaluation")
    evaluation = [
        evaluation_entry(f, c) for f, c in zip(args.evaluation, args.evaluation_command)
    ]
    folder = publish(
        args.run_dir,
        args.name,
        task=args.task,
        description=args.description,
        data={"name": args.data_name, "split": args.data_split},
        licence=args.licence,
        evaluation=evaluation,
        saved_models=args.saved_models,
        half_precision=not args.float32_weights,
    )
    print(f"wrote {folder} ({(folder / MODEL_FILE).stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
