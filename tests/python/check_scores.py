"""Independent NumPy/SciPy computation of the Inception Score, FID and KID from the classifier
outputs that `gan eval ... --save-outputs DIR` wrote, compared with the scores it reported.

usage: check_scores.py is  LOGITS.npy  SPLITS  REPORT.json
       check_scores.py fid REAL.npy GENERATED.npy REPORT.json
       check_scores.py kid REAL.npy GENERATED.npy REPORT.json   (one subset of every sample)
Exits non-zero (with the numbers) when they differ by more than 1e-6 relative."""

import json
import sys

import numpy as np
import scipy.linalg

TOLERANCE = 1e-6


def inception_score(logits, splits):
    # torch-fidelity / the original TF code: f64 softmax, consecutive splits of the given order.
    x = logits.astype(np.float64)
    x -= x.max(axis=1, keepdims=True)
    p = np.exp(x)
    p /= p.sum(axis=1, keepdims=True)
    n = len(p)
    scores = []
    for i in range(splits):
        part = p[i * n // splits:(i + 1) * n // splits]
        py = part.mean(axis=0, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(py)), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def fid(real, generated):
    # pytorch-fid's calculate_frechet_distance, with scipy.linalg.sqrtm.
    a, b = real.astype(np.float64), generated.astype(np.float64)
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1.dot(s2))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def kid_whole_sets(real, generated):
    # torch-fidelity's kid: polynomial kernel (degree 3, gamma 1/d, coef0 1), unbiased MMD².
    x, y = real.astype(np.float64), generated.astype(np.float64)
    d, m = x.shape[1], len(x)
    kernel = lambda a, b: (a @ b.T / d + 1) ** 3
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    off = lambda k: k.sum() - np.trace(k)
    return float((off(kxx) + off(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / (m * m))


def close(name, ours, reference):
    scale = max(abs(reference), 1e-12)
    rel = abs(ours - reference) / scale
    print(f"{name}: gan eval {ours!r}, numpy/scipy {reference!r}, relative difference {rel:.3e}")
    return rel <= TOLERANCE


def main():
    kind = sys.argv[1]
    if kind == "is":
        logits, splits = np.load(sys.argv[2]), int(sys.argv[3])
        report = json.load(open(sys.argv[4]))
        mean, std = inception_score(logits, splits)
        ok = close("IS mean", report["mean"], mean) & close("IS std", report["std"], std)
    elif kind == "fid":
        report = json.load(open(sys.argv[4]))
        ok = close("FID", report["fid"], fid(np.load(sys.argv[2]), np.load(sys.argv[3])))
    else:
        report = json.load(open(sys.argv[4]))
        real, generated = np.load(sys.argv[2]), np.load(sys.argv[3])
        assert report["subsets"] == 1 and report["subset_size"] == len(real) == len(generated)
        ok = close("KID", report["kid"], kid_whole_sets(real, generated))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
