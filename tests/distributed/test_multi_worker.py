"""Two MultiWorkerMirroredStrategy workers on 127.0.0.1 train like one process."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).parents[2]
SCRIPT = Path(__file__).with_name("train_worker.py")
CONFIG = ROOT / "training" / "configs" / "smoke_gan.yaml"
COMMON = [
    "train.epochs=2",
    # One step an epoch: GAN training amplifies round-off, and how much
    # depends on the CPU's kernels. Against one process, the largest weight
    # gap on an AMD EPYC without AVX-512 was 1.5e-7 after 1 step, 5.8e-6
    # after 2 and 8.5e-3 after 6 (1e-4 is the bound; a reduction error, such
    # as summing instead of averaging over the workers, shows at step 1).
    "train.steps_per_epoch=1",
    "train.deterministic=true",
    "output.tensorboard=false",
    "output.verbose=0",
    # SGD: the update is linear in the gradient; Adam's first steps are
    # ~lr * sign(gradient) and would blow round-off up to lr-sized gaps.
    "train.optimizer.name=sgd",
    "train.optimizer.learning_rate=0.05",
    # A fixed data order: this test is about the distributed step, and the
    # order of a shuffled tf.data stream depends on how many iterators Keras
    # creates (it peeks one under a strategy).
    "data.shuffle=false",
    # float32: the comparison is of the reductions, to 1e-4. In bfloat16
    # (the default on CPUs that have it) batches of 8 and 16 round
    # differently and 6 GAN steps at this learning rate drift 0.1 apart.
    "train.precision=float32",
]


def free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def base_env():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    return env


def load(path):
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


def test_two_workers_match_each_other_and_one_process(tmp_path):
    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = base_env()
        env["TF_CONFIG"] = json.dumps(
            {"cluster": cluster, "task": {"type": "worker", "index": index}}
        )
        work = tmp_path / f"worker{index}"
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    str(SCRIPT),
                    str(CONFIG),
                    str(work),
                    str(tmp_path / f"w{index}.npz"),
                    "train.distribute=multi_worker",
                    f"output.export_dir={work / 'saved_models'}",
                    *COMMON,
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-4000:]
        assert "DONE steps=2" in out
    single = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            str(CONFIG),
            str(tmp_path / "single"),
            str(tmp_path / "s.npz"),
            "train.distribute=none",
            "output.export_dir=null",
            *COMMON,
        ],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr[-4000:]

    w0, w1, ws = (
        load(tmp_path / "w0.npz"),
        load(tmp_path / "w1.npz"),
        load(tmp_path / "s.npz"),
    )
    # The workers hold the same mirrored weights, bit for bit.
    for a, b in zip(w0, w1):
        np.testing.assert_array_equal(a, b)
    # Two workers with batch 8 each train like one process with batch 16
    # (the same examples, the same noise); the only differences are float
    # summation orders in the all-reduce and the synchronized batch norm.
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(w0, ws))
    assert diff < 1e-4, diff
    print(f"MAX_DIFF_VS_SINGLE {diff:.3g}")

    # Only the chief (worker 0) writes samples, metrics, the model and the export.
    chief, other = tmp_path / "worker0", tmp_path / "worker1"
    assert (chief / "samples" / "samples_epoch_002.png").is_file()
    assert (chief / "metrics.csv").is_file() and (chief / "model.keras").is_file()
    assert (chief / "saved_models" / "smoke_gan" / "1" / "saved_model.pb").is_file()
    written = sorted(str(p.relative_to(other)) for p in other.rglob("*") if p.is_file())
    assert written == [], written
