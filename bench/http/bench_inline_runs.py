#!/usr/bin/env python3
"""Small runs per second with the model inline in every run (issue 10, item 3).

    bench_inline_runs.py --eirnnd NAME=PATH [--eirnnd NAME=PATH ...] [--rounds 5]
                         [--runs 200] [--concurrency 4] [--workers 2] [--n 100] [--steps 50]

Scripts often send the same model inline with every run instead of creating it once. Each
run here is the whole client cycle (POST /v1/runs with the model inline, then GET
/v1/runs/{id}?wait=5 until it is final), CONCURRENCY runs in flight from as many client
threads, against a fresh eirnnd (--workers WORKERS, temporary database) per measurement. Two
models of N cells (80 % E), B = 1, STEPS steps, r recorded:

* explicit: W and P written out (the body is about 60 kB at N = 100): built when the run is
  submitted (the engine's checks answer at once), and by the worker again unless the daemon
  shares the build;
* recipe: the same sizes from a `generate` recipe with `spectral_radius`: checked at submission
  and built by the worker, for every run unless the daemon keeps it.

Daemons named by --eirnnd are measured in turn within each round (their order alternating), so
that a comparison is side by side on the same machine load; the medians over the rounds are
printed with their ratio to the first daemon, and the model builds each measurement cost
over the daemon's life, warm-up included (eirnn_model_builds_total; daemons before 2026-12
did not count inline builds: 0). Not a test.
"""
import argparse
import http.client
import json
import os
import random
import re
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "common"))
from eirnnd_http import Daemon  # noqa: E402


def explicit_model(n, seed=1):
    """A gated model of explicit matrices, Dale-consistent (E columns >= 0, I columns <= 0)."""
    rng = random.Random(seed)
    n_e = n * 4 // 5
    w = [[0.0 if i == j or rng.random() > 0.2 else
          round(rng.lognormvariate(-3.0, 0.5) * (1 if j < n_e else -2), 6)
          for j in range(n)] for i in range(n)]
    p = [[round(rng.random(), 6) for _ in range(2)] for _ in range(n)]
    return {"name": "inline-explicit", "class": "gated",
            "populations": {"E": n_e, "I": n - n_e}, "n_inputs": 2,
            "activation": {"name": "relu"}, "leak": 1.0, "bias": 0.1,
            "recurrent": {"W": w, "A": {"E": 0.5, "I": 1.0}}, "input": {"P": p},
            "noise": {"sigma": 0.1}}


def recipe_model(n):
    n_e = n * 4 // 5
    return {"name": "inline-recipe", "class": "gated",
            "populations": {"E": n_e, "I": n - n_e}, "n_inputs": 2,
            "activation": {"name": "relu"}, "leak": 1.0,
            "recurrent": {"generate": {"seed": 42,
                                       "p": {"EE": 0.2, "EI": 0.5, "IE": 0.5, "II": 0.5},
                                       "dist": "lognormal", "cv": 0.5, "balance": True,
                                       "mean": {"EE": 0.5, "EI": 1.0, "IE": 0.5, "II": 1.0},
                                       "spectral_radius": 0.9, "self_connections": False},
                          "A": {"E": 0.5, "I": 1.0}},
            "input": {"P": {"generate": {"seed": 43, "p": {"E": 0.5, "I": 0.2},
                                         "dist": "constant", "mean": 1.0}}},
            "noise": {"sigma": 0.1}}


def builds(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(r"^eirnn_model_builds_total (\d+)$", text, re.M)
    return int(m.group(1)) if m else -1


def cpu_seconds(pid):
    """User + system CPU seconds of process @p pid so far (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(port, model_text, steps, count, seeds, errors):
    """Run @p count runs one after another on one keep-alive connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(count):
        # the model's text is made once: the client's own JSON work stays out of the figures
        body = ('{"model": %s, "dt": 0.1, "seed": %d, "inputs": {"steps": %d, "trials": 1}, '
                '"record": {"vars": ["r"]}}' % (model_text, next(seeds), steps))
        c.request("POST", "/v1/runs", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        run = json.loads(r.read())
        if r.status != 202:
            errors.append("POST %s %s" % (r.status, run))
            continue
        while run["status"] in ("queued", "running"):
            c.request("GET", "/v1/runs/%s?wait=5" % run["id"])
            run = json.loads(c.getresponse().read())
        if run["status"] != "succeeded":
            errors.append("run %s" % run["status"])
    c.close()


def measure(binary, args, model, runs):
    """Runs per second of @p runs runs of inline @p model (JSON text), the daemon's CPU
    milliseconds per run, and the builds the daemon made."""
    d = Daemon(binary, ["--workers", str(args.workers)])
    try:
        counter = iter(range(1, 10 ** 9))
        lock = threading.Lock()

        def seeds():
            while True:
                with lock:
                    s = next(counter)
                yield s

        errors = []
        client(d.port, model, args.steps, 5, seeds(), errors)  # warm-up
        per = runs // args.concurrency
        threads = [threading.Thread(target=client,
                                    args=(d.port, model, args.steps, per, seeds(), errors))
                   for _ in range(args.concurrency)]
        cpu0 = cpu_seconds(d.proc.pid)
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        secs = time.monotonic() - t0
        cpu_ms = (cpu_seconds(d.proc.pid) - cpu0) * 1e3 / (per * args.concurrency)
        n_builds = builds(d.port)  # the warm-up's included
        if errors:
            print("errors: %d, first: %s" % (len(errors), errors[0]), file=sys.stderr)
        return per * args.concurrency / secs, cpu_ms, n_builds, per * args.concurrency + 5
    finally:
        d.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--eirnnd", action="append", required=True, help="NAME=PATH")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--steps", type=int, default=50)
    a = ap.parse_args()
    daemons = [tuple(x.split("=", 1)) for x in a.eirnnd]
    models = {"explicit": json.dumps(explicit_model(a.n)),
              "recipe": json.dumps(recipe_model(a.n))}
    rates = {(name, kind): [] for name, _ in daemons for kind in models}
    cpus = {(name, kind): [] for name, _ in daemons for kind in models}
    nbuilds = {}
    for rnd in range(a.rounds):
        order = daemons if rnd % 2 == 0 else daemons[::-1]
        for kind, model in models.items():
            for name, path in order:
                rate, cpu_ms, nb, runs = measure(path, a, model, a.runs)
                rates[(name, kind)].append(rate)
                cpus[(name, kind)].append(cpu_ms)
                nbuilds[(name, kind)] = (nb, runs)
                print("round %d %-8s %-10s %8.1f runs/s  daemon CPU %6.2f ms/run  builds %d for "
                      "%d runs" % (rnd + 1, kind, name, rate, cpu_ms, nb, runs), flush=True)
    print("\nmedians over %d rounds (N = %d, T = %d, B = 1, %d in flight, %d workers; model "
          "bodies: explicit %d bytes, recipe %d bytes):"
          % (a.rounds, a.n, a.steps, a.concurrency, a.workers, len(models["explicit"]),
             len(models["recipe"])))
    print("| model | daemon | runs/s | ratio | daemon CPU ms/run | ratio | builds (last round) |")
    print("|---|---|---|---|---|---|---|")
    for kind in models:
        base = statistics.median(rates[(daemons[0][0], kind)])
        base_cpu = statistics.median(cpus[(daemons[0][0], kind)])
        for name, _ in daemons:
            med = statistics.median(rates[(name, kind)])
            cpu = statistics.median(cpus[(name, kind)])
            nb, runs = nbuilds[(name, kind)]
            print("| %s | %s | %.1f | %.2fx | %.2f | %.2fx | %d / %d runs |"
                  % (kind, name, med, med / base, cpu, cpu / base_cpu, nb, runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
