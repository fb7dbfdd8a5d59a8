"""One `fit` step on 2 replicas equals one step on 1 device (same global batch)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("mirrored_equivalence.py")


def run_equivalence(*args):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


@pytest.mark.parametrize(
    "args",
    [
        ("gan", "ns"),
        ("gan", "hinge"),
        ("gan", "lsgan"),
        ("gan", "wgan-gp"),
        ("gan", "hinge", "--full"),  # + EMA, DiffAugment (p 0.5), R1
        ("gan", "hinge", "--ada"),  # adaptive augmentation probability
        # 3 classes, n_critic 3; and FastGAN networks with the AC-GAN head.
        # With the hinge loss, logits near its kinks at +-1 let float
        # rounding between the runs flip whole examples' gradients (FastGAN:
        # 6e-5 to 1e-3 apart; the conditional critic's 3 updates 5.6e-5 on
        # an AMD EPYC without AVX-512); the smooth loss checks the same
        # networks and reductions.
        ("gan", "ns", "--conditional-critic"),
        ("gan", "ns", "--fastgan-acgan"),
        ("vae",),
        ("series_ae",),  # windows of a 2-channel series
        ("series_vae",),
    ],
    ids="-".join,
)
def test_two_replicas_match_one_device(args):
    result = run_equivalence(*args)
    assert result["replicas"] == 2
    # The step must really move the weights, or equality would be trivial.
    assert result["max_update"] > 1e-3
    assert result["max_weight_diff"] < 1e-5, result
    # Progress-bar metrics are the same numbers, not scaled by the replica count.
    for name, value in result["logs_one"].items():
        assert result["logs_two"][name] == pytest.approx(value, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("kind", ["vae", "series_ae"])
def test_per_replica_mean_is_caught(kind):
    # The bug this guards against: a loss averaged over the local batch gives
    # N times the update on N replicas. The comparison must see it.
    result = run_equivalence(kind, "--local-mean")
    assert result["max_weight_diff"] > 100 * 1e-5
