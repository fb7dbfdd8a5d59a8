"""Train-step throughput of keras-gen against PyTorch, side by side in one run.

DCGAN-64 (width 64, latent 100, Adam 2e-4 beta_1 0.5, non-saturating loss)
and VAE-64 (bedroom_vae.yaml: width 64, latent 128, Gaussian likelihood,
Adam 1e-3 beta_1 0.9), batch 64. The Keras steps run through `model.fit` on
an in-memory batch repeated by tf.data; the PyTorch steps are the same
networks and updates (`torch_reference.py`). Each keras-gen precision
(float32, mixed_bfloat16; mixed_float16 with `--device gpu`) is compared with
the fastest PyTorch variant of the same precision (NCHW or channels_last,
eager or torch.compile, autocast for the mixed one). Every variant gets the
same number of threads in its own process, and their repetitions alternate
so that all are measured under the same machine load.

    python benchmarks/train_throughput.py --parts main,peak  # the fair table
    python benchmarks/train_throughput.py --quick            # eager PyTorch only
    python benchmarks/train_throughput.py --parts ablation   # keras-gen's speed-up off
    python benchmarks/train_throughput.py  # + scaling, profile, memory, sampling

TF-side options (`--precision` of the profile/primitives/memory/sampling
parts, `--jit`, `--steps-per-execution`, `--inter-op`) are for the speed
experiments;
TF_ENABLE_ONEDNN_OPTS=0 in the environment switches oneDNN off. Results go to
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import flops  # noqa: E402

from keras_gen.config import config_from_dict  # noqa: E402
from keras_gen.trainer import build_model, compile_model  # noqa: E402

RESULTS = HERE / "results"

RECIPES: dict[str, dict[str, Any]] = {
    "gan": {
        "width": 64,
        "latent_dim": 100,
        "learning_rate": 2e-4,
        "beta_1": 0.5,
        "model": {"loss": "ns"},
    },
    "vae": {
        "width": 64,
        "latent_dim": 128,
        "learning_rate": 1e-3,
        "beta_1": 0.9,
        "model": {"likelihood": "gaussian", "gaussian_sigma": 0.1},
    },
}
NAMES = {"gan": "DCGAN", "vae": "VAE"}


# ------------------------------------------------------------------ context
def machine_state() -> dict[str, Any]:
    """Date and load average, recorded with every result."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pin_threads(threads: int, inter_op: int) -> None:
    # Must run before TF's runtime starts and before torch's first parallel op.
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(inter_op)


def torch_version() -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip() or "not installed"


# ------------------------------------------------------------------- models
def keras_model(kind: str, size: int, batch: int, opts: argparse.Namespace):
    r = RECIPES[kind]
    cfg = config_from_dict(
        {
            "model": {
                "type": kind,
                "image_size": size,
                "width": r["width"],
                "latent_dim": r["latent_dim"],
                **r["model"],
            },
            "train": {
                "batch_size": batch,
                "precision": opts.precision,
                "jit_compile": opts.jit,
                "steps_per_execution": opts.steps_per_execution,
                "optimizer": {
                    "learning_rate": r["learning_rate"],
                    "beta_1": r["beta_1"],
                },
            },
        }
    )
    keras.utils.set_random_seed(0)
    undo_speedups(opts)
    if opts.keras_bn:  # the layer this project used before issue 9
        from keras_gen.models.gan import dcgan

        dcgan.FusedBatchNormalization = keras.layers.BatchNormalization
    model = build_model(cfg)
    compile_model(model, cfg)
    return model


def undo_speedups(opts: argparse.Namespace) -> None:
    """Switch off issue 20's bfloat16 speed-up in this worker (the ablation)."""
    if getattr(opts, "no_patch_grad", False):  # Keras' own convolutions
        from keras_gen.models.gan import dcgan
        from keras_gen.models.vae import networks

        for module in (dcgan, networks):
            module.PatchGradConv2D = keras.layers.Conv2D
            module.PatchGradConv2DTranspose = keras.layers.Conv2DTranspose


def keras_parts(model) -> tuple[keras.Model, keras.Model]:
    if hasattr(model, "discriminator"):
        return model.generator, model.discriminator
    return model.encoder, model.decoder


def images(kind: str, size: int, batch: int) -> np.ndarray:
    """The in-memory batch (NHWC); torch_reference.images is the same array."""
    low = -1.0 if kind == "gan" else 0.0
    rng = np.random.default_rng(0)
    return rng.uniform(low, 1.0, (batch, size, size, 3)).astype("float32")


# ------------------------------------------------------------------- timing
class _StepClock(keras.callbacks.Callback):
    """Wall time at the end of every executed batch (one per steps_per_execution)."""

    def __init__(self):
        super().__init__()
        self.marks: list[tuple[int, float]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.marks.append((batch, time.perf_counter()))


class KerasRunner:
    def __init__(self, kind: str, size: int, batch: int, opts: argparse.Namespace):
        self.kind, self.batch = kind, batch
        self.model = keras_model(kind, size, batch, opts)
        self.spe = opts.steps_per_execution
        self.data = tf.data.Dataset.from_tensors(images(kind, size, batch)).repeat()
        self.run(2 * self.spe)  # traces the train function once

    def run(self, steps: int) -> float:
        """Images/s over `steps` fit steps, the first execution excluded."""
        steps = max(steps, 2 * self.spe) // self.spe * self.spe
        clock = _StepClock()
        self.model.fit(
            self.data, epochs=1, steps_per_epoch=steps, callbacks=[clock], verbose=0
        )
        (b0, t0), (b1, t1) = clock.marks[0], clock.marks[-1]
        return (b1 - b0) * self.batch / (t1 - t0)


class Worker:
    """One framework in its own process, driven by JSON lines on stdin/stdout.

    Separate processes keep the two runtimes' thread pools (TF's Eigen pool,
    torch's OpenMP team) from spinning against each other, while the parent
    still alternates their repetitions under the same machine load.
    """

    def __init__(
        self,
        framework: str,
        args: argparse.Namespace,
        env: dict[str, str] | None = None,
        flags: list[str] | None = None,
    ):
        # The torch worker is torch_reference.py: it never imports TF.
        script = __file__ if framework == "keras" else str(HERE / "torch_reference.py")
        cmd = (
            [
                sys.executable,
                script,
                f"--worker={framework}",
                f"--threads={args.threads}",
                f"--inter-op={args.inter_op}",
                f"--precision={args.precision}",
                f"--steps-per-execution={args.steps_per_execution}",
            ]
            + (["--jit"] if args.jit else [])
            + (["--keras-bn"] if args.keras_bn else [])
            # Later flags win: a variant's own precision overrides --precision.
            + (flags or [])
        )
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=None if env is None else {**os.environ, **env},
        )
        # What the worker printed besides its answer to the last request
        # (oneDNN's verbose lines when ONEDNN_VERBOSE is set).
        self.output: list[str] = []

    def ask(self, **request) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        self.output = []
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"worker died on {request}")
            if line.startswith("@@"):
                return json.loads(line[2:])
            self.output.append(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM), in MB.

    Not getrusage's ru_maxrss: Linux keeps that across execve, so a worker
    started by a parent that holds TF would report at least the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def worker_loop(args: argparse.Namespace) -> None:
    """The Keras worker (the torch one is `torch_reference.worker_loop`)."""
    runner = None
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "build":
            kind, size, batch = req["kind"], req["size"], req["batch"]
            runner = KerasRunner(kind, size, batch, args)
            parts = keras_parts(runner.model)
            per_image = (
                flops.gan_step_flops(*parts)
                if kind == "gan"
                else flops.vae_step_flops(*parts)
            )
            out = {"params": [m.count_params() for m in parts], "flops": per_image}
        elif req["op"] == "run":
            out = {"images_per_s": runner.run(req["steps"])}
        elif req["op"] == "pieces":
            out = keras_pieces(runner, req["reps"])
        else:  # "rss": peak resident memory of this process so far
            out = {"max_rss_mb": peak_rss_mb()}
        print("@@" + json.dumps(out), flush=True)


def keras_pieces(runner: KerasRunner, reps: int) -> dict[str, float]:
    """Median ms of each network's forward and forward+backward, in training mode.

    The profile of what is left: the same pieces are timed in PyTorch
    (`torch_reference.torch_pieces`), so the gap is located per network and
    per direction.
    """
    model, batch = runner.model, runner.batch
    first, second = keras_parts(model)
    out: dict[str, float] = {}
    for net in (first, second):
        shape = (batch, *net.inputs[0].shape[1:])
        x = tf.random.uniform(shape)

        @tf.function
        def forward(x, net=net):
            return [tf.reduce_mean(y) for y in tf.nest.flatten(net(x, training=True))]

        @tf.function
        def forward_backward(x, net=net):
            with tf.GradientTape() as tape:
                loss = tf.add_n(
                    [tf.reduce_mean(y) for y in tf.nest.flatten(net(x, training=True))]
                )
            return tape.gradient(loss, net.trainable_variables)

        for name, fn in (("forward", forward), ("forward_backward", forward_backward)):
            fn(x)
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                tf.nest.map_structure(lambda v: v.numpy(), fn(x))
                times.append(time.perf_counter() - t)
            out[f"{net.name}_{name}_ms"] = 1000 * statistics.median(times)
    return out


FRAMEWORKS = ("keras", "torch")


def torch_flags(framework: str, args: argparse.Namespace) -> list[str]:
    """The PyTorch variant of the profile/primitives parts (`--torch-flags`)."""
    return args.torch_flags.split() if framework == "torch" else []


def profile(kind: str, batch: int, rounds: int, args) -> dict[str, Any]:
    """Keras vs PyTorch ms of each network's pieces, alternating frameworks."""
    row: dict[str, Any] = {"model": kind, "batch": batch, "start": machine_state()}
    workers = {fw: Worker(fw, args, flags=torch_flags(fw, args)) for fw in FRAMEWORKS}
    times: dict[str, dict[str, list[float]]] = {"keras": {}, "torch": {}}
    try:
        for w in workers.values():
            w.ask(op="build", kind=kind, size=64, batch=batch, **RECIPES[kind])
        for _ in range(rounds):
            for fw, w in workers.items():
                for key, ms in w.ask(op="pieces", reps=3).items():
                    times[fw].setdefault(key, []).append(ms)
    finally:
        for w in workers.values():
            w.close()
    for key in times["keras"]:
        k, t = (
            statistics.median(times["keras"][key]),
            statistics.median(times["torch"][key]),
        )
        row[key] = {
            "keras": round(k, 1),
            "torch": round(t, 1),
            "ratio": round(t / k, 3),
        }
    row["end"] = machine_state()
    print(json.dumps(row), flush=True)
    return row


# ------------------------------------------------------------- fair variants
#: The precisions compared by default on each device (`--device`).
PRECISIONS = {"cpu": "float32,mixed_bfloat16", "gpu": "float32,mixed_float16"}
#: PyTorch's autocast dtype for each Keras mixed policy.
AUTOCAST = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def variants(
    precisions: list[str], compile_torch: bool, device: str = "cpu"
) -> list[dict[str, Any]]:
    """keras-gen at each precision and every PyTorch variant of that precision.

    PyTorch's variants are what its users switch on: the channels_last
    memory format, autocast for a mixed precision (bfloat16 on a CPU,
    float16 with loss scaling on a GPU), and torch.compile
    (`--no-torch-compile` leaves it out).
    """
    short = {None: "f32", "bfloat16": "bf16 autocast", "float16": "f16 autocast"}
    out = []
    for precision in precisions:
        out.append(
            {
                "label": f"keras-gen {precision}",
                "framework": "keras",
                "precision": precision,
                "flags": [f"--precision={precision}", f"--device={device}"],
            }
        )
        autocast = AUTOCAST.get(precision)
        for layout in ("contiguous", "channels_last"):
            for compiled in (False, True) if compile_torch else (False,):
                flags = [f"--memory-format={layout}"]
                flags += [f"--autocast={autocast}"] if autocast else []
                flags += ["--compile"] if compiled else []
                flags += ["--device=cuda"] if device == "gpu" else []
                label = f"PyTorch {short[autocast]}"
                label += " channels_last" if layout == "channels_last" else " NCHW"
                label += " compiled" if compiled else ""
                out.append(
                    {
                        "label": label,
                        "framework": "torch",
                        "precision": precision,
                        "flags": flags,
                    }
                )
    return out


def fair(
    kind: str,
    size: int,
    batch: int,
    reps: int,
    steps: int,
    args: argparse.Namespace,
    sides: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every variant in its own worker, repetitions interleaved; medians.

    Each keras-gen precision is compared with the fastest PyTorch variant of
    the same precision (bfloat16 autocast for mixed_bfloat16). `sides`
    defaults to every variant (`variants`).
    """
    start = machine_state()
    sides = sides or variants(
        args.precisions.split(","), not args.no_torch_compile, args.device
    )
    workers = [Worker(v["framework"], args, flags=v["flags"]) for v in sides]
    recipe = RECIPES[kind]
    try:
        built = [
            w.ask(op="build", kind=kind, size=size, batch=batch, **recipe)
            for w in workers
        ]
        if len({json.dumps(b["params"]) for b in built}) != 1:
            raise AssertionError(f"{kind}: parameter counts differ: {built}")
        ips: list[list[float]] = [[] for _ in sides]
        for _ in range(reps):
            for i, w in enumerate(workers):
                ips[i].append(w.ask(op="run", steps=steps)["images_per_s"])
    finally:
        for w in workers:
            w.close()
    per_image = next(b["flops"] for b in built if "flops" in b)
    rows = [
        {
            **{k: v[k] for k in ("label", "framework", "precision")},
            "images_per_s": round(statistics.median(r), 1),
            "reps": [round(x, 1) for x in r],
            "gflop_per_s": round(statistics.median(r) * per_image / 1e9, 1),
        }
        for v, r in zip(sides, ips, strict=True)
    ]
    row = {
        "model": kind,
        "image_size": size,
        "batch": batch,
        "params": sum(built[0]["params"]),
        "step_gflop_per_image": round(per_image / 1e9, 3),
        "variants": rows,
        "ratios": best_ratios(rows),
        "start": start,
        "end": machine_state(),
    }
    tag = "fair" if row["ratios"] else "ablation"
    print(json.dumps({tag: row}), flush=True)
    return row


def scaling_sides(
    main_row: dict[str, Any] | None, args: argparse.Namespace
) -> list[dict[str, Any]] | None:
    """keras-gen and, per precision, the PyTorch variant that won at 64x64 b64."""
    if main_row is None:
        return None
    winners = {r["best_torch"] for r in main_row["ratios"]}
    every = variants(args.precisions.split(","), not args.no_torch_compile, args.device)
    return [v for v in every if v["framework"] == "keras" or v["label"] in winners]


def ablation_sides(args: argparse.Namespace) -> list[dict[str, Any]]:
    """keras-gen with and without issue 20's bfloat16 speed-up.

    The float32 pair is the control: the change does not apply in float32,
    so its difference is the harness's noise. (A bfloat16-native batch norm
    was measured the same way, at +0.4%, and not kept.)
    """
    cases = [
        ("mixed_bfloat16", "the package", []),
        ("mixed_bfloat16", "no patch-gradient convolutions", ["--no-patch-grad"]),
        ("float32", "float32 control: the package", []),
        ("float32", "float32 control: no patch-gradient", ["--no-patch-grad"]),
    ]
    return [
        {
            "label": label,
            "framework": "keras",
            "precision": precision,
            "flags": [f"--precision={precision}", f"--device={args.device}", *flags],
        }
        for precision, label, flags in cases
    ]


def best_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """keras-gen / the fastest PyTorch variant, per precision."""
    out = []
    for precision in dict.fromkeys(r["precision"] for r in rows):
        same = [r for r in rows if r["precision"] == precision]
        if not any(r["framework"] == "torch" for r in same):
            continue  # an ablation: keras-gen variants only
        keras_row = next(r for r in same if r["framework"] == "keras")
        best = max(
            (r for r in same if r["framework"] == "torch"),
            key=lambda r: r["images_per_s"],
        )
        out.append(
            {
                "precision": precision,
                "keras_images_per_s": keras_row["images_per_s"],
                "best_torch": best["label"],
                "torch_images_per_s": best["images_per_s"],
                "ratio": round(keras_row["images_per_s"] / best["images_per_s"], 3),
            }
        )
    return out


# ---------------------------------------------------------------- primitives
def _conv_key(shape: str) -> str:
    """One name for a convolution and the transposed convolution that mirrors it.

    TF runs Conv2DTranspose as oneDNN's convolution backward-data, PyTorch as
    a deconvolution primitive: keyed by the strided (downsampling) direction,
    a generator layer and the discriminator layer of the same shape share a
    row, so the two frameworks' rows hold the same work.
    """
    f = dict(
        (m.group(1), int(m.group(2))) for m in re.finditer(r"(ic|oc|ih|oh)(\d+)", shape)
    )
    if f["oh"] > f["ih"]:  # a deconvolution's shape: read it the other way
        f = {"ic": f["oc"], "oc": f["ic"], "ih": f["oh"], "oh": f["ih"]}
    return f"conv {f['ic']}->{f['oc']} ch, {f['ih']}->{f['oh']} px"


def onednn_times(lines: list[str], steps: int) -> dict[str, dict[str, float]]:
    """ms per step and calls per step of oneDNN primitives, from verbose lines.

    Each `onednn_verbose,...,exec,...` line ends with the problem and the
    execution time in ms. Convolutions (and deconvolutions) are grouped by
    shape (`_conv_key`), other primitives by kind.
    """
    out: dict[str, dict[str, float]] = {}
    for line in lines:
        p = line.strip().split(",")
        # onednn_verbose,v1,primitive,exec,cpu,KIND,impl,prop,...,PROBLEM,MS
        if len(p) < 10 or p[0] != "onednn_verbose" or p[2:4] != ["primitive", "exec"]:
            continue
        try:
            ms = float(p[-1])
        except ValueError:
            continue
        kind = p[5]
        if kind in ("convolution", "deconvolution"):
            key = _conv_key(p[-2])
        else:
            key = kind.replace("_", " ")
        row = out.setdefault(key, {"ms": 0.0, "calls": 0.0})
        row["ms"] += ms / steps
        row["calls"] += 1 / steps
    return out


def primitives(kind: str, batch: int, steps: int, args) -> dict[str, Any]:
    """Both frameworks' train steps broken into oneDNN primitives.

    Each worker runs `steps` train steps with ONEDNN_VERBOSE=1 (both TF and
    PyTorch run their CPU convolutions and TF its batch norm through oneDNN),
    so the comparison is made per convolution shape: where the libraries'
    kernels are the same, the remaining gap is in what surrounds them
    (layout reorders, elementwise ops, optimizer, framework overhead).
    Timing with verbose on slows the steps a little; use it for shares, not
    for throughput.
    """
    row: dict[str, Any] = {"model": kind, "batch": batch, "start": machine_state()}
    for fw in FRAMEWORKS:
        w = Worker(fw, args, env={"ONEDNN_VERBOSE": "1"}, flags=torch_flags(fw, args))
        try:
            w.ask(op="build", kind=kind, size=64, batch=batch, **RECIPES[kind])
            # Timed as in `compare` (first step excluded); verbose lines of all.
            wall = batch / w.ask(op="run", steps=steps)["images_per_s"]
            times = onednn_times(w.output, steps)
        finally:
            w.close()
        onednn = sum(v["ms"] for v in times.values())
        row[fw] = {
            "wall_ms_per_step": round(1000 * wall, 1),
            "onednn_ms_per_step": round(onednn, 1),
            "rest_ms_per_step": round(1000 * wall - onednn, 1),
            "primitives": {
                k: {"ms": round(v["ms"], 2), "calls": round(v["calls"], 2)}
                for k, v in sorted(times.items())
            },
        }
    row["end"] = machine_state()
    print(json.dumps({"primitives": row}), flush=True)
    return row


# ----------------------------------------------------------------- peak FLOP/s
#: The matmul dtype of each precision (its compute dtype).
PEAK_DTYPE = {
    "float32": "float32",
    "mixed_bfloat16": "bfloat16",
    "mixed_float16": "float16",
}


def matmul_peak(precisions: list[str], n: int = 2048, reps: int = 10) -> dict[str, Any]:
    """Achieved FLOP/s of an n x n matrix product in TF, per compute dtype."""
    out: dict[str, Any] = {"n": n, **machine_state()}
    for dtype in dict.fromkeys(PEAK_DTYPE[p] for p in precisions):
        a = tf.random.normal((n, n), dtype="float32")
        a = tf.cast(a, dtype)

        @tf.function
        def f(x):
            return tf.linalg.matmul(x, x)

        f(a).numpy()
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            f(a).numpy()
            times.append(time.perf_counter() - t)
        out[f"{dtype}_gflop_per_s"] = round(2 * n**3 / min(times) / 1e9, 1)
    print(json.dumps({"matmul_peak": out}), flush=True)
    return out


# -------------------------------------------------------------------- memory
def memory_table(
    sizes: list[int], batch: int, args, kinds: list[str]
) -> list[dict[str, Any]]:
    """Max RSS of a fresh worker process that built the model and trained 3 steps.

    One row per precision of `--precisions`: keras-gen at that policy against
    PyTorch eager channels_last (with bfloat16 autocast for mixed_bfloat16;
    compiled variants would add the compiler's own memory).
    """
    rows = []
    for size, kind, precision in itertools.product(
        sizes, kinds, args.precisions.split(",")
    ):
        autocast = AUTOCAST.get(precision)
        flags = {
            "keras": [f"--precision={precision}"],
            "torch": ["--memory-format=channels_last"]
            + ([f"--autocast={autocast}"] if autocast else []),
        }
        row: dict[str, Any] = {
            "model": kind,
            "image_size": size,
            "batch": batch,
            "precision": precision,
        }
        for fw in FRAMEWORKS:
            w = Worker(fw, args, flags=flags[fw])
            try:
                row[f"{fw}_import_rss_mb"] = w.ask(op="rss")["max_rss_mb"]
                w.ask(op="build", kind=kind, size=size, batch=batch, **RECIPES[kind])
                w.ask(op="run", steps=3)
                row[f"{fw}_max_rss_mb"] = w.ask(op="rss")["max_rss_mb"]
            finally:
                w.close()
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


# ------------------------------------------------------------------ sampling
def sampling(opts: argparse.Namespace, reps: int) -> list[dict[str, Any]]:
    """Images/s of the SavedModel `generate` signature vs predict / direct call."""
    from keras_gen.export import export_generator

    model = keras_model("gan", 64, 64, opts)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = export_generator(model, tmp, "bench", version=1, write_config=False)
        generate = tf.saved_model.load(str(path)).signatures["generate"]
        gen = model.generator
        latent = RECIPES["gan"]["latent_dim"]
        for batch in (1, 64):
            seeds = tf.range(batch, dtype=tf.int64)
            z = np.random.default_rng(0).normal(size=(batch, latent)).astype("float32")
            calls = {
                "saved_model_generate": lambda s=seeds: generate(seed=s)[
                    "images"
                ].numpy(),
                "keras_predict": lambda z=z, b=batch: gen.predict(
                    z, batch_size=b, verbose=0
                ),
                "keras_direct_call": lambda z=z: gen(z, training=False).numpy(),
            }
            row: dict[str, Any] = {"batch": batch, **machine_state()}
            times: dict[str, list[float]] = {k: [] for k in calls}
            for fn in calls.values():
                fn()  # warm-up (tracing)
            n = reps * (8 if batch == 1 else 1)
            for _ in range(n):  # interleaved, as the train steps
                for name, fn in calls.items():
                    t = time.perf_counter()
                    fn()
                    times[name].append(time.perf_counter() - t)
            for name, ts in times.items():
                row[f"{name}_images_per_s"] = round(batch / statistics.median(ts), 1)
                row[f"{name}_ms"] = round(1000 * statistics.median(ts), 2)
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


# ------------------------------------------------------------------- output
def args_batch(results: dict[str, Any]) -> int:
    return results["profile"][0]["batch"]


def markdown(results: dict[str, Any]) -> str:
    m = results["meta"]
    lines = [
        f"Command: `{m['command']}`  ",
        f"{m['start']['date']} to {m['end']['date']}; CPU: {m['cpu']}, "
        f"{m['threads']} threads (TF intra-op {m['threads']}, inter-op "
        f"{m['inter_op']}; torch {m['threads']}); TF {m['tf']}, Keras {m['keras']}, "
        f"torch {m['torch']}; precisions compared {m.get('precisions', m['precision'])}"
        f" (PyTorch variants {'with' if m.get('torch_compile') else 'without'} "
        f"torch.compile); medians of {m['reps']} interleaved repetitions of "
        f"{m['steps']} steps; load average "
        f"{m['start']['load_avg_1m']} at the start, {m['end']['load_avg_1m']} "
        "at the end." + (f" ({m['note']})" if m.get("note") else ""),
        *[
            f"Merged: `{r['command']}` at {r['start']['date']} "
            f"(load {r['start']['load_avg_1m']})."
            for r in results.get("runs", [])
        ],
    ]
    lines += ratio_table(results) + variant_table(results) + ablation_table(results)
    if results.get("memory"):
        lines += [
            "",
            "| model | image | batch | precision | Keras max RSS (MB) "
            "| PyTorch max RSS (MB) "
            "| Keras: training's share (above import) | PyTorch: same |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in results["memory"]:
            share = {
                fw: (
                    r[f"{fw}_max_rss_mb"] - r[f"{fw}_import_rss_mb"]
                    if f"{fw}_import_rss_mb" in r
                    else "-"
                )
                for fw in FRAMEWORKS
            }
            lines.append(
                f"| {NAMES[r['model']]} | {r['image_size']} | {r['batch']} | "
                f"{r.get('precision', 'float32')} | "
                f"{r['keras_max_rss_mb']} | {r['torch_max_rss_mb']} | "
                f"{share['keras']} | {share['torch']} |"
            )
    if results.get("profile"):
        lines += [
            "",
            f"| profile piece (batch {args_batch(results)}, 64x64, training mode) "
            "| Keras ms | PyTorch ms "
            "| PyTorch/Keras time |",
            "| --- | --- | --- | --- |",
        ]
        for r in results["profile"]:
            for key, v in r.items():
                if isinstance(v, dict) and "keras" in v:
                    lines.append(
                        f"| {key.removesuffix('_ms').replace('_', ' ')} | "
                        f"{v['keras']} | {v['torch']} | {v['ratio']:.2f} |"
                    )
    for r in results.get("primitives", []):
        lines += ["", *primitives_table(r)]
    if results.get("sampling"):
        lines += [
            "",
            "| sampling (DCGAN-64 generator) | batch | images/s | ms/call |",
            "| --- | --- | --- | --- |",
        ]
        for r in results["sampling"]:
            for name in ("saved_model_generate", "keras_predict", "keras_direct_call"):
                lines.append(
                    f"| {name.replace('_', ' ')} | {r['batch']} | "
                    f"{r[name + '_images_per_s']} | {r[name + '_ms']} |"
                )
    return "\n".join(lines) + "\n"


def _peak_fraction(results: dict[str, Any], precision: str, gflops: float) -> str:
    peak = results.get("matmul_peak")
    if not peak:
        return "-"
    key = f"{PEAK_DTYPE[precision]}_gflop_per_s"
    return f"{gflops / peak[key]:.0%}" if key in peak else "-"


def fair_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (
        results.get("main", [])
        + results.get("batch_scaling", [])
        + results.get("size_scaling", [])
    )
    seen, out = set(), []
    for r in rows:
        key = (r["model"], r["image_size"], r["batch"])
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def ratio_table(results: dict[str, Any]) -> list[str]:
    """keras-gen against the fastest PyTorch variant of the same precision."""
    if not fair_rows(results):
        return []
    lines = [
        "",
        "| model | image | batch | precision | keras-gen images/s "
        "| fastest PyTorch variant | its images/s | ratio "
        "| keras-gen GFLOP/s (of that precision's matmul peak) | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in fair_rows(results):
        for q in r["ratios"]:
            gflops = q["keras_images_per_s"] * r["step_gflop_per_image"]
            lines.append(
                f"| {NAMES[r['model']]} | {r['image_size']} | {r['batch']} | "
                f"{q['precision']} | {q['keras_images_per_s']} | {q['best_torch']} | "
                f"{q['torch_images_per_s']} | **{q['ratio']:.2f}** | {gflops:.1f} "
                f"({_peak_fraction(results, q['precision'], gflops)}) | "
                f"{r['start']['load_avg_1m']} |"
            )
    peak = results.get("matmul_peak")
    if peak:
        lines += [
            "",
            f"Measured peak: TF {peak['n']}x{peak['n']} matmul "
            + ", ".join(
                f"{v} GFLOP/s {k.removesuffix('_gflop_per_s')}"
                for k, v in peak.items()
                if k.endswith("_gflop_per_s")
            )
            + f" (load {peak['load_avg_1m']}).",
        ]
    return lines


def variant_table(results: dict[str, Any]) -> list[str]:
    """Every variant of the 64x64 rows: median and each repetition."""
    if not results.get("main"):
        return []
    lines = [
        "",
        "| model, 64x64 | variant | images/s (median) | repetitions | GFLOP/s |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results.get("main", []):
        for v in r["variants"]:
            lines.append(
                f"| {NAMES[r['model']]} b{r['batch']} | {v['label']} | "
                f"{v['images_per_s']} | {', '.join(map(str, v['reps']))} | "
                f"{v['gflop_per_s']} |"
            )
    return lines


def ablation_table(results: dict[str, Any]) -> list[str]:
    if not results.get("ablation"):
        return []
    lines = [
        "",
        "| ablation, 64x64 b64 | keras-gen variant | images/s (median) | repetitions |",
        "| --- | --- | --- | --- |",
    ]
    for r in results["ablation"]:
        for v in r["variants"]:
            lines.append(
                f"| {NAMES[r['model']]} | {v['label']} | {v['images_per_s']} | "
                f"{', '.join(map(str, v['reps']))} |"
            )
    return lines


def primitives_table(r: dict[str, Any]) -> list[str]:
    """Markdown rows of one `primitives` result: ms per step (calls per step)."""
    k, t = r["keras"], r["torch"]
    keys = sorted(
        set(k["primitives"]) | set(t["primitives"]),
        key=lambda x: (not x.startswith("conv"), x),
    )

    def cell(side: dict[str, Any], key: str) -> str:
        v = side["primitives"].get(key)
        return "-" if v is None else f"{v['ms']:.1f} ({v['calls']:g})"

    lines = [
        f"| oneDNN primitive, {NAMES[r['model']]}-64 step, batch {r['batch']} "
        "| Keras ms/step (calls) | PyTorch ms/step (calls) |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {key} | {cell(k, key)} | {cell(t, key)} |" for key in keys]
    lines += [
        f"| all oneDNN primitives | {k['onednn_ms_per_step']} "
        f"| {t['onednn_ms_per_step']} |",
        "| the rest (elementwise ops, PyTorch's batch norm, optimizers, "
        f"framework) | {k['rest_ms_per_step']} | {t['rest_ms_per_step']} |",
        f"| wall time per step (verbose on) | {k['wall_ms_per_step']} "
        f"| {t['wall_ms_per_step']} |",
    ]
    return lines


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("main", None, "64x64, batch 64")] if results.get("main") else []
    if results.get("batch_scaling"):
        panels.append(("batch_scaling", "batch", "batch size (64x64)"))
    if results.get("size_scaling"):
        panels.append(("size_scaling", "image_size", "resolution (batch 64)"))
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5))
    for ax, (key, xkey, title) in zip(np.atleast_1d(axes), panels):
        if xkey is None:
            _bars(ax, results[key])
        else:
            _lines(ax, results[key], xkey)
        ax.set_title(title)
        ax.set_ylabel("train images/s")
        ax.legend(fontsize=7, loc="lower left")
    m = results["meta"]
    fig.suptitle(
        "keras-gen vs the fastest PyTorch variant of the same precision\n"
        f"{m['threads']} threads, {m['start']['date'][:16]}, "
        f"load {m['start']['load_avg_1m']}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _bars(ax, rows: list[dict[str, Any]]) -> None:
    pairs = [(r, q) for r in rows for q in r["ratios"]]
    x = np.arange(len(pairs))
    keras_ips = [q["keras_images_per_s"] for _, q in pairs]
    torch_ips = [q["torch_images_per_s"] for _, q in pairs]
    ax.bar(x - 0.2, keras_ips, 0.4, label="keras-gen")
    ax.bar(x + 0.2, torch_ips, 0.4, label="fastest PyTorch variant")
    for i, (_, q) in enumerate(pairs):
        top = max(q["keras_images_per_s"], q["torch_images_per_s"])
        ax.text(i, top, f"{q['ratio']:.2f}x", ha="center", va="bottom", fontsize=8)
    short = {"float32": "f32", "mixed_bfloat16": "bf16", "mixed_float16": "f16"}
    ax.set_xticks(
        x, [f"{NAMES[r['model']]}\n{short.get(q['precision'])}" for r, q in pairs]
    )


def _lines(ax, rows: list[dict[str, Any]], xkey: str) -> None:
    from matplotlib import ticker

    series: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    for r in rows:
        for q in r["ratios"]:
            for fw, ips in (
                ("keras-gen", q["keras_images_per_s"]),
                ("PyTorch", q["torch_images_per_s"]),
            ):
                key = (r["model"], q["precision"], fw)
                series.setdefault(key, []).append((r[xkey], ips))
    for (kind, precision, fw), points in sorted(series.items()):
        xs, ys = zip(*sorted(points))
        style = ("-" if fw == "keras-gen" else "--") + ("o" if kind == "gan" else "s")
        ax.plot(xs, ys, style, label=f"{NAMES[kind]} {precision} {fw}")
    ax.set_xscale("log", base=2)
    if xkey == "image_size":  # images/s fall ~4x per doubling of the side
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(ticker.ScalarFormatter())
    else:
        ax.set_ylim(bottom=0)
    ticks = sorted({r[xkey] for r in rows})
    ax.set_xticks(ticks, [str(v) for v in ticks])
    ax.minorticks_off()


# --------------------------------------------------------------------- main
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="ratios only, < 2 minutes")
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--steps", type=int, default=None, help="steps per repetition")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--inter-op", type=int, default=1)
    p.add_argument(
        "--precision",
        default="float32",
        help="keras-gen precision of the profile, primitives, memory, sampling parts",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="gpu: both frameworks on the first GPU, mixed_float16 vs float16 "
        "autocast (with loss scaling) as the mixed precision",
    )
    p.add_argument(
        "--precisions",
        default=None,
        help="the precisions compared in the main and scaling parts "
        f"(default: {PRECISIONS['cpu']} on cpu, {PRECISIONS['gpu']} on gpu)",
    )
    p.add_argument(
        "--no-torch-compile",
        action="store_true",
        help="leave torch.compile out of the PyTorch variants",
    )
    p.add_argument(
        "--torch-flags",
        default="",
        help="torch_reference flags for the profile and primitives parts, "
        "e.g. '--memory-format=channels_last --autocast=bfloat16'",
    )
    p.add_argument("--jit", action="store_true")
    p.add_argument(
        "--keras-bn",
        action="store_true",
        help="DCGAN with keras.layers.BatchNormalization instead of the fused layer",
    )
    p.add_argument("--steps-per-execution", type=int, default=1)
    # Keras-worker switches of the ablation part (see `ablation_sides`).
    p.add_argument("--no-patch-grad", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--models", default="gan,vae")
    p.add_argument("--out", default=None, help="results name (default: by mode)")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--render", action="store_true", help="redraw --out's table/plot")
    p.add_argument(
        "--parts",
        default=None,
        help=f"comma-separated subset of {','.join(PARTS)} (default: all; quick: main)",
    )
    p.add_argument(
        "--merge", action="store_true", help="update the existing results file"
    )
    p.add_argument(
        "--from-log", default=None, help="take the rows printed by an earlier run"
    )
    p.add_argument(
        "--only-profile", action="store_true", help="per-network pieces only"
    )
    # Internal: run as the worker process of one framework.
    p.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    args.precisions = args.precisions or PRECISIONS[args.device]
    pin_threads(args.threads, args.inter_op)
    if args.device == "cpu":  # a GPU machine benchmarks its CPU only when asked
        tf.config.set_visible_devices([], "GPU")
    if args.worker:
        worker_loop(args)
        return
    if args.render:  # tables and plot again from a results file, nothing measured
        name = args.out or "train_throughput"
        results = json.loads((RESULTS / f"{name}.json").read_text())
        (RESULTS / f"{name}.md").write_text(markdown(results))
        plot(results, RESULTS / f"{name}.png")
        return
    reps = args.reps or (3 if args.quick else 5)
    steps = args.steps or (6 if args.quick else 20)
    if args.quick:  # compiling takes minutes; --quick stays eager
        args.no_torch_compile = True
    kinds = args.models.split(",")
    meta = {
        "command": "python benchmarks/train_throughput.py "
        + " ".join(sys.argv[1:] if argv is None else argv),
        "cpu": cpu_model(),
        "threads": args.threads,
        "inter_op": args.inter_op,
        "precision": args.precision,
        "precisions": args.precisions,
        "device": args.device,
        "torch_compile": not args.no_torch_compile,
        "jit_compile": args.jit,
        "steps_per_execution": args.steps_per_execution,
        "batch_norm": "keras" if args.keras_bn else "fused",
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
        "tf": tf.__version__,
        "keras": keras.__version__,
        "torch": torch_version(),
        "reps": reps,
        "steps": steps,
        "start": machine_state(),
    }
    print(json.dumps(meta), flush=True)
    name = args.out or ("train_throughput_quick" if args.quick else "train_throughput")
    results: dict[str, Any] = {"meta": meta}
    if args.merge and (RESULTS / f"{name}.json").exists():
        # Parts measured by separate runs go into one results file.
        results = json.loads((RESULTS / f"{name}.json").read_text())
        results.setdefault("runs", []).append(meta)
    if args.from_log:
        results.update(rows_from_log(Path(args.from_log)))
        # The header then describes the run that measured the rows.
        logged = results.pop("meta_of_log")
        rows = results.get("batch_scaling", []) + results.get("size_scaling", [])
        rows += results.get("main", []) + results.get("profile", [])
        ends = [r["end"] for r in rows if "end" in r] or [logged["start"]]
        logged["end"] = max(ends, key=lambda e: e["date"])
        logged["note"] = f"rows read from its printed log {args.from_log}"
        if args.merge and "runs" in results:  # merged into an earlier run's file
            results["runs"][-1] = logged
        else:
            results["meta"] = logged
    if args.only_profile:
        for k in kinds:
            profile(k, args.batch, reps, args)
        return
    parts = (
        set(args.parts.split(","))
        if args.parts
        else ({"main"} if args.quick or args.from_log else set(PARTS))
    )
    if args.from_log:
        parts = set(args.parts.split(",")) if args.parts else set()
    if "main" in parts:
        results["main"] = [fair(k, 64, args.batch, reps, steps, args) for k in kinds]
    main_rows = {r["model"]: r for r in results.get("main", [])}
    if "peak" in parts:
        results["matmul_peak"] = matmul_peak(args.precisions.split(","))
    scale_reps = max(3, reps - 2)
    if "batch" in parts:
        results["batch_scaling"] = [
            main_rows[k]
            if b == args.batch and k in main_rows
            else fair(
                k,
                64,
                b,
                scale_reps,
                max(4, steps * 64 // b // 2),
                args,
                scaling_sides(main_rows.get(k), args),
            )
            for k in kinds
            for b in (16, 64, 256)
        ]
    if "size" in parts:
        results["size_scaling"] = [
            main_rows[k]
            if s == 64 and k in main_rows
            else fair(
                k,
                s,
                args.batch,
                scale_reps,
                max(4, steps * 64 // s // 2),
                args,
                scaling_sides(main_rows.get(k), args),
            )
            for k in kinds
            for s in (32, 64, 128)
        ]
    if "profile" in parts:
        results["profile"] = [profile(k, args.batch, 3, args) for k in kinds]
    if "ablation" in parts:
        results["ablation"] = [
            fair(k, 64, args.batch, reps, steps, args, ablation_sides(args))
            for k in kinds
        ]
    if "primitives" in parts:
        results["primitives"] = [primitives(k, args.batch, steps, args) for k in kinds]
    if "memory" in parts:
        results["memory"] = memory_table([32, 64, 128], args.batch, args, kinds)
    if "sampling" in parts:
        results["sampling"] = sampling(args, reps)
    meta["end"] = machine_state()
    if args.no_write:
        print(markdown(results))
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(results))
    plot(results, RESULTS / f"{name}.png")
    print(markdown(results))
    print(f"wrote {RESULTS / name}.{{json,md,png}}")


PARTS = (
    "main",
    "ablation",
    "peak",
    "batch",
    "size",
    "profile",
    "primitives",
    "memory",
    "sampling",
)


def rows_from_log(path: Path) -> dict[str, Any]:
    """Results rebuilt from the JSON rows a run printed (e.g. a run cut short)."""
    out: dict[str, Any] = {}
    scaling: dict[str, list] = {"batch_scaling": [], "size_scaling": []}
    for line in path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        row = json.loads(line)
        if "command" in row:
            out["meta_of_log"] = row
        elif "matmul_peak" in row:
            out["matmul_peak"] = row["matmul_peak"]
        elif "primitives" in row:
            out.setdefault("primitives", []).append(row["primitives"])
        elif "keras_max_rss_mb" in row:
            out.setdefault("memory", []).append(row)
        elif "saved_model_generate_ms" in row:
            out.setdefault("sampling", []).append(row)
        elif "ablation" in row:
            out.setdefault("ablation", []).append(row["ablation"])
        elif "fair" in row:
            row = row["fair"]
            if (row["image_size"], row["batch"]) == (64, 64):
                out.setdefault("main", []).append(row)
            elif row["image_size"] == 64:
                scaling["batch_scaling"].append(row)
            else:
                scaling["size_scaling"].append(row)
        elif "model" in row:
            out.setdefault("profile", []).append(row)
    for key, xkey in (("batch_scaling", "batch"), ("size_scaling", "image_size")):
        if scaling[key]:
            rows = scaling[key] + out.get("main", [])
            out[key] = sorted(rows, key=lambda r: (r["model"], r[xkey]))
    return out


if __name__ == "__main__":
    main()
