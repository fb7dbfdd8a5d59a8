"""Why exports compute in float32: bfloat16 on CPUs without bfloat16 instructions.

Times the DCGAN-64 generator's forward pass (width 64, batch 64, inference)
in float32 and in mixed_bfloat16 with oneDNN limited to an instruction set
(`ONEDNN_MAX_CPU_ISA`), so one machine with AVX512-BF16 stands in for CPUs
without it: DEFAULT (all this CPU has), AVX512_CORE (AVX-512 without BF16)
and AVX2. Each case runs in its own process; a case that fails prints the
error's first line.

Usage: python benchmarks/bf16_isa.py [--reps 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ISAS = ("DEFAULT", "AVX512_CORE", "AVX2")
PRECISIONS = ("float32", "mixed_bfloat16")


def worker(precision: str, reps: int) -> None:
    import numpy as np
    import tensorflow as tf

    from keras_gen.models.gan.dcgan import build_dcgan_generator
    from keras_gen.precision import dtype_policy

    with dtype_policy(precision):
        generator = build_dcgan_generator(64, 100, 64, seed=0)
    z = np.random.default_rng(0).normal(size=(64, 100)).astype("float32")
    forward = tf.function(lambda z: generator(z, training=False))
    forward(z)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        forward(z).numpy()
        times.append(time.perf_counter() - start)
    print(json.dumps({"ms": 1000 * sorted(times)[reps // 2]}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.reps)
        return
    print("| oneDNN ISA | float32 ms/batch | mixed_bfloat16 ms/batch | bf16 / f32 |")
    print("| --- | --- | --- | --- |")
    for isa in ISAS:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if isa != "DEFAULT":
            env["ONEDNN_MAX_CPU_ISA"] = isa
        cells = {}
        for precision in PRECISIONS:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--worker",
                    precision,
                    "--reps",
                    str(args.reps),
                ],
                capture_output=True,
                text=True,
                env=env,
            )
            lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
            if out.returncode == 0 and lines:
                cells[precision] = json.loads(lines[-1])["ms"]
            else:
                errors = [x for x in out.stderr.splitlines() if "Error" in x]
                cells[precision] = (errors[-1] if errors else "failed")[:160]
        f32, bf16 = cells["float32"], cells["mixed_bfloat16"]
        ratio = f"{bf16 / f32:.2f}" if isinstance(bf16, float) else "-"
        show = [f"{c:.1f}" if isinstance(c, float) else c for c in (f32, bf16)]
        print(f"| {isa} | {show[0]} | {show[1]} | {ratio} |")


if __name__ == "__main__":
    main()
