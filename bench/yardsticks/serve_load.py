"""Requests per second of a running `gan serve` (a benchmark, not a test): C client threads each
send R requests `GET /v1/generate?n=N&seed=...` and read the whole reply.

    gan serve --model generator.onnx --port 8080 &
    python3 bench/yardsticks/serve_load.py --url http://127.0.0.1:8080 --n 1 --clients 8 --requests 50
"""
import argparse
import threading
import time
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--url", default="http://127.0.0.1:8080")
parser.add_argument("--n", type=int, default=1, help="images per request")
parser.add_argument("--clients", type=int, default=8)
parser.add_argument("--requests", type=int, default=50, help="per client")
args = parser.parse_args()

statuses = {}
lock = threading.Lock()


def client(index):
    for i in range(args.requests):
        seed = index * args.requests + i
        try:
            with urllib.request.urlopen(f"{args.url}/v1/generate?n={args.n}&seed={seed}") as reply:
                reply.read()
                status = reply.status
        except urllib.error.HTTPError as error:
            status = error.code
        with lock:
            statuses[status] = statuses.get(status, 0) + 1


started = time.perf_counter()
threads = [threading.Thread(target=client, args=(c,)) for c in range(args.clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
seconds = time.perf_counter() - started
total = args.clients * args.requests
print(f"n={args.n}: {total} requests in {seconds:.2f} s = {total / seconds:.1f} requests/s "
      f"({total * args.n / seconds:.0f} images/s), statuses {statuses}")
