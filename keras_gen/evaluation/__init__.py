"""Evaluation of generative models: FID, KID, SWD, precision/recall, VAE metrics.

- `features`: pluggable feature extractors (InceptionV3 from a weights file,
  any Keras model and layer, a fixed random conv net needing no weights).
- `metrics`: pure numpy functions (Fréchet distance, KID, precision/recall).
- `swd`: sliced Wasserstein distance on Laplacian-pyramid patches.
- `evaluate`: the streaming driver behind `keras-gen evaluate`.
- `callback`: `MetricsCallback`, the metrics during `fit`.

Example:
>>> from keras_gen.evaluation import evaluate_model, format_table
>>> result = evaluate_model("runs/demo_gan/model.keras", "rooms", num=1000,
...                         real_vs_real=True)  # doctest: +SKIP
>>> print(format_table(result))  # doctest: +SKIP
"""

from keras_gen.evaluation.callback import MetricsCallback
from keras_gen.evaluation.evaluate import (
    ALL_METRICS,
    evaluate,
    evaluate_model,
    format_table,
    generated_source,
    real_source,
    write_json,
)
from keras_gen.evaluation.features import (
    FeatureExtractor,
    InceptionFeatures,
    KerasModelFeatures,
    RandomConvFeatures,
    get_feature_extractor,
)
from keras_gen.evaluation.metrics import (
    RunningGaussian,
    frechet_distance,
    kernel_inception_distance,
    mmd2_unbiased,
    precision_recall,
)
from keras_gen.evaluation.swd import SWDAccumulator, sliced_wasserstein_distance

__all__ = [
    "ALL_METRICS",
    "FeatureExtractor",
    "InceptionFeatures",
    "KerasModelFeatures",
    "MetricsCallback",
    "RandomConvFeatures",
    "RunningGaussian",
    "SWDAccumulator",
    "evaluate",
    "evaluate_model",
    "format_table",
    "frechet_distance",
    "generated_source",
    "get_feature_extractor",
    "kernel_inception_distance",
    "mmd2_unbiased",
    "precision_recall",
    "real_source",
    "sliced_wasserstein_distance",
    "write_json",
]
