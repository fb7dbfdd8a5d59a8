"""keras_gen.models.gan.layers: shapes, dtypes and config round trips
(what each layer computes: tests/models/gan/test_conditional.py)."""

import numpy as np
import pytest

from keras_gen.models.gan.layers import (
    ClassProjection,
    ConditionalBatchNormalization,
    GlobalSumPooling2D,
)
from tests.helpers import run_layer_test

RNG = np.random.default_rng(0)
LABELS = np.array([0, 2, 1, 2])


@pytest.mark.parametrize("training", [False, True])
def test_conditional_batch_norm(training):
    x = RNG.normal(size=(4, 3, 3, 5)).astype("float32")
    run_layer_test(
        ConditionalBatchNormalization,
        {"num_classes": 3, "momentum": 0.8, "epsilon": 1e-3},
        [x, LABELS],
        expected_output_shape=(4, 3, 3, 5),
        call_kwargs={"training": training},
    )


@pytest.mark.parametrize("spectral_norm", [False, True])
def test_class_projection(spectral_norm):
    features = RNG.normal(size=(4, 6)).astype("float32")
    run_layer_test(
        ClassProjection,
        {"num_classes": 3, "spectral_norm": spectral_norm},
        [features, LABELS],
        expected_output_shape=(4, 1),
        call_kwargs={"training": True},
    )


def test_global_sum_pooling():
    x = RNG.normal(size=(2, 4, 4, 3)).astype("float32")
    layer = run_layer_test(GlobalSumPooling2D, {}, x, expected_output_shape=(2, 3))
    np.testing.assert_allclose(layer(x), x.sum(axis=(1, 2)), rtol=1e-5)
