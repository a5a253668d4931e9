"""Reference timings for `gan bench generate`: the same ONNX generator through onnxruntime in
Python, same threads, same batches. A yardstick only; not part of the product.

    python3 bench/yardsticks/ort_python.py generator.onnx --threads 2 --batches 1,64
"""
import argparse
import time

import numpy as np
import onnxruntime as ort

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--batches", default="1,64")
parser.add_argument("--iters", type=int, default=20)
args = parser.parse_args()

started = time.perf_counter()
options = ort.SessionOptions()
options.intra_op_num_threads = args.threads
options.inter_op_num_threads = 1
session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
name = session.get_inputs()[0].name
nz = session.get_inputs()[0].shape[1]
session.run(None, {name: np.zeros((1, nz), np.float32)})
print(f"{args.model} — onnxruntime {ort.__version__} (Python), {args.threads} threads")
print(f"cold start (load + first image): {(time.perf_counter() - started) * 1e3:.1f} ms")
print("| batch | median ms | min ms | images/s |")
print("|---:|---:|---:|---:|")
for batch in [int(b) for b in args.batches.split(",")]:
    z = np.random.default_rng(0).standard_normal((batch, nz)).astype(np.float32)
    for _ in range(2):
        session.run(None, {name: z})
    times = []
    for _ in range(args.iters):
        t = time.perf_counter()
        session.run(None, {name: z})
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    median = times[len(times) // 2]
    print(f"| {batch} | {median:.2f} | {times[0]:.2f} | {batch * 1e3 / median:.0f} |")
