#!/usr/bin/python3
"""Checks that parameter files written by the trainers (JSON: {"language", "step", "accuracy",
"tensors": {name: [floats]}}) hold the same values: the largest absolute difference between the
first file and each other one, over every tensor, must be at most --tolerance (default 1e-6), and
every file must be of the same step. Also checks each accuracy against --min-accuracy when given.

  /usr/bin/python3 examples/python/compare_params.py java.json python.json node.json
"""

import argparse
import json
import sys

import numpy as np


def load(path):
    with open(path) as f:
        doc = json.load(f)
    tensors = {n: np.asarray(v, dtype=np.float64) for n, v in doc["tensors"].items()}
    return doc.get("language", path), doc.get("step"), doc.get("accuracy"), tensors


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+")
    p.add_argument("--tolerance", type=float, default=1e-6)
    p.add_argument("--min-accuracy", type=float)
    args = p.parse_args()
    docs = [load(f) for f in args.files]
    problems = []
    for lang, step, acc, tensors in docs:
        if args.min_accuracy is not None and (acc is None or acc < args.min_accuracy):
            problems.append("%s: test accuracy %s is below %.4f" % (lang, acc, args.min_accuracy))
        for name, values in tensors.items():
            if not np.all(np.isfinite(values)):
                problems.append("%s: tensor %s has NaN or Inf" % (lang, name))
    ref_lang, ref_step, _, ref = docs[0]
    for lang, step, _, tensors in docs[1:]:
        if step != ref_step:
            problems.append("%s is at step %s, %s at step %s" % (lang, step, ref_lang, ref_step))
        if set(tensors) != set(ref):
            problems.append("%s has tensors %s, %s has %s" % (lang, sorted(tensors), ref_lang, sorted(ref)))
            continue
        worst = 0.0
        where = None
        for name in sorted(ref):
            a, b = ref[name], tensors[name]
            if a.shape != b.shape:
                problems.append("tensor %s: %d values in %s, %d in %s" % (name, a.size, ref_lang, b.size, lang))
                continue
            diff = np.abs(a - b)
            i = int(np.argmax(diff)) if diff.size else 0
            if diff.size and diff[i] >= worst:
                worst, where = float(diff[i]), "%s[%d]: %r vs %r" % (name, i, a[i], b[i])
        equal = sum(int(np.sum(ref[n] == tensors[n])) for n in ref)
        total = sum(ref[n].size for n in ref)
        print("%s vs %s: max abs diff %.3g (%d of %d values bitwise equal)%s" % (
            ref_lang, lang, worst, equal, total, "" if worst == 0 else "; largest at " + where))
        if worst > args.tolerance:
            problems.append("%s and %s differ by %.3g > %.3g at %s" % (ref_lang, lang, worst, args.tolerance, where))
    for problem in problems:
        print("compare_params: FAIL: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
