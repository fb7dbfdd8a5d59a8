"""Errors the command line turns into exit codes; no TensorFlow import here.

The CLI catches them before TensorFlow is loaded, so that a config typo is
answered in a fraction of a second.
"""

from __future__ import annotations


class NonFiniteLossError(RuntimeError):
    """A training metric became NaN or infinite."""

    def __init__(self, metric: str, value: float, step: int, epoch: int):
        self.metric, self.value, self.step, self.epoch = metric, value, step, epoch
        super().__init__(
            f"'{metric}' became {value} at step {step} (epoch {epoch + 1}); "
            "training stopped before saving the diverged weights"
        )
