"""Numeric precision: what `train.precision` stands for on this machine, and
running a model trained in bfloat16 where bfloat16 is not native.

Mixed precision is a training-time choice: the variables stay float32 and only
the computation is bfloat16 (or float16). A model trained so keeps its
layers' mixed policies in its `.keras` file, and a CPU without bfloat16
instructions runs it slowly or not at all (TF 2.21's oneDNN convolutions in
bfloat16 were 1.5-1.9x slower than float32 with AVX-512 but no AVX512-BF16, and
failed to create a primitive with AVX2 only; README, Performance). Hence:

- `resolve_precision("auto")` picks bfloat16 only where the CPU has it;
- `load_model` switches a bfloat16 model to float32 computation on a machine
  without it (the weights are float32 anyway);
- the SavedModel export computes in float32 (`float32_compute`), so a model
  trained here serves on any CPU or GPU.
"""

from __future__ import annotations

import contextlib
import logging
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from keras_gen.config import Precision

log = logging.getLogger("keras_gen")

BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
PRECISIONS: tuple[str, ...] = typing.get_args(Precision)


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU feature flags Linux reports (empty where there is no cpuinfo)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def has_gpu() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def native_bfloat16_cpu(flags: set[str] | None = None) -> bool:
    """Whether the CPU computes bfloat16 in hardware (AVX512-BF16 or AMX)."""
    flags = cpu_flags() if flags is None else flags
    return bool(flags & set(BF16_CPU_FLAGS))


def resolve_precision(name: str, flags: set[str] | None = None) -> str:
    """The dtype policy `train.precision` stands for.

    "auto" is mixed_bfloat16 on a machine that trains on its CPU (no GPU
    visible) when the CPU has native bfloat16 instructions (AVX512-BF16 or
    AMX): there it trained the DCGAN and the VAE 1.3x faster than float32
    at the same quality (README, Performance). Anywhere else it is float32:
    on GPUs pick mixed_float16 or mixed_bfloat16 yourself, and a CPU without
    those instructions emulates bfloat16 slowly.
    """
    if name not in PRECISIONS:
        raise ValueError(f"unknown precision {name!r}; expected one of {PRECISIONS}")
    if name != "auto":
        return name
    if has_gpu():
        return "float32"
    return "mixed_bfloat16" if native_bfloat16_cpu(flags) else "float32"


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Temporarily set Keras' global dtype policy (e.g. "mixed_bfloat16")."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _layers(layer: Any) -> Iterator[Any]:
    """`layer` and every layer inside it: sub-models, wrapped layers."""
    yield layer
    children = list(getattr(layer, "layers", None) or [])
    wrapped = getattr(layer, "layer", None)
    if isinstance(wrapped, keras.layers.Layer):
        children.append(wrapped)
    for child in children:
        yield from _layers(child)


def _mixed_layers(model: Any) -> list[Any]:
    seen: set[int] = set()
    mixed = []
    for layer in _layers(model):
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        policy = layer.dtype_policy
        if policy.compute_dtype != policy.variable_dtype:
            mixed.append(layer)
    return mixed


def _compute_in_variable_dtype(layers: list[Any]) -> None:
    for layer in layers:
        layer.dtype_policy = layer.dtype_policy.variable_dtype


def use_float32_compute(model: Any) -> None:
    """Switch `model`'s mixed-precision layers to float32 for good (weights unchanged).

    Presets are published this way: the same images on every machine,
    whether its CPU has bfloat16 instructions or not.
    """
    _compute_in_variable_dtype(_mixed_layers(model))


def compute_dtypes(model: Any) -> set[str]:
    """The compute dtypes of `model`'s mixed-precision layers (empty if none)."""
    return {layer.compute_dtype for layer in _mixed_layers(model)}


@contextlib.contextmanager
def float32_compute(*models: Any) -> Iterator[None]:
    """Run `models`' mixed-precision layers in their variables' dtype for a while.

    Their variables are float32 already, so nothing is converted: only the
    layers' policies change, and are restored on exit. Functions traced
    inside (an export's signatures) keep float32 computation.
    """
    layers = [layer for m in models for layer in _mixed_layers(m)]
    policies = [layer.dtype_policy for layer in layers]
    _compute_in_variable_dtype(layers)
    try:
        yield
    finally:
        for layer, policy in zip(layers, policies):
            layer.dtype_policy = policy


def load_model(
    path: str | Path, compile: bool = True, flags: set[str] | None = None
) -> Any:
    """`keras.saving.load_model`, switched to float32 computation where needed.

    A model trained in bfloat16 (e.g. `train.precision: auto` on a CPU with
    AVX512-BF16) computes in float32 on a machine whose CPU lacks bfloat16
    instructions and that has no GPU: same weights, float32 arithmetic.
    """
    # Registers keras_gen's classes with Keras' deserializer.
    import keras_gen.models  # noqa: F401

    model = keras.saving.load_model(path, compile=compile)
    if "bfloat16" in compute_dtypes(model) and not (
        has_gpu() or native_bfloat16_cpu(flags)
    ):
        layers = _mixed_layers(model)
        _compute_in_variable_dtype(layers)
        log.info(
            "%s was trained in bfloat16; this CPU has no bfloat16 instructions, "
            "so its %d mixed-precision layers compute in float32",
            path,
            len(layers),
        )
    return model
