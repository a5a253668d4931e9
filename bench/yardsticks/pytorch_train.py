"""PyTorch yardstick for `gan bench train`: the same networks (layer for layer, the same
biases), the same loop (a discriminator step on a real and a detached fake batch, then a
non-saturating generator step, BCE with logits, Adam 2e-4 / (0.5, 0.999)), the same batch and
thread count, on the CPU or a CUDA GPU (eager mode, float32, synchronised before each clock
read). A benchmark only; PyTorch is not a dependency of the product.

    python3 -m pip install torch
    python3 bench/yardsticks/pytorch_train.py --models dcgan64 --threads 2 --iters 5
    python3 bench/yardsticks/pytorch_train.py --models dcgan64,dcgan128,mlp --device cuda --iters 50
    python3 bench/yardsticks/pytorch_train.py --models dcgan64 --device cuda --show-losses 5

`--show-losses N` prints the first N steps' losses instead of timing, with the weights, data and
noise drawn on the CPU from seed 0 whatever the device: run it on the CPU and on CUDA to see how
far two devices drift apart from identical inputs (bench/gpu/check.sh does, beside ours).
"""
import argparse
import resource
import statistics
import time

import torch
import torch.nn as nn

parser = argparse.ArgumentParser()
parser.add_argument("--models", default="dcgan32,dcgan64,dcgan128,mlp")
parser.add_argument("--batch-size", type=int, default=64)
parser.add_argument("--width", type=int, default=64, help="ngf = ndf")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--iters", type=int, default=5)
parser.add_argument("--device", default="cpu", help="cpu or cuda")
parser.add_argument("--tf32", action="store_true",
                    help="allow TF32 (cuDNN's default); without it, full float32 as ours")
parser.add_argument("--show-losses", type=int, default=0,
                    help="print the first N steps' losses from identical inputs instead of timing")
args = parser.parse_args()
device = torch.device(args.device)
torch.backends.cuda.matmul.allow_tf32 = args.tf32
torch.backends.cudnn.allow_tf32 = args.tf32


def sync():
    if device.type == "cuda":
        torch.cuda.synchronize()

torch.set_num_threads(args.threads)
torch.manual_seed(0)


def dcgan(size, nz=100, nc=3, ngf=64, ndf=64):
    blocks = size.bit_length() - 1 - 3  # 64 px: 3 blocks between the 4x4 seed and the output
    g, width = [nn.ConvTranspose2d(nz, ngf << blocks, 4, 1, 0, bias=False),
                nn.BatchNorm2d(ngf << blocks), nn.ReLU(True)], ngf << blocks
    for _ in range(blocks):
        g += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
              nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    g += [nn.ConvTranspose2d(width, nc, 4, 2, 1), nn.Tanh()]
    d, width = [nn.Conv2d(nc, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)], ndf
    for _ in range(blocks):
        d += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
              nn.LeakyReLU(0.2, True)]
        width *= 2
    d += [nn.Conv2d(width, 1, 4, 1, 0), nn.Flatten()]
    return nn.Sequential(*g), nn.Sequential(*d), (nz, 1, 1), (nc, size, size)


def mlp(nz=100):
    g = nn.Sequential(nn.Linear(nz, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(),
                      nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 784), nn.Tanh())
    d = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                      nn.LeakyReLU(0.2), nn.Linear(256, 128), nn.LeakyReLU(0.2), nn.Linear(128, 1))
    return g, d, (nz,), (784,)


def build(name):
    torch.manual_seed(0)  # on the CPU, whatever the device: the same weights everywhere
    if name == "mlp":
        g, d, z_shape, x_shape = mlp()
    else:
        size = int(name.removeprefix("dcgan"))
        g, d, z_shape, x_shape = dcgan(size, ngf=args.width, ndf=args.width)
    return g, d, z_shape, x_shape


def training_step(g, d, n):
    """The loop's iteration for batch size `n`: a discriminator step on a real and a detached
    fake batch, then a non-saturating generator step; returns step(real, z) -> (loss_d, loss_g)."""
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(n, 1, device=device), torch.zeros(n, 1, device=device)

    def step(real, z):
        fake = g(z)
        opt_d.zero_grad()
        loss_d = bce(d(real), ones) + bce(d(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(d(fake), ones)
        loss_g.backward()
        opt_g.step()
        return loss_d, loss_g

    return step


def time_model(name):
    g, d, z_shape, x_shape = build(name)
    g, d = g.to(device), d.to(device)
    n = args.batch_size
    step = training_step(g, d, n)
    real = torch.rand((n,) + x_shape, device=device) * 2 - 1

    def iteration():
        step(real, torch.randn((n,) + z_shape, device=device))

    for _ in range(3):  # warm-up (cuDNN picks its algorithms here)
        iteration()
    sync()
    times = []
    for _ in range(args.iters):
        started = time.perf_counter()
        iteration()
        sync()
        times.append(1e3 * (time.perf_counter() - started))
    return statistics.median(times)


def show_losses(name, steps):
    """The loop of `time_model` from inputs drawn on the CPU, printing each step's losses."""
    g, d, z_shape, x_shape = build(name)
    n = args.batch_size
    real = (torch.rand((n,) + x_shape) * 2 - 1).to(device)
    latents = [torch.randn((n,) + z_shape).to(device) for _ in range(steps)]
    g, d = g.to(device), d.to(device)
    step = training_step(g, d, n)
    for k, z in enumerate(latents, 1):
        loss_d, loss_g = step(real, z)
        print(f"step {k} loss_d {loss_d.item():.7f} loss_g {loss_g.item():.7f}", flush=True)


where = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
print(f"PyTorch {torch.__version__} on {where}, {torch.get_num_threads()} threads, "
      f"batch {args.batch_size}, TF32 {'on' if args.tf32 else 'off'}")
if args.show_losses:
    for model in args.models.split(","):
        show_losses(model, args.show_losses)
    raise SystemExit
print("| model | median ms/iteration |")
for model in args.models.split(","):
    print(f"| {model} | {time_model(model):.1f} |", flush=True)
print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
