"""The language-neutral training recipe of the cross-language examples (Java, Python, Node).

Every operation below is spelled out in the same order in SoftmaxTrainer.java and
examples/node/digits_recipe.js, so that the float64 arithmetic is the same in all three languages
(no BLAS, no pairwise summation, no fused multiply-add); only exp() may differ in its last bit
between math libraries, which the cast of the gradient to float32 almost always hides.

  data      examples/data/digits.csv.gz: 1797 rows of 64 pixels (0..16) and the label; x = pixel / 16
  split     row i (file order) is a test row when i % 5 == 0, else a train row (1437 train, 360 test)
  batch     step s: the B = 50 train rows starting at (s * B) mod N_train, wrapping around;
            trainer r of K = 2 takes rows [r * 25, r * 25 + 25) of that batch
  model     softmax regression: W [64, 10] (row-major: W[k][j] at k * 10 + j), b [10], both zeros
  logits    z_j = b_j, then z_j += x_k * W[k][j] for k = 0..63
  softmax   m = max_j z_j; e_j = exp(z_j - m); s = e_0 + e_1 + ... + e_9 (in order); p_j = e_j / s
  gradient  of the mean cross-entropy over the trainer's n rows: d_ij = (p_ij - [j == y_i]) / n;
            gW[k][j] = sum_i x_ik * d_ij and gb_j = sum_i d_ij, summed over rows in order from 0.0,
            all in float64, then cast to float32 (round to nearest even)
  optimizer {"adam": {"lr": 0.05}}, SYNC, 2 trainers, 150 steps (test accuracy 0.9528)
"""

import gzip
import os

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "digits.csv.gz")
# The pipeline in the DSL text form, sent as is (Model.pipeline_text); the coordinator parses it.
PIPELINE_TEXT = "adam(0.05)"
FEATURES = 64
CLASSES = 10
BATCH = 50
TRAINERS = 2
STEPS = 150
TENSORS = [("W", (FEATURES, CLASSES)), ("b", (CLASSES,))]


def load_digits(path=DATA):
    """(x_train, y_train, x_test, y_test): x float64 [n, 64] scaled by 1/16, y int [n]."""
    with gzip.open(path, "rt") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    data = np.array(rows, dtype=np.int64)
    if data.shape[1] != FEATURES + 1:
        raise ValueError("%s: expected %d columns, got %d" % (path, FEATURES + 1, data.shape[1]))
    x = data[:, :FEATURES].astype(np.float64) / 16.0
    y = data[:, FEATURES]
    test = np.arange(len(data)) % 5 == 0
    return x[~test], y[~test], x[test], y[test]


def trainer_rows(step, rank, n_train, batch=BATCH, trainers=TRAINERS):
    """Indices into the train rows of trainer `rank`'s part of step `step`'s batch."""
    per = batch // trainers
    start = (step * batch) % n_train
    return [(start + j) % n_train for j in range(rank * per, rank * per + per)]


def logits(x, w, b):
    """z [n, 10] in float64, summed over k in order (w: flat float32 [640], b: float32 [10])."""
    w = w.astype(np.float64).reshape(FEATURES, CLASSES)
    z = np.tile(b.astype(np.float64), (x.shape[0], 1))
    for k in range(FEATURES):
        z += x[:, k:k + 1] * w[k]
    return z


def gradient(x, y, w, b):
    """{"W": float32 [640], "b": float32 [10]}: the gradient of the mean cross-entropy over x."""
    n = x.shape[0]
    z = logits(x, w, b)
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e[:, 0].copy()
    for j in range(1, CLASSES):
        s += e[:, j]
    p = e / s[:, None]
    onehot = np.zeros_like(p)
    onehot[np.arange(n), y] = 1.0
    d = (p - onehot) / n
    gw = np.zeros((FEATURES, CLASSES))
    gb = np.zeros(CLASSES)
    for i in range(n):
        gw += x[i][:, None] * d[i]
        gb += d[i]
    return {"W": gw.astype(np.float32).reshape(-1), "b": gb.astype(np.float32)}


def accuracy(x, y, w, b):
    return float(np.mean(np.argmax(logits(x, w, b), axis=1) == y))
