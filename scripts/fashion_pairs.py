#!/usr/bin/python3
"""Two-class subsets of Fashion-MNIST as LIBSVM shards, for the paper's real-data experiment.

The paper's logistic-regression test on real data splits three small UCI data sets over three
workers each (nine workers, one shared theta, features cut to a common count). Those sets are not
available here; this is the same shape built from Fashion-MNIST (Debian package
dataset-fashion-mnist): each --pairs entry "a:b" is one two-class task (class a -> +1, class b ->
-1), its first --rows images of those two classes (in file order) split contiguously over
--workers-per-pair workers. Like the paper's sets, the tasks differ in size (--rows per pair) and
in content, so the workers' smoothness constants L_m differ (about 13x with the defaults). Images
are average-pooled --pool x --pool (28x28 -> 7x7 = 49 features with the default 4, close to the
paper's d = 50) and get a constant-1 feature last, so every file names the full dimension.

Writes OUT/shard-01.svm ... in worker order (pair after pair); `lag train --data OUT` reads them
in that order. Needs numpy (/usr/bin/python3 with python3-numpy).
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="folder for the shards")
    p.add_argument("--pairs", default="0:1,5:7,2:4",
                   help="comma list of a:b class pairs, one two-class task each "
                        "(default: T-shirt/Trouser, Sandal/Sneaker, Pullover/Coat)")
    p.add_argument("--rows", default="200,600,1800",
                   help="images per pair: one number for all, or a comma list, one per pair")
    p.add_argument("--workers-per-pair", type=int, default=3)
    p.add_argument("--pool", type=int, default=4, choices=[1, 2, 4, 7, 14],
                   help="average-pool factor for the 28x28 images (1: all 784 pixels)")
    p.add_argument("--dir", default=DEFAULT_DIR, help="folder of the IDX files")
    a = p.parse_args()

    images = read_idx(os.path.join(a.dir, "train-images-idx3-ubyte.gz")).astype(np.float64) / 255
    labels = read_idx(os.path.join(a.dir, "train-labels-idx1-ubyte.gz"))
    n, h, w = images.shape
    k = a.pool
    pooled = images.reshape(n, h // k, k, w // k, k).mean(axis=(2, 4)).reshape(n, -1)
    dim = pooled.shape[1] + 1  # + the constant feature

    os.makedirs(a.out, exist_ok=True)
    pairs = a.pairs.split(",")
    counts = [int(r) for r in a.rows.split(",")]
    if len(counts) == 1:
        counts *= len(pairs)
    if len(counts) != len(pairs):
        sys.exit(f"--rows: {len(counts)} counts for {len(pairs)} pairs")
    shard = 0
    for pair, count in zip(pairs, counts):
        pos, neg = (int(c) for c in pair.split(":"))
        rows = np.flatnonzero((labels == pos) | (labels == neg))[:count]
        if len(rows) < count:
            sys.exit(f"pair {pair}: only {len(rows)} images")
        for part in np.array_split(rows, a.workers_per_pair):
            shard += 1
            path = os.path.join(a.out, f"shard-{shard:02d}.svm")
            with open(path, "w") as f:
                for i in part:
                    feats = " ".join(f"{j + 1}:{v:.9g}" for j, v in enumerate(pooled[i]) if v != 0)
                    f.write(f"{'+1' if labels[i] == pos else '-1'} {feats} {dim}:1\n")
    print(f"wrote {shard} shards ({len(pairs)} pairs, {sum(counts)} rows, {dim} features) "
          f"to {a.out}")


if __name__ == "__main__":
    main()
