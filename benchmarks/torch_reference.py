"""PyTorch versions of keras-gen's DCGAN and VAE networks and train steps.

Benchmark-only: torch is never a dependency of the package. Every network has
the same layers, channels, kernel sizes, strides, biases, batch norms and
activations as its Keras twin (`keras_gen.models.gan.dcgan`,
`keras_gen.models.vae.networks`), in PyTorch's NCHW layout; the parameter
counts are asserted equal by the benchmark and by the tests. Both steps do the
same work as the Keras `train_step`s: the GAN reuses the generated batch for
the generator update and takes no discriminator weight gradients there.

A `Variant` runs the same step the way a PyTorch user would tune it on a CPU:
`channels_last` memory format, bfloat16 autocast (weights, gradients and
optimizer state stay float32, as Keras' mixed_bfloat16 policy), and
`torch.compile` of each network (inductor, C++ code generated with the
machine's compiler).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


def num_stages(image_size: int) -> int:
    return int(math.log2(image_size // 4))


def _bn(channels: int) -> nn.BatchNorm2d:
    # Keras momentum 0.9 (weight of the old value) is PyTorch momentum 0.1.
    return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)


def dcgan_generator(image_size: int, latent_dim: int, width: int) -> nn.Sequential:
    stages = num_stages(image_size)
    filters = width * 2 ** (stages - 1)
    layers: list[nn.Module] = [
        nn.Unflatten(1, (latent_dim, 1, 1)),
        nn.ConvTranspose2d(latent_dim, filters, 4, 1, 0, bias=False),
        _bn(filters),
        nn.ReLU(),
    ]
    for _ in range(1, stages):
        layers += [
            nn.ConvTranspose2d(filters, filters // 2, 4, 2, 1, bias=False),
            _bn(filters // 2),
            nn.ReLU(),
        ]
        filters //= 2
    layers += [nn.ConvTranspose2d(filters, 3, 4, 2, 1), nn.Tanh()]
    return nn.Sequential(*layers)


def dcgan_discriminator(image_size: int, width: int) -> nn.Sequential:
    stages = num_stages(image_size)
    layers: list[nn.Module] = []
    c_in, filters = 3, width
    for i in range(stages):
        layers.append(nn.Conv2d(c_in, filters, 4, 2, 1, bias=(i == 0)))
        if i > 0:
            layers.append(_bn(filters))
        layers.append(nn.LeakyReLU(0.2))
        c_in, filters = filters, filters * 2
    layers += [nn.Conv2d(c_in, 1, 4, 1, 0), nn.Flatten()]
    return nn.Sequential(*layers)


def _dcgan_init(module: nn.Module) -> None:
    # As the Keras builders: N(0, 0.02) kernels, N(1, 0.02) batch-norm scales.
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class VAEEncoder(nn.Module):
    def __init__(self, image_size: int, latent_dim: int, width: int):
        super().__init__()
        stages = num_stages(image_size)
        layers: list[nn.Module] = []
        c_in, filters = 3, width
        for _ in range(stages):
            layers += [nn.Conv2d(c_in, filters, 4, 2, 1), nn.ReLU()]
            c_in, filters = filters, min(filters * 2, width * 8)
        self.convs = nn.Sequential(*layers, nn.Flatten())
        self.z_mean = nn.Linear(c_in * 16, latent_dim)
        self.z_log_var = nn.Linear(c_in * 16, latent_dim)
        nn.init.zeros_(self.z_log_var.weight)
        nn.init.zeros_(self.z_log_var.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.convs(x)
        return self.z_mean(h), self.z_log_var(h)


def vae_decoder(image_size: int, latent_dim: int, width: int) -> nn.Sequential:
    stages = num_stages(image_size)
    filters = min(width * 2 ** (stages - 1), width * 8)
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, 16 * filters),
        nn.ReLU(),
        nn.Unflatten(1, (filters, 4, 4)),
    ]
    for i in range(stages):
        out = max(filters // 2, width) if i < stages - 1 else width
        layers += [nn.ConvTranspose2d(filters, out, 4, 2, 1), nn.ReLU()]
        filters = out
    layers.append(nn.Conv2d(filters, 3, 3, 1, 1))
    return nn.Sequential(*layers)


def count_params(module: nn.Module) -> int:
    """Trainable parameters plus batch-norm statistics (as Keras counts weights)."""
    buffers = sum(
        b.numel() for name, b in module.named_buffers() if "num_batches" not in name
    )
    return sum(p.numel() for p in module.parameters()) + buffers


@dataclass(frozen=True)
class Variant:
    """How the PyTorch step runs: memory format, autocast dtype, torch.compile."""

    memory_format: str = "contiguous"
    autocast: str | None = None
    compile: bool = False
    device: str = "cpu"

    def __post_init__(self):
        if self.memory_format not in ("contiguous", "channels_last"):
            raise ValueError(
                f"memory_format {self.memory_format!r}: expected contiguous "
                "or channels_last"
            )
        if self.autocast not in (None, "bfloat16", "float16"):
            raise ValueError(
                f"autocast {self.autocast!r}: expected bfloat16, float16 or None"
            )
        if self.device not in ("cpu", "cuda"):
            raise ValueError(f"device {self.device!r}: expected cpu or cuda")

    @property
    def label(self) -> str:
        short = {None: "f32", "bfloat16": "bf16 autocast", "float16": "f16 autocast"}
        layout = "channels_last" if self.memory_format == "channels_last" else "NCHW"
        label = f"PyTorch {short[self.autocast]} {layout}"
        label += " compiled" if self.compile else ""
        return label + (" cuda" if self.device == "cuda" else "")

    def autocast_context(self):
        if self.autocast is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device, dtype=getattr(torch, self.autocast))

    def prepare(self, module: nn.Module) -> nn.Module:
        """The module on the device, in the memory format, compiled if asked."""
        module = module.to(self.device)
        if self.memory_format == "channels_last":
            module = module.to(memory_format=torch.channels_last)
        return torch.compile(module) if self.compile else module

    def tensor(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        if self.memory_format == "channels_last" and x.ndim == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x

    def scaler(self):
        """float16 needs loss scaling (as Keras' LossScaleOptimizer); bf16 not."""
        enabled = self.autocast == "float16"
        return torch.amp.GradScaler(self.device, enabled=enabled)


def update(loss: torch.Tensor, optimizer, scaler) -> None:
    """Backward and one optimizer step, through the loss scaler when enabled."""
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()


class TorchGAN:
    """DCGAN step: D on real and detached fake, then G through the updated D."""

    def __init__(
        self,
        image_size: int,
        latent_dim: int,
        width: int,
        learning_rate: float,
        beta_1: float,
        variant: Variant = Variant(),
    ):
        self.latent_dim = latent_dim
        self.variant = variant
        self.generator = dcgan_generator(image_size, latent_dim, width)
        self.discriminator = dcgan_discriminator(image_size, width)
        _dcgan_init(self.generator)
        _dcgan_init(self.discriminator)
        # eps as Keras' Adam default, so that both take the same updates.
        self.g_opt = torch.optim.Adam(
            self.generator.parameters(), learning_rate, (beta_1, 0.999), eps=1e-7
        )
        self.d_opt = torch.optim.Adam(
            self.discriminator.parameters(), learning_rate, (beta_1, 0.999), eps=1e-7
        )
        # The optimizers hold the parameters themselves (moved to the device
        # in place), so they are built before the possibly compiled wrappers.
        self.g_net = variant.prepare(self.generator)
        self.d_net = variant.prepare(self.discriminator)
        self.g_scaler, self.d_scaler = variant.scaler(), variant.scaler()

    def step(self, real: torch.Tensor) -> tuple[float, float]:
        z = torch.randn(real.shape[0], self.latent_dim, device=real.device)
        with self.variant.autocast_context():
            fake = self.g_net(z)
            real_logits = self.d_net(real)
            fake_logits = self.d_net(fake.detach())
            d_loss = (F.softplus(-real_logits) + F.softplus(fake_logits)).float().mean()
        update(d_loss, self.d_opt, self.d_scaler)
        # No weight gradients for D in the generator update (as the Keras tape).
        self.discriminator.requires_grad_(False)
        with self.variant.autocast_context():
            g_loss = F.softplus(-self.d_net(fake)).float().mean()
        update(g_loss, self.g_opt, self.g_scaler)
        self.discriminator.requires_grad_(True)
        return d_loss.item(), g_loss.item()

    def params(self) -> tuple[int, int]:
        return count_params(self.generator), count_params(self.discriminator)


class TorchVAE:
    """VAE step with the Gaussian likelihood (fixed sigma) of bedroom_vae.yaml."""

    def __init__(
        self,
        image_size: int,
        latent_dim: int,
        width: int,
        learning_rate: float,
        beta_1: float,
        variant: Variant = Variant(),
        sigma: float = 0.1,
    ):
        self.encoder = VAEEncoder(image_size, latent_dim, width)
        self.decoder = vae_decoder(image_size, latent_dim, width)
        self.sigma = sigma
        self.variant = variant
        self.opt = torch.optim.Adam(
            list(self.encoder.parameters()) + list(self.decoder.parameters()),
            learning_rate,
            (beta_1, 0.999),
            eps=1e-7,
        )
        self.e_net = variant.prepare(self.encoder)
        self.d_net = variant.prepare(self.decoder)
        self.scaler = variant.scaler()

    def step(self, images: torch.Tensor) -> float:
        with self.variant.autocast_context():
            z_mean, z_log_var = self.e_net(images)
            z = z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)
            logits = self.d_net(z)
        # The loss in float32, as Keras' mixed policy computes it.
        z_mean, z_log_var, logits = z_mean.float(), z_log_var.float(), logits.float()
        per_pixel = (images - torch.sigmoid(logits)) ** 2 / (2 * self.sigma**2) + (
            math.log(self.sigma) + 0.5 * math.log(2 * math.pi)
        )
        reconstruction = per_pixel.flatten(1).sum(1)
        kl = -0.5 * (1 + z_log_var - z_mean**2 - torch.exp(z_log_var)).sum(1)
        loss = (reconstruction + kl).mean()
        update(loss, self.opt, self.scaler)
        return loss.item()

    def params(self) -> tuple[int, int]:
        return count_params(self.encoder), count_params(self.decoder)


def forward_macs(module: nn.Module, example: torch.Tensor) -> int:
    """Forward MACs per image of conv/transposed-conv/linear layers, via hooks."""
    total = 0

    def hook(m, inputs, output):
        nonlocal total
        x = inputs[0]
        if isinstance(m, nn.ConvTranspose2d):
            h, w = x.shape[2:]
            k_h, k_w = m.kernel_size
            total += h * w * k_h * k_w * m.in_channels * m.out_channels
        elif isinstance(m, nn.Conv2d):
            h, w = output.shape[2:]
            k_h, k_w = m.kernel_size
            total += h * w * k_h * k_w * (m.in_channels // m.groups) * m.out_channels
        elif isinstance(m, nn.Linear):
            total += m.in_features * m.out_features

    handles = [
        m.register_forward_hook(hook)
        for m in module.modules()
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))
    ]
    try:
        with torch.no_grad():
            module.eval()
            module(example[:1])
            module.train()
    finally:
        for h in handles:
            h.remove()
    return int(total)


# ------------------------------------------------------------ benchmark worker
def images(kind: str, size: int, batch: int) -> torch.Tensor:
    """The same batch as train_throughput.images, in NCHW."""
    low = -1.0 if kind == "gan" else 0.0
    rng = np.random.default_rng(0)
    x = rng.uniform(low, 1.0, (batch, size, size, 3)).astype("float32")
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


class TorchRunner:
    def __init__(
        self, kind: str, size: int, batch: int, recipe: dict, variant: Variant
    ):
        torch.manual_seed(0)
        cls = TorchGAN if kind == "gan" else TorchVAE
        self.model = cls(
            size,
            recipe["latent_dim"],
            recipe["width"],
            recipe["learning_rate"],
            recipe["beta_1"],
            variant,
        )
        self.batch = batch
        self.data = variant.tensor(images(kind, size, batch))
        # Compiled variants compile here (both graphs of the GAN's D: with
        # and without weight gradients), outside the timed runs.
        self.run(3 if variant.compile else 2)

    def run(self, steps: int) -> float:
        """Images/s over `steps` steps, the first one excluded (as for Keras)."""
        steps = max(steps, 2)
        self.model.step(self.data)
        t0 = time.perf_counter()
        for _ in range(steps - 1):
            self.model.step(self.data)
        return (steps - 1) * self.batch / (time.perf_counter() - t0)


def torch_pieces(runner: TorchRunner, reps: int) -> dict[str, float]:
    """Median ms of each network's forward and forward+backward (training mode).

    Keys match train_throughput.keras_pieces (the Keras model names).
    """
    model, batch = runner.model, runner.batch
    if isinstance(model, TorchGAN):
        nets = [
            (
                "generator",
                model.g_net,
                runner.data.new_empty(batch, model.latent_dim).normal_(),
            ),
            ("discriminator", model.d_net, runner.data),
        ]
    else:
        latent = model.encoder.z_mean.out_features
        nets = [
            ("encoder", model.e_net, runner.data),
            ("decoder", model.d_net, runner.data.new_empty(batch, latent).normal_()),
        ]
    out: dict[str, float] = {}
    for name, net, x in nets:

        def loss(net=net, x=x):
            with model.variant.autocast_context():
                y = net(x)
            return sum(t.float().mean() for t in (y if isinstance(y, tuple) else (y,)))

        def forward():
            with torch.no_grad():
                loss()

        def forward_backward(net=net):
            net.zero_grad(set_to_none=True)
            loss().backward()

        for piece, fn in (("forward", forward), ("forward_backward", forward_backward)):
            fn()
            times = []
            for _ in range(reps):
                t = time.perf_counter()
                fn()
                if x.is_cuda:  # kernels run asynchronously on a GPU
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t)
            out[f"{name}_{piece}_ms"] = 1000 * sorted(times)[len(times) // 2]
    return out


def peak_rss_mb() -> int:
    """This process's peak resident memory (VmHWM), in MB.

    Not getrusage's ru_maxrss: Linux keeps that across execve, so a worker
    started by a parent that holds TF would report at least the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024)
    return -1


def worker_loop(threads: int, variant: Variant) -> None:
    """JSON-lines worker driven by train_throughput.Worker."""
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    runner = None
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "build":
            runner = TorchRunner(req["kind"], req["size"], req["batch"], req, variant)
            out = {"params": list(runner.model.params())}
        elif req["op"] == "run":
            out = {"images_per_s": runner.run(req["steps"])}
        elif req["op"] == "pieces":
            out = torch_pieces(runner, req["reps"])
        else:
            out = {"max_rss_mb": peak_rss_mb()}
        print("@@" + json.dumps(out), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", default="torch")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--memory-format", choices=("contiguous", "channels_last"), default="contiguous"
    )
    parser.add_argument("--autocast", choices=("bfloat16", "float16"), default=None)
    parser.add_argument("--compile", action="store_true", help="torch.compile")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    # Accepted for a uniform command line; they only concern the Keras worker.
    parser.add_argument("--inter-op", type=int)
    parser.add_argument("--precision")
    parser.add_argument("--steps-per-execution", type=int)
    parser.add_argument("--jit", action="store_true")
    parser.add_argument("--keras-bn", action="store_true")
    args = parser.parse_args()
    variant = Variant(args.memory_format, args.autocast, args.compile, args.device)
    worker_loop(args.threads, variant)
