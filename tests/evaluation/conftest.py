"""Shared fixtures: a small set of procedural rooms."""

import pytest

from keras_gen.data.rooms import render_rooms
from keras_gen.evaluation.blas import limit_blas_threads


@pytest.fixture(scope="session")
def rooms32():
    """96 procedural rooms at 32x32 (uint8), rendered once per test session."""
    images, _ = render_rooms(96, size=32, seed=3, workers=1)
    return images


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Tests call numpy/scipy directly too: keep OpenBLAS from spinning."""
    with limit_blas_threads(1):
        yield
