#!/usr/bin/env python3
"""Train hwgen's default model: a ternary MLP (64 -> H -> 10) on sklearn's 8x8 digits.

numpy only.  Weights are ternarised with absmean scaling and a straight-through
estimator (STE); the hidden activation is trained through the exact integer
requantisation the hardware performs (arithmetic right shift, clip to int8, ReLU),
so the exported scale-free integer model matches what was trained.

Running this script (from any directory) regenerates, byte-identically:
  models/digits/digits.yaml, models/digits/digits.npz,
  sim/digits/test_x.npy, sim/digits/test_y.npy
(models/digits/README.md is hand-written.)
"""
import os

# Single-threaded BLAS so float results (and hence the exported weights) are reproducible.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import io
import time
import zipfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = ROOT / "models" / "digits"
SIM_DIR = ROOT / "sim" / "digits"

HIDDEN = 64          # hidden width H
SEED = 0
EPOCHS = 300
BATCH = 64
LR = 3e-3
SHIFTS = range(0, 16)


# ---------------------------------------------------------------- data
def quantize_input(pixels):
    """Digits pixels are integers 0..16.  Rule: x_int8 = min(8 * p, 127)."""
    return np.minimum(np.asarray(pixels, dtype=np.int64) * 8, 127).astype(np.int8)


def load_split():
    d = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(
        d.data, d.target, test_size=0.2, random_state=0, stratify=d.target)
    return (quantize_input(x_tr), y_tr.astype(np.int64),
            quantize_input(x_te), y_te.astype(np.int64))


# ---------------------------------------------------------------- integer model (what the hardware does)
def int_forward(x, w1, w2, shift):
    """Exact integer semantics of digits.yaml.

    x: int8 (N, 64); w1: int8 ternary (H, 64); w2: int8 ternary (10, H).
    Returns acc2, int32 (N, 10).  Prediction = argmax(acc2, axis=1).
    """
    x = np.asarray(x, dtype=np.int32)
    acc1 = x @ w1.astype(np.int32).T                       # (N, H) int32
    y = np.clip(acc1 >> shift, -128, 127)                  # arithmetic shift = floor(acc1 / 2**s)
    y = np.maximum(y, 0).astype(np.int8)                   # relu: true
    acc2 = y.astype(np.int32) @ w2.astype(np.int32).T      # (N, 10) int32, output: acc
    return acc2.astype(np.int32)


def int_accuracy(x, y, w1, w2, shift):
    return float(np.mean(np.argmax(int_forward(x, w1, w2, shift), axis=1) == y))


# ---------------------------------------------------------------- training (float, STE)
def ternarize(w):
    """Absmean ternarisation: round(clip(w / mean|w|, -1, 1)) -> {-1, 0, 1}."""
    a = np.mean(np.abs(w)) + 1e-12
    return np.clip(np.rint(w / a), -1, 1)


def pick_shift(acc1):
    """Smallest shift s so that the 99.5th percentile of positive acc1 >> s fits in 127."""
    pos = acc1[acc1 > 0]
    p = np.percentile(pos, 99.5) if pos.size else 1.0
    s = 0
    while p / 2 ** s > 127:
        s += 1
    return s


class Adam:
    def __init__(self, params, lr):
        self.p, self.lr, self.t = params, lr, 0
        self.m = [np.zeros_like(q) for q in params]
        self.v = [np.zeros_like(q) for q in params]

    def step(self, grads, lr):
        self.t += 1
        b1, b2 = 0.9, 0.999
        for p, g, m, v in zip(self.p, grads, self.m, self.v):
            m *= b1; m += (1 - b1) * g
            v *= b2; v += (1 - b2) * g * g
            mh = m / (1 - b1 ** self.t)
            vh = v / (1 - b2 ** self.t)
            p -= lr * mh / (np.sqrt(vh) + 1e-8)


def train(x_tr, y_tr, seed, quant=True):
    """Train the MLP; returns (w1, w2) ternary int8 if quant, else latent float weights.

    quant=False is a full-precision reference (float weights, ReLU without requant)."""
    q = ternarize if quant else (lambda w: w)
    rng = np.random.default_rng(seed)
    xf = x_tr.astype(np.float64)
    n = xf.shape[0]
    w1 = rng.normal(0, 1 / np.sqrt(64), (HIDDEN, 64))
    w2 = rng.normal(0, 1 / np.sqrt(HIDDEN), (10, HIDDEN))
    log_g = np.array(np.log(0.05))                    # learnable logit scale (argmax-invariant)
    opt = Adam([w1, w2, log_g], LR)
    onehot = np.eye(10)[y_tr]
    shift = pick_shift(xf @ q(w1).T)
    for ep in range(EPOCHS):
        lr = LR * 0.5 * (1 + np.cos(np.pi * ep / EPOCHS))   # cosine decay
        perm = rng.permutation(n)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            xb, tb = xf[idx], onehot[idx]
            t1, t2 = q(w1), q(w2)
            a1 = xb @ t1.T                                  # == integer acc1
            z = a1 / 2 ** shift
            if quant:
                h = np.clip(np.floor(z), 0, 127)            # requant (floor, clip, relu)
                pass_h = (z > 0) & (z < 128)                # STE through floor, gate by clip
            else:
                h, pass_h = np.maximum(z, 0), z > 0
            g = np.exp(log_g)
            a2 = h @ t2.T                                   # == integer acc2
            logits = g * a2
            logits -= logits.max(axis=1, keepdims=True)
            p = np.exp(logits); p /= p.sum(axis=1, keepdims=True)
            dlog = (p - tb) / len(idx)
            d_log_g = np.sum(dlog * g * a2)
            da2 = dlog * g
            dt2 = da2.T @ h
            dh = da2 @ t2
            dz = dh * pass_h
            da1 = dz / 2 ** shift
            dt1 = da1.T @ xb
            opt.step([dt1, dt2, np.array(d_log_g)], lr)     # STE: d ternarize(w)/dw = 1
        shift = pick_shift(xf @ q(w1).T)
    if not quant:
        return w1, w2
    return ternarize(w1).astype(np.int8), ternarize(w2).astype(np.int8)


def calibrate_shift(x_tr, y_tr, w1, w2):
    """Shift that maximises integer-model accuracy on the training split (smallest on ties)."""
    accs = [int_accuracy(x_tr, y_tr, w1, w2, s) for s in SHIFTS]
    return int(SHIFTS[int(np.argmax(accs))]), max(accs)


# ---------------------------------------------------------------- deterministic output
def save_npz(path, arrays):
    """Like np.savez, but with fixed zip timestamps so reruns are byte-identical."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def yaml_text(hidden, shift):
    return (
        "# Generated by models/digits/train.py -- do not edit by hand.\n"
        "name: digits\n"
        "input: {features: 64, bits: 8}\n"
        "engine: {kind: tlmm, group: 3, tables: 4, columns: 8}\n"
        "layers:\n"
        f"  - {{name: fc1, op: ternary_linear, out_features: {hidden}, weights: digits.npz:fc1, "
        f"requant: {{shift: {shift}, relu: true}}}}\n"
        "  - {name: fc2, op: ternary_linear, out_features: 10, weights: digits.npz:fc2, output: acc}\n"
    )


def main():
    t0 = time.time()
    x_tr, y_tr, x_te, y_te = load_split()
    w1, w2 = train(x_tr, y_tr, SEED)
    shift, tr_acc = calibrate_shift(x_tr, y_tr, w1, w2)
    te_acc = int_accuracy(x_te, y_te, w1, w2, shift)

    # Reference figures (not exported).
    def acc_noreq(x, y, a, b):   # same ternary weights, ReLU but no shift / int8 clip
        h = np.maximum(x.astype(np.float64) @ a.T.astype(np.float64), 0)
        return float(np.mean(np.argmax(h @ b.T.astype(np.float64), axis=1) == y))
    tern_te = acc_noreq(x_te, y_te, w1, w2)
    f1, f2 = train(x_tr, y_tr, SEED, quant=False)
    float_te = acc_noreq(x_te, y_te, f1, f2)

    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    SIM_DIR.mkdir(parents=True, exist_ok=True)
    save_npz(MODEL_DIR / "digits.npz", {"fc1": w1, "fc2": w2})
    (MODEL_DIR / "digits.yaml").write_text(yaml_text(HIDDEN, shift), encoding="utf-8", newline="\n")
    np.save(SIM_DIR / "test_x.npy", x_te.astype(np.int8), allow_pickle=False)
    np.save(SIM_DIR / "test_y.npy", y_te.astype(np.int64), allow_pickle=False)

    print(f"H={HIDDEN} shift={shift}")
    print(f"weights: fc1 zeros {np.mean(w1 == 0):.1%}, fc2 zeros {np.mean(w2 == 0):.1%}")
    print(f"integer model accuracy: train {tr_acc:.4f} ({len(y_tr)}), test {te_acc:.4f} ({len(y_te)})")
    print(f"test accuracy, ternary weights without requant: {tern_te:.4f}")
    print(f"test accuracy, float reference MLP (same recipe, no quantisation): {float_te:.4f}")
    print(f"time {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
