"""Shared checks for models and layers, after keras-hub's test case.

- :func:`run_model_saving_test`: a `.keras` round trip (save, load with
  `safe_mode`, same class, same config, same outputs of a given call).
- :func:`run_layer_test`: build and call a layer, check the output's shape and
  dtype, and its `get_config` / `from_config` round trip.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np


def as_json(config: Any) -> Any:
    """`config` as a `.keras` file holds it: tuples come back as lists."""
    return json.loads(json.dumps(config))


def _assert_same(actual: Any, expected: Any, atol: float) -> None:
    actual = keras.tree.map_structure(keras.ops.convert_to_numpy, actual)
    expected = keras.tree.map_structure(keras.ops.convert_to_numpy, expected)
    keras.tree.assert_same_structure(actual, expected)
    for a, b in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        if atol:
            np.testing.assert_allclose(a, b, atol=atol)
        else:
            np.testing.assert_array_equal(a, b)


def run_model_saving_test(
    model: keras.Model,
    tmp_path: Path,
    inputs: Any = None,
    call: Callable[[keras.Model, Any], Any] | None = None,
    atol: float = 0.0,
    name: str = "model.keras",
) -> keras.Model:
    """Save `model` to `tmp_path / name`, load it back and compare.

    Checks the loaded model is a new object of the same class with the same
    config (compared as JSON) and, given `inputs`, that `call(model, inputs)`
    (default `model(inputs)`) gives the same outputs: exactly, or within
    `atol`. Returns the loaded model for further checks.
    """
    path = tmp_path / name
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert restored is not model
    assert type(restored) is type(model)
    assert as_json(restored.get_config()) == as_json(model.get_config())
    if inputs is not None:
        call = call or (lambda m, x: m(x))
        _assert_same(call(restored, inputs), call(model, inputs), atol)
    return restored


def run_layer_test(
    layer_cls: type[keras.layers.Layer],
    init_kwargs: dict[str, Any],
    inputs: Any,
    expected_output_shape: tuple[int | None, ...],
    expected_output_dtype: str = "float32",
    call_kwargs: dict[str, Any] | None = None,
) -> keras.layers.Layer:
    """Build `layer_cls(**init_kwargs)`, call it on `inputs` and check it.

    The output has `expected_output_shape` and `expected_output_dtype`; the
    config survives `get_config` / `from_config` (and serialisation), and the
    rebuilt layer with the same weights gives the same output. Returns the
    layer, built.
    """
    call_kwargs = call_kwargs or {}
    layer = layer_cls(**init_kwargs)
    out = layer(inputs, **call_kwargs)
    assert tuple(out.shape) == tuple(expected_output_shape)
    assert keras.backend.standardize_dtype(out.dtype) == expected_output_dtype
    config = layer.get_config()
    for key, value in init_kwargs.items():
        assert as_json(config[key]) == as_json(value), key
    clone = layer_cls.from_config(config)
    assert as_json(clone.get_config()) == as_json(config)
    revived = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(revived) is layer_cls
    assert as_json(revived.get_config()) == as_json(config)
    clone(inputs, **call_kwargs)  # builds
    clone.set_weights(layer.get_weights())
    _assert_same(clone(inputs, **call_kwargs), layer(inputs, **call_kwargs), 0.0)
    return layer
