"""`gan bench train` against `bench/yardsticks/pytorch_train.py`, one model at a time in fresh processes
(so each has its own peak RSS), alternating the two engines. Prints the README's table.

    cargo build --release && python3 bench/yardsticks/compare_train.py --threads 2 --iters 5
"""
import argparse
import os
import re
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--models", default="dcgan32,dcgan64,dcgan128,mlp")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--iters", type=int, default=5)
parser.add_argument("--gan", default="target/release/gan")
args = parser.parse_args()


def run(command, env=None):
    """Run under GNU time; returns (stdout, peak RSS in MiB)."""
    out = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M"] + command, capture_output=True,
                         text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{out.stderr}")
    rss = int(re.search(r"MAXRSS (\d+)", out.stderr).group(1)) / 1024
    return out.stdout, rss


env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
print("| model | ours ms/iter | PyTorch ms/iter | ratio | our GFLOP/s | our peak RSS | PyTorch peak RSS |")
print("|---|---:|---:|---:|---:|---:|---:|")
for model in args.models.split(","):
    ours, ours_rss = run([args.gan, "bench", "train", "--models", model, "--iters",
                          str(args.iters)], env)
    row = next(l for l in ours.splitlines() if l.startswith(f"| {model} |")).split("|")
    ours_ms, gflops = float(row[3]), float(row[5])
    torch_out, torch_rss = run([sys.executable, "bench/yardsticks/pytorch_train.py", "--models", model,
                                "--threads", str(args.threads), "--iters", str(args.iters)])
    torch_ms = float(next(l for l in torch_out.splitlines()
                          if l.startswith(f"| {model} |")).split("|")[2])
    print(f"| {model} | {ours_ms:.1f} | {torch_ms:.1f} | {ours_ms / torch_ms:.2f} | {gflops:.0f} "
          f"| {ours_rss:.0f} MiB | {torch_rss:.0f} MiB |", flush=True)
