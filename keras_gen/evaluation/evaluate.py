"""The streaming evaluation driver behind ``keras-gen evaluate``.

Images flow through in batches and are dropped after use: what is kept per
image set is its features' running mean and covariance (FID), the features
themselves (KID and precision/recall: 10,000 x 2048 float32 = 80 MB) and a
bounded reservoir of SWD patch descriptors
(:mod:`keras_gen.evaluation.accumulators`). Real and generated images go
through the same path: uint8 at the model's size -> the extractor's own
resize (the sources, and the ``--data`` specs of the real images, are in
:mod:`keras_gen.evaluation.sources`).

With ``real_vs_real`` the real stream is split into two disjoint halves: the
first ``n`` images are the reference set the model is compared with, the next
``n`` the second half, whose distance to the first is the floor a perfect
model would reach with ``n`` samples.

The result is a JSON-ready dict; :mod:`keras_gen.evaluation.report` prints
it as a table or writes it as JSON. Every name of those modules is also
importable from here.

Example:
    >>> from keras_gen.evaluation.evaluate import evaluate_model
    >>> result = evaluate_model("runs/demo_gan/model.keras", "rooms", num=1000,
    ...                         real_vs_real=True)  # doctest: +SKIP
    >>> print(format_table(result))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

# Besides the driver's own names, everything that lived here before the
# split into sources, accumulators and report stays importable from here.
from keras_gen.evaluation.accumulators import (  # noqa: F401 (re-export)
    _FEATURE_METRICS,
    ALL_METRICS,
    VAE_NOTE,
    FeatureSet,
    VAEStats,
    compare,
    parse_metrics,
)
from keras_gen.evaluation.artifacts import flat_square_sides  # noqa: F401
from keras_gen.evaluation.blas import limit_blas_threads
from keras_gen.evaluation.features import FeatureExtractor, get_feature_extractor
from keras_gen.evaluation.metrics import (  # noqa: F401 (re-export)
    RunningGaussian,
    bits_per_dim,
    frechet_distance,
    kernel_inception_distance,
    precision_recall,
)
from keras_gen.evaluation.report import _fmt, format_table, write_json  # noqa: F401
from keras_gen.evaluation.sources import (  # noqa: F401 (re-export)
    DEFAULT_ROOMS_SEED,
    ImageSource,
    _decode_fn,
    _folder_source,
    _rooms_source,
    array_source,
    generated_source,
    real_source,
    saved_model_source,
)
from keras_gen.evaluation.swd import SWDAccumulator  # noqa: F401 (re-export)

__all__ = [
    "ALL_METRICS",
    "DEFAULT_ROOMS_SEED",
    "FeatureSet",
    "ImageSource",
    "VAEStats",
    "compare",
    "evaluate",
    "evaluate_model",
    "format_table",
    "generated_source",
    "parse_metrics",
    "real_source",
    "write_json",
]


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(
        total=total, desc=desc, unit="img", disable=not enabled, file=sys.stderr
    )


def evaluate(
    real: ImageSource,
    fake: ImageSource | None,
    *,
    num: int,
    metrics: Sequence[str] = ("fid", "kid", "swd", "pr"),
    features: str | FeatureExtractor = "rooms",
    real_vs_real: bool = False,
    vae: Any = None,
    batch_size: int = 100,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    pr_k: int = 3,
    swd_max_descriptors: int = 2**18,
    seed: int = 0,
    progress: bool = False,
    blas_threads: int | None = 1,
) -> dict[str, Any]:
    """Compare generated with real images (and/or real with real), streaming.

    Args:
        real: the real images.
        fake: the generated images, or None for a real-vs-real floor only.
        num: images per set; lowered to what ``real`` has (half of it with
            ``real_vs_real``), so every compared set has the same size.
        metrics: metric groups from :data:`ALL_METRICS`. ``"vae"`` needs
            ``vae``.
        features: extractor or its name (see ``get_feature_extractor``).
        real_vs_real: also compare the first ``n`` real images with the next
            ``n`` (disjoint halves): the floor.
        vae: the VAE for the ``"vae"`` metrics (computed on the first ``n``
            real images).
        batch_size: images per batch for generation, features and SWD.
        kid_subsets, kid_subset_size: KID subsets.
        pr_k: neighbourhood size of precision/recall.
        swd_max_descriptors: SWD reservoir size per level and set.
        seed: seed of the SWD patches, directions and KID subsets.
        progress: show progress bars on stderr.
        blas_threads: OpenBLAS threads for the numpy/scipy parts (see
            `keras_gen.evaluation.blas`; 1 avoids spinning threads on a shared
            CPU); None leaves them alone.

    Returns:
        A JSON-ready dict: ``model`` (metrics vs the generated set, if any),
        ``real_vs_real`` (if asked), ``vae`` (if asked), ``num_images``,
        ``features``, ``timings_s``, ``wall_time_s``, ``notes``.
    """
    with limit_blas_threads(blas_threads):
        return _evaluate(
            real,
            fake,
            num=num,
            metrics=metrics,
            features=features,
            real_vs_real=real_vs_real,
            vae=vae,
            batch_size=batch_size,
            kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size,
            pr_k=pr_k,
            swd_max_descriptors=swd_max_descriptors,
            seed=seed,
            progress=progress,
        )


def _check_request(
    fake: ImageSource | None, metrics: list[str], real_vs_real: bool, vae: Any
) -> None:
    if "vae" in metrics and vae is None:
        raise ValueError("the 'vae' metrics need a VAE model")
    if fake is None and not real_vs_real:
        raise ValueError("nothing to compare: give a model or real_vs_real=True")


def _images_per_set(
    real: ImageSource, fake: ImageSource | None, num: int, halves: int
) -> int:
    """``num``, or fewer if ``real`` has fewer than ``halves * num`` images."""
    n = num
    if real.available is not None and real.available < halves * num:
        n = real.available // halves
        warnings.warn(
            f"{real.description} has {real.available} images: using {n} per set "
            f"instead of {num}",
            RuntimeWarning,
            # Attributed to the caller of `_evaluate`, i.e. `evaluate`.
            stacklevel=3,
        )
    if n < 2:
        raise ValueError(f"need at least 2 images per set, got {n}")
    if fake is not None and fake.image_size != real.image_size:
        raise ValueError(f"image sizes differ: {fake.image_size} vs {real.image_size}")
    return n


def _read_real(
    real: ImageSource,
    n: int,
    halves: int,
    reference: FeatureSet | None,
    second: FeatureSet | None,
    vae_stats: VAEStats | None,
    batch_size: int,
    progress: bool,
) -> float:
    """Feed ``halves * n`` real images to the sets; returns the seconds taken.

    The first ``n`` images go to ``reference`` and ``vae_stats``, the next
    ``n`` to ``second`` (None: not accumulated).
    """
    start = time.perf_counter()
    with _progress(halves * n, "real", progress) as bar:
        seen = 0
        for batch in real.batches(halves * n, batch_size):
            # The first n images form the reference set, the next n the second
            # half: a batch may straddle the boundary.
            cut = max(0, min(len(batch), n - seen))
            if cut:
                if reference is not None:
                    reference.update(batch[:cut])
                if vae_stats is not None:
                    vae_stats.update(batch[:cut])
            if cut < len(batch) and second is not None:
                second.update(batch[cut:])
            seen += len(batch)
            bar.update(len(batch))
    return time.perf_counter() - start


def _read_generated(
    fake: ImageSource, n: int, generated: FeatureSet, batch_size: int, progress: bool
) -> float:
    """Feed ``n`` generated images to ``generated``; returns the seconds taken."""
    start = time.perf_counter()
    with _progress(n, "generated", progress) as bar:
        for batch in fake.batches(n, batch_size):
            generated.update(batch)
            bar.update(len(batch))
    return time.perf_counter() - start


def _compare_to_reference(
    result: dict[str, Any],
    timings: dict[str, float],
    reference: FeatureSet,
    others: Sequence[tuple[str, str, FeatureSet | None]],
    set_metrics: list[str],
    **compare_kwargs: Any,
) -> None:
    """``result[key]``: the metrics of each other set vs the reference set.

    ``others`` holds ``(key, timing prefix, set or None)``; the time of each
    metric group goes to ``timings["<prefix>_<group>"]``.
    """
    for key, prefix, other in others:
        if other is not None:
            values, seconds = compare(reference, other, set_metrics, **compare_kwargs)
            result[key] = values
            timings.update({f"{prefix}_{k}": v for k, v in seconds.items()})


def _notes(
    extractor: FeatureExtractor | None, metrics: list[str], set_metrics: list[str]
) -> list[str]:
    """What a reader of the numbers must know about them."""
    notes = []
    if extractor is not None and not extractor.comparable:
        notes.append(extractor.note)
    if "vae" in metrics:
        notes.append(VAE_NOTE)
    if "swd" in set_metrics:
        notes.append(
            "swd values are sliced Wasserstein distances x 1e3 on Laplacian "
            "pyramid 7x7 patches (Karras et al. 2018), per level and averaged"
        )
    return notes


def _describe(
    result: dict[str, Any],
    timings: dict[str, float],
    reference: FeatureSet,
    second: FeatureSet | None,
    generated: FeatureSet | None,
    set_metrics: list[str],
    extractor: FeatureExtractor | None,
    real: ImageSource,
    fake: ImageSource | None,
) -> None:
    """Add set sizes, features, sources and timings to ``result``."""
    named = (
        ("real", reference),
        ("real_second_half", second),
        ("generated", generated),
    )
    sets = [s for _, s in named if s is not None]
    # What was actually read: a folder can hold files that fail to decode.
    result["set_sizes"] = {
        name: s.count for name, s in named if s is not None and set_metrics
    }
    timings["features"] = sum(s.seconds["features"] for s in sets)
    timings["swd_descriptors"] = sum(s.seconds["swd"] for s in sets)
    if extractor is not None:
        result["features"] = extractor.describe()
    result["real"] = real.description
    if fake is not None:
        result["generated"] = fake.description
    result["image_size"] = real.image_size


def _evaluate(
    real: ImageSource,
    fake: ImageSource | None,
    *,
    num: int,
    metrics: Sequence[str],
    features: str | FeatureExtractor,
    real_vs_real: bool,
    vae: Any,
    batch_size: int,
    kid_subsets: int,
    kid_subset_size: int,
    pr_k: int,
    swd_max_descriptors: int,
    seed: int,
    progress: bool,
) -> dict[str, Any]:
    start_all = time.perf_counter()
    metrics = parse_metrics(metrics)
    _check_request(fake, metrics, real_vs_real, vae)
    set_metrics = [m for m in metrics if m != "vae"]
    extractor = (
        get_feature_extractor(features) if set(set_metrics) & _FEATURE_METRICS else None
    )
    halves = 2 if real_vs_real else 1
    n = _images_per_set(real, fake, num, halves)

    new_set = functools.partial(
        FeatureSet,
        extractor,
        real.image_size,
        set_metrics,
        swd_max_descriptors=swd_max_descriptors,
        feature_batch_size=min(batch_size, 64),
    )
    reference = new_set(seed=seed)
    second = new_set(seed=seed + 2) if real_vs_real else None
    vae_stats = VAEStats(vae, seed=seed) if "vae" in metrics else None
    feed = (reference, second) if set_metrics else (None, None)
    seconds = _read_real(real, n, halves, *feed, vae_stats, batch_size, progress)
    timings = {"real_images": seconds}
    result: dict[str, Any] = {"num_images": n, "metrics": metrics}
    generated = None
    if fake is not None and set_metrics:
        generated = new_set(seed=seed + 1)
        timings["generated_images"] = _read_generated(
            fake, n, generated, batch_size, progress
        )
    compare_kwargs = dict(
        kid_subsets=kid_subsets, kid_subset_size=kid_subset_size, pr_k=pr_k, seed=seed
    )
    others = (("model", "model", generated), ("real_vs_real", "floor", second))
    others = others if set_metrics else ()
    _compare_to_reference(
        result, timings, reference, others, set_metrics, **compare_kwargs
    )
    if vae_stats is not None:
        result["vae"] = vae_stats.result()

    sets = (reference, second, generated)
    _describe(result, timings, *sets, set_metrics, extractor, real, fake)
    result["notes"] = _notes(extractor, metrics, set_metrics)
    result["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    result["wall_time_s"] = round(time.perf_counter() - start_all, 3)
    return result


def evaluate_model(
    model: Any,
    data: str,
    *,
    num: int = 10_000,
    metrics: str | Sequence[str] | None = None,
    real_vs_real: bool = False,
    image_size: int | None = None,
    latent_seed: int = 0,
    use_ema: bool = True,
    **kwargs: Any,
) -> dict[str, Any]:
    """Evaluate a keras-gen model (object or ``.keras`` path) against ``data``.

    Args:
        model: a ``GAN``/``VAE``, the path of its ``.keras`` file, or None for
            a real-vs-real floor only (then ``image_size`` is required).
        data: a ``--data`` spec (see :func:`real_source`).
        num: images per set.
        metrics: metric groups; default ``fid,kid,swd,pr`` plus ``vae`` for
            a VAE.
        real_vs_real: also report the floor between two halves of ``data``.
        image_size: image side when there is no model.
        latent_seed: image i of the model decodes the latent of seed
            ``latent_seed + i``.
        use_ema: evaluate a GAN's EMA generator when it has one (False: the
            trained generator itself; the EMA is a passive copy, so this is
            the model the same run would give without EMA).
        **kwargs: passed to :func:`evaluate`.

    Returns:
        The result dict of :func:`evaluate`, plus ``model_path`` and timing.
    """
    path = fake = None
    if isinstance(model, str | os.PathLike):
        from keras_gen.inference import load_generator, resolve_model_path

        path = resolve_model_path(model)
        if path.suffix == ".keras":
            model = load_generator(path, compile=False)
        else:
            fake, model = saved_model_source(path, seed=latent_seed), None
    is_vae = (
        model is not None and hasattr(model, "encode") and hasattr(model, "decoder")
    )
    if metrics is None:
        metrics = ["fid", "kid", "swd", "pr", "flat"] + (["vae"] if is_vae else [])
    metrics = parse_metrics(metrics)
    if "vae" in metrics and not is_vae:
        raise ValueError("the 'vae' metrics need a VAE model")
    if not use_ema and getattr(model, "ema_generator", None) is not None:
        model.ema_generator = None
    if model is not None:
        fake = generated_source(model, seed=latent_seed)
    if fake is None and image_size is None:
        raise ValueError("without a model, give the image size (--image-size)")
    size = fake.image_size if fake is not None else int(image_size)
    real = real_source(data, size)
    result = evaluate(
        real,
        fake,
        num=num,
        metrics=metrics,
        real_vs_real=real_vs_real,
        vae=model if "vae" in metrics else None,
        **kwargs,
    )
    result["model_path"] = str(path) if path else None
    result["data"] = data
    return result
