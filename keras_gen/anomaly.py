"""Anomaly detection with a trained VAE: scores, threshold calibration, ROC.

A VAE trained on normal images only (e.g. bedrooms) explains them better than
anything else, so a high score flags an anomaly. Scores, per image:

- `nelbo`: negative ELBO in nats (reconstruction NLL of the posterior mean's
  decoding + KL), the score the exported `anomaly_score` signature computes;
- `pixel`: mean squared error between the image and its reconstruction;
- `feature`: mean squared distance between the image's and the
  reconstruction's features from the fixed random conv net
  (`keras_gen.evaluation.features.RandomConvFeatures`, no download): layout
  and texture errors rather than pixel misalignment;
- `complexity`: negative ELBO in bits/dim minus the image's PNG size in
  bits/dim (Serra et al., ICLR 2020). Likelihood models give simple images
  (plain walls, white bathrooms) a high likelihood whatever they were
  trained on; subtracting a generic compressor's code length removes that
  bias and keeps what is specific to the training data.

`fit_threshold` sets the threshold at the (1 - fpr) quantile of scores of
held-out NORMAL images, so that a fraction `fpr` of normal images is flagged.
`keras-gen anomaly fit` stores it in a sidecar JSON beside the `.keras` file
(`<model>.anomaly.json`), which `keras-gen anomaly score` and `keras-gen
export` read (the export's `anomaly_score` signature then returns
`is_anomaly`).

`fit_folder` and `score_folder` are those two commands as library calls: they
do the work (sidecar, CSV, plots) and return what the command prints.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SCORES = ("nelbo", "pixel", "feature", "complexity")


def sidecar_path(model_path: str | Path) -> Path:
    """`runs/x/model.keras` -> `runs/x/model.anomaly.json`."""
    path = Path(model_path)
    return path.with_name(path.stem + ".anomaly.json")


def load_model(path: str | Path) -> Any:
    """A trained VAE from a run folder or `.keras` file."""
    from keras_gen.inference import describe, load_keras

    model = load_keras(path)
    if not hasattr(model, "negative_elbo"):
        raise ValueError(f"{path} holds {describe(model)}; a VAE is needed")
    return model


def model_image_size(model: Any) -> int:
    return int(model.encoder.inputs[0].shape[1])


def compute_scores(
    model: Any,
    images: np.ndarray,
    kinds: tuple[str, ...] | list[str] = SCORES,
    batch_size: int = 128,
) -> dict[str, np.ndarray]:
    """Anomaly scores of float images `[N, S, S, 3]` in [0, 1] (S: model size).

    Returns:
        `{kind: float64 [N]}` for every requested kind (higher: more anomalous).
    """
    unknown = [k for k in kinds if k not in SCORES]
    if unknown:
        raise ValueError(f"unknown score {unknown[0]!r}; allowed: {', '.join(SCORES)}")
    images = np.asarray(images, dtype=np.float32)
    size = model_image_size(model)
    if images.ndim != 4 or images.shape[1:3] != (size, size):
        raise ValueError(
            f"expected images [N, {size}, {size}, C] for this model, got {images.shape}"
        )
    out: dict[str, list[np.ndarray]] = {k: [] for k in kinds}
    features = None
    if "feature" in kinds:
        from keras_gen.evaluation.features import RandomConvFeatures

        features = RandomConvFeatures(input_size=max(size, 32))
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size]
        if "nelbo" in kinds or "complexity" in kinds:
            nelbo = np.asarray(model.negative_elbo(x), np.float64)
        if "nelbo" in kinds:
            out["nelbo"].append(nelbo)
        if "complexity" in kinds:
            dims = np.prod(x.shape[1:])
            bits = nelbo / (dims * np.log(2.0))
            out["complexity"].append(bits - png_bits_per_dim(_to_uint8(x)))
        if "pixel" in kinds or "feature" in kinds:
            recon = np.asarray(model.reconstruct(x), np.float32)
        if "pixel" in kinds:
            out["pixel"].append(np.mean((recon - x) ** 2, axis=(1, 2, 3)))
        if features is not None:
            fx = features(_to_uint8(x))
            fr = features(_to_uint8(recon))
            out["feature"].append(np.mean((fx - fr) ** 2, axis=1).astype(np.float64))
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def png_bits_per_dim(images: np.ndarray) -> np.ndarray:
    """Lossless PNG code length of each uint8 image, in bits per dimension."""
    import io

    from PIL import Image

    out = np.empty(len(images), np.float64)
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", optimize=True)
        out[i] = 8.0 * buffer.tell() / image.size
    return out


def _to_uint8(images: np.ndarray) -> np.ndarray:
    return np.clip(np.round(images * 255.0), 0, 255).astype(np.uint8)


def fit_threshold(normal_scores: np.ndarray, fpr: float) -> float:
    """Threshold flagging a fraction `fpr` of `normal_scores` (score > threshold).

    An observed score, so that at most a fraction `fpr` of the calibration
    scores lies above it (exactly `floor(fpr * N)` when they are distinct).
    """
    scores = np.asarray(normal_scores, dtype=np.float64)
    if not 0.0 < fpr < 1.0:
        raise ValueError(f"--fpr must be in (0, 1), got {fpr}")
    if scores.ndim != 1 or len(scores) < 2:
        raise ValueError(f"need at least 2 calibration scores, got {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("calibration scores contain NaN or inf")
    # The k-th largest score with k = floor(fpr * N): exactly k scores lie
    # strictly above it when they are distinct (fewer with ties).
    k = int(np.floor(fpr * len(scores) + 1e-9))
    return float(np.sort(scores)[len(scores) - k - 1])


def _labelled(normal: np.ndarray, anomalous: np.ndarray):
    normal = np.asarray(normal, np.float64).ravel()
    anomalous = np.asarray(anomalous, np.float64).ravel()
    labels = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
    return labels, np.r_[normal, anomalous]


def roc_curve(
    normal: np.ndarray, anomalous: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rates, true-positive rates) over every threshold.

    Positives are the anomalies (scikit-learn's `roc_curve`, every
    threshold kept). Starts at (0, 0) and ends at (1, 1).
    """
    from sklearn.metrics import roc_curve as sk_roc_curve

    fpr, tpr, _ = sk_roc_curve(*_labelled(normal, anomalous), drop_intermediate=False)
    return fpr, tpr


def roc_auc(normal: np.ndarray, anomalous: np.ndarray) -> float:
    """Area under the ROC curve = P(anomaly score > normal score), ties count 1/2."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(*_labelled(normal, anomalous)))


def tpr_at_fpr(normal: np.ndarray, anomalous: np.ndarray, fpr: float = 0.05) -> float:
    """True-positive rate at the threshold that flags a fraction `fpr` of normals."""
    threshold = fit_threshold(normal, fpr)
    return float(np.mean(np.asarray(anomalous) > threshold))


def write_sidecar(
    model_path: str | Path,
    score: str,
    threshold: float,
    fpr: float,
    calibration: dict[str, Any],
) -> Path:
    """Store the threshold beside the model (read by `score` and `export`)."""
    path = sidecar_path(model_path)
    record = {
        "score": score,
        "threshold": threshold,
        "fpr": fpr,
        "calibration": calibration,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def read_sidecar(model_path: str | Path) -> dict[str, Any] | None:
    path = sidecar_path(model_path)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        float(record["threshold"])
        if record["score"] not in SCORES:
            raise KeyError("score")
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"{path}: not a valid anomaly threshold file ({err}); rerun "
            "`keras-gen anomaly fit`"
        ) from None
    return record


def export_threshold(model_path: str | Path) -> float | None:
    """The threshold of `model_path`'s sidecar that a SavedModel can serve.

    The exported `anomaly_score` signature computes the negative ELBO, so
    only a `nelbo` threshold goes into it (`keras-gen export` and preset
    publishing both use this).
    """
    from keras_gen.utils.console import log

    path = Path(model_path)
    record = read_sidecar(path) if path.suffix == ".keras" else None
    if record is None:
        return None
    if record["score"] != "nelbo":
        log.warning(
            f"{sidecar_path(path)}: threshold is for score "
            f"{record['score']!r}, the export scores 'nelbo'; not exported"
        )
        return None
    log.info(
        f"anomaly threshold {record['threshold']:.6g} "
        f"(fpr {record['fpr']}) from {sidecar_path(path)}"
    )
    return float(record["threshold"])


def load_images(files: list[Path], size: int) -> np.ndarray:
    """float32 `[N, size, size, 3]` in [0, 1]: centre-cropped square, resized."""
    from PIL import Image

    out = np.empty((len(files), size, size, 3), np.float32)
    for i, path in enumerate(files):
        with Image.open(path) as img:
            img = img.convert("RGB")
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side))
            if side != size:
                img = img.resize((size, size), Image.Resampling.BICUBIC)
            out[i] = np.asarray(img, np.float32) / 255.0
    return out


def plot_histogram(
    groups: dict[str, np.ndarray], path: Path, threshold: float | None, xlabel: str
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    every = np.concatenate(list(groups.values()))
    bins = np.linspace(np.min(every), np.percentile(every, 99.5), 50)
    for name, scores in groups.items():
        ax.hist(scores, bins=bins, alpha=0.45, density=True, label=name)
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", label="threshold")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_roc(
    normal: np.ndarray, anomalous: dict[str, np.ndarray], path: Path, title: str = ""
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, scores in anomalous.items():
        fpr, tpr = roc_curve(normal, scores)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc(normal, scores):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def folder_groups(files: list[Path], root: str | Path) -> list[str]:
    """The first sub-folder of every file under `root` ("" for files at the top)."""
    root = Path(root)
    if root.is_file():
        return [""]
    return [
        p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else ""
        for p in files
    ]


@dataclass
class FitResult:
    """What `fit_folder` calibrated and where it stored it."""

    score: str
    threshold: float
    fpr: float
    achieved_fpr: float
    images: int
    sidecar: Path


def fit_folder(
    model: str | Path, data: str | Path, score: str = "nelbo", fpr: float = 0.05
) -> FitResult:
    """Calibrate a threshold on the NORMAL images of `data` and store it.

    Args:
        model: run folder or `.keras` VAE; the sidecar JSON is written beside it.
        data: a folder of held-out normal images (or one image).
        score: the score to threshold (one of `SCORES`).
        fpr: fraction of the normal images to flag.
    """
    from keras_gen import presets
    from keras_gen.data.images import list_images
    from keras_gen.inference import resolve_model_path

    if presets.preset_name(model) is not None:
        raise ValueError(
            f"{model}: a preset's threshold is part of the preset; to calibrate "
            "your own, copy its .keras file (keras_gen.presets.model_path) and fit that"
        )
    vae = load_model(model)
    files = list_images(data)
    images = load_images(files, model_image_size(vae))
    scores = compute_scores(vae, images, [score])[score]
    threshold = fit_threshold(scores, fpr)
    achieved = float(np.mean(scores > threshold))
    path = write_sidecar(
        resolve_model_path(model),
        score,
        threshold,
        fpr,
        {"data": str(data), "images": len(files), "achieved_fpr": achieved},
    )
    return FitResult(score, threshold, fpr, achieved, len(files), path)


@dataclass
class ScoreResult:
    """What `score_folder` wrote, and the figures `keras-gen anomaly score` prints.

    `groups` maps every group ("(top)" for images directly in DATA) to its
    scores of kind `score`; `flagged` its fraction above `threshold` (empty
    without a calibrated threshold for that score); `roc` every group but
    `normal` to `(ROC-AUC, TPR at 5% FPR)` against the `normal` group.
    """

    csv: Path
    count: int
    score: str
    threshold: float | None
    histogram: Path
    groups: dict[str, np.ndarray]
    flagged: dict[str, float] = field(default_factory=dict)
    normal: str | None = None
    roc: dict[str, tuple[float, float]] = field(default_factory=dict)
    roc_plot: Path | None = None

    def report(self) -> dict:
        """The figures as JSON-ready values, one entry per group."""
        groups = {}
        for group, scores in self.groups.items():
            row: dict = {"images": len(scores)}
            if group in self.flagged:
                row["flagged_fraction"] = self.flagged[group]
            if group in self.roc:
                row["roc_auc"], row["tpr_at_5pct_fpr"] = self.roc[group]
            groups[group] = row
        return {
            "score": self.score,
            "threshold": self.threshold,
            "normal": self.normal,
            "groups": groups,
        }


def score_folder(
    model: str | Path,
    data: str | Path,
    kinds: list[str] | tuple[str, ...],
    out: str | Path,
    normal: str | None = None,
) -> ScoreResult:
    """Score the images of `data`, write the CSV `out` and plots beside it.

    Sub-folders of `data` are groups. A threshold stored by `fit_folder` for
    one of `kinds` adds an `is_anomaly` column and the flagged fractions; the
    histogram is of that score (else of `kinds[0]`). With `normal` (a
    sub-folder of `data`), every other group is compared with it: ROC-AUC,
    TPR at 5% FPR, and a ROC plot.

    Raises:
        ValueError: `normal` is not a sub-folder, or the only one.
    """
    from keras_gen.data.images import list_images
    from keras_gen.inference import resolve_model_path

    vae = load_model(model)
    record = read_sidecar(resolve_model_path(model))
    files = list_images(data)
    groups = folder_groups(files, data)
    _check_normal(normal, sorted(set(groups)), data)
    scores = compute_scores(vae, load_images(files, model_image_size(vae)), kinds)
    key = record["score"] if record and record["score"] in scores else kinds[0]
    threshold = record["threshold"] if record and key == record["score"] else None
    out = Path(out)
    flagged = scores[key] > threshold if threshold is not None else None
    _write_scores_csv(out, files, groups, scores, kinds, flagged)
    by_group = {
        g or "(top)": scores[key][[x == g for x in groups]] for g in sorted(set(groups))
    }
    result = ScoreResult(
        csv=out,
        count=len(files),
        score=key,
        threshold=threshold,
        histogram=plot_histogram(
            by_group, out.with_suffix(".hist.png"), threshold, f"score: {key}"
        ),
        groups=by_group,
        normal=normal,
    )
    if threshold is not None:
        result.flagged = {g: float(np.mean(v > threshold)) for g, v in by_group.items()}
    if normal:
        _compare_with_normal(result, out.with_suffix(".roc.png"))
    return result


def _check_normal(normal: str | None, names: list[str], data: str | Path) -> None:
    if not normal:
        return
    if normal not in names:
        raise ValueError(
            f"--normal {normal!r} is not a sub-folder of {data}; "
            f"found: {', '.join(n or '(top)' for n in names)}"
        )
    if len(names) < 2:
        raise ValueError(f"{data}: no sub-folder besides {normal!r}")


def _write_scores_csv(
    out: Path,
    files: list[Path],
    groups: list[str],
    scores: dict[str, np.ndarray],
    kinds: list[str] | tuple[str, ...],
    flagged: np.ndarray | None,
) -> None:
    """One row per image: path, group, every score (and is_anomaly)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["path", "group", *kinds, *(["is_anomaly"] if flagged is not None else [])]
        )
        for i, path in enumerate(files):
            row = [str(path), groups[i], *(f"{scores[k][i]:.6g}" for k in kinds)]
            if flagged is not None:
                row.append(int(flagged[i]))
            writer.writerow(row)


def _compare_with_normal(result: ScoreResult, path: Path) -> None:
    """ROC figures and plot of every group of `result` against `result.normal`."""
    normal = result.groups[result.normal]
    others = {g: v for g, v in result.groups.items() if g != result.normal}
    result.roc_plot = plot_roc(normal, others, path, f"score: {result.score}")
    result.roc = {
        g: (roc_auc(normal, v), tpr_at_fpr(normal, v, 0.05)) for g, v in others.items()
    }
