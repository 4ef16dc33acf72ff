#!/usr/bin/python3
"""Softmax regression on the digits data, trained on a Shardopt cluster by 2 trainer processes,
with the shardopt package (clients/python; install it as its README says).

  python examples/python/softmax_trainer.py --coordinator 127.0.0.1:7070 \
      --model digits-py --out /tmp/params-py.json

The driver (this process) creates the model (SYNC, 2 trainers, W [64,10] and b [10] zeros,
pipeline "adam(0.05)" as DSL text), starts two trainer processes (this script with --rank 0 and
--rank 1), each of which pulls the parameters of every step and pushes its gradient. Once both
are done it pulls the final parameters, prints the test accuracy and writes the parameters to
--out as JSON. The recipe is in digits_recipe.py. TLS and the token: --tls-ca, --tls-cert,
--tls-key, and SHARDOPT_TOKEN or --token-file.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import digits_recipe as recipe
import shardopt


def connect(args):
    token = None
    if args.token_file:
        with open(args.token_file) as f:
            token = f.readline().strip()
    return shardopt.connect(args.coordinator, tls_ca=args.tls_ca, tls_cert=args.tls_cert, tls_key=args.tls_key,
                            token=token)


def train(args):
    x_train, y_train, _, _ = recipe.load_digits()
    with connect(args) as cluster:
        trainer = cluster.model(args.model_name).trainer(args.rank)
        for step in range(args.steps):
            params = trainer.pull()  # SYNC: the parameters after exactly `step` steps
            rows = recipe.trainer_rows(step, args.rank, len(x_train))
            trainer.push(step, recipe.gradient(x_train[rows], y_train[rows], params["W"].reshape(-1), params["b"]))
    return 0


def drive(args):
    started = time.monotonic()
    x_train, _, x_test, y_test = recipe.load_digits()
    with connect(args) as cluster:
        model = cluster.create_model(args.model, pipeline=recipe.PIPELINE_TEXT, trainers=recipe.TRAINERS,
                                     tensors={name: shardopt.zeros(shape) for name, shape in recipe.TENSORS})
        print("created %s (%d trainers) on %d worker(s); training %d steps on %d rows" % (
            model.name, model.trainers, len(model.push_shards), args.steps, len(x_train)), flush=True)
        forwarded = []
        for flag in ("tls_ca", "tls_cert", "tls_key", "token_file"):
            if getattr(args, flag):
                forwarded += ["--" + flag.replace("_", "-"), getattr(args, flag)]
        children = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--coordinator", args.coordinator,
                                      "--model-name", model.name, "--rank", str(r), "--steps", str(args.steps)]
                                     + forwarded) for r in range(recipe.TRAINERS)]
        # Wait for both, bounded; when one fails, stop the other (it would wait for the failed one's pushes).
        deadline = time.monotonic() + args.timeout
        timed_out = False
        while any(c.poll() is None for c in children) and not any(c.returncode for c in children):
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.05)
        failed = ["trainer %d: exit %d" % (r, c.returncode) for r, c in enumerate(children) if c.returncode]
        if timed_out:
            failed.append("the trainers did not finish within %d s" % args.timeout)
        for c in children:
            if c.poll() is None:
                c.kill()
                c.wait(timeout=10)
        if failed:
            print("softmax_trainer: %s" % "; ".join(failed), file=sys.stderr)
            return 1
        step, params = model.pull(args.steps)
        w, b = params["W"].reshape(-1), params["b"]
        acc = recipe.accuracy(x_test, y_test, w, b)
        print("python: %d steps in %.1f s; test accuracy %.4f" % (step, time.monotonic() - started, acc), flush=True)
        if args.out:
            with open(args.out, "w") as f:
                json.dump({"language": "python", "model": model.name, "step": step, "accuracy": acc,
                           "tensors": {"W": [float(v) for v in w], "b": [float(v) for v in b]}}, f)
        if not args.keep:
            model.delete()
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--coordinator", required=True, help="host:port of the coordinator")
    p.add_argument("--model", default="digits-py", help="model id to create (driver)")
    p.add_argument("--steps", type=int, default=recipe.STEPS)
    p.add_argument("--out", help="write the final parameters here (JSON)")
    p.add_argument("--timeout", type=float, default=300, help="seconds the trainers may take in all")
    p.add_argument("--keep", action="store_true", help="do not delete the model at the end")
    p.add_argument("--tls-ca", help="PEM roots the servers' certificates must chain to (turns TLS on)")
    p.add_argument("--tls-cert", help="PEM client certificate, with --tls-key (PKCS#8)")
    p.add_argument("--tls-key")
    p.add_argument("--token-file", help="bearer token, first line (default: SHARDOPT_TOKEN)")
    p.add_argument("--rank", type=int, help=argparse.SUPPRESS)  # a trainer process
    p.add_argument("--model-name", help=argparse.SUPPRESS)
    args = p.parse_args()
    try:
        return train(args) if args.rank is not None else drive(args)
    except (shardopt.ShardoptError, ValueError) as e:
        who = "trainer %d" % args.rank if args.rank is not None else "driver"
        print("softmax_trainer (%s): %s" % (who, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
