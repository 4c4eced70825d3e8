#!/usr/bin/python3
"""A large network through the service (issue 10, item 10): N = 10,000 cells, p = 0.1, B = 1.

Starts a fresh eirnnd on a temporary database and measures, REPS times each:
  * model creation: how long POST /v1/models takes to answer (target: within a second; the
    build itself is a worker's job), and the build the model resource reports (build_s);
  * a run of STEPS steps by model_id on the freshly created model (its build is part of the
    run's wait), then on the built model: the time from submission to the run's end against
    the run's own simulate_s + build_s (target: at most 1.2 x simulation + one build).
Not part of the test suite; needs only the standard library.

Usage: bench/large/bench_large_network.py EIRNND [--n 10000] [--p 0.1] [--steps 200]
       [--reps 3] [--radius] [--daemon-arg=--flag ...]
Prints a Markdown table (medians) and the raw figures as JSON on the last line.
"""
import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def request(port, method, path, body=None, timeout=600):
    con = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    t0 = time.monotonic()
    con.request(method, path, body=data, headers=headers)
    resp = con.getresponse()
    raw = resp.read()
    dt = time.monotonic() - t0
    con.close()
    return resp.status, (json.loads(raw) if raw else None), dt


def start_daemon(eirnnd, tmp, extra):
    log = open(os.path.join(tmp, "eirnnd.log"), "w+")
    args = [eirnnd, "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "eirnn.db")] + extra
    proc = subprocess.Popen(args, stderr=log, stdout=subprocess.DEVNULL)
    for _ in range(400):
        log.seek(0)
        m = re.search(r'"event":"listening".*?"port":(\d+)', log.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            log.seek(0)
            sys.exit("eirnnd did not start:\n" + log.read())
        time.sleep(0.05)
    proc.kill()
    sys.exit("eirnnd did not start in 20 s")


def model_doc(n, p, seed, radius):
    n_e = n * 4 // 5
    gen = {"seed": seed, "p": p, "dist": "lognormal", "cv": 0.5, "balance": True,
           "mean": {"EE": 0.0625, "EI": 0.125, "IE": 0.03125, "II": 0.1}}
    if radius:
        gen["spectral_radius"] = 0.9
    return {"name": f"bench-large-{n}", "class": "gated",
            "populations": {"E": n_e, "I": n - n_e}, "n_inputs": 1,
            "activation": {"name": "relu"}, "leak": 1.0, "bias": 0.1,
            "recurrent": {"generate": gen, "A": {"E": 0.5, "I": 1.0}},
            "input": {"generate": {"seed": seed + 1, "mean": 1.0}}}


def wait_model(port, mid):
    t0 = time.monotonic()
    while True:
        st, m, _ = request(port, "GET", f"/v1/models/{mid}")
        if st != 200:
            sys.exit(f"GET model: {st} {m}")
        if m.get("state", "ready") != "pending":
            return m, time.monotonic() - t0
        time.sleep(0.05)


def run(port, mid, steps):
    body = {"model_id": mid, "dt": 0.1, "inputs": {"steps": steps}, "seed": 1,
            "record": {"vars": ["r"], "every": 1}}
    t0 = time.monotonic()
    st, r, _ = request(port, "POST", "/v1/runs", body)
    if st not in (200, 202):
        sys.exit(f"POST run: {st} {r}")
    submit_s = time.monotonic() - t0
    while True:
        st, r, _ = request(port, "GET", f"/v1/runs/{r['id']}?wait=60")
        if r["status"] not in ("queued", "running"):
            break
    wall = time.monotonic() - t0
    if r["status"] != "succeeded":
        sys.exit(f"run {r['id']} ended {r['status']}: {r.get('error')}")
    t = r["meta"]["timings"]
    return {"submit_s": submit_s, "wall_s": wall, "simulate_s": t["simulate_s"],
            "build_s": t.get("build_s") or 0.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("eirnnd")
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--p", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--radius", action="store_true", help="rescale to spectral radius 0.9")
    ap.add_argument("--daemon-arg", action="append", default=[])
    a = ap.parse_args()
    extra = ["--max-neurons", str(max(a.n, 4096)), "--workers", "1"] + a.daemon_arg
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_daemon(a.eirnnd, tmp, extra)
        try:
            for k in range(a.reps):
                st, m, post_s = request(port, "POST", "/v1/models",
                                        model_doc(a.n, a.p, 10 + 2 * k, a.radius))
                if st not in (201, 202):
                    sys.exit(f"POST model: {st} {m}")
                first = run(port, m["id"], a.steps)  # queued behind (or waiting for) the build
                built, ready_s = wait_model(port, m["id"])
                again = run(port, m["id"], a.steps)  # the model is cached now
                rows.append({"post_s": post_s, "post_status": st, "build_s": built.get("build_s"),
                             "first": first, "cached": again})
                print(f"# rep {k + 1}/{a.reps}: POST {post_s:.3f} s ({st}), build "
                      f"{built.get('build_s')} s, first run {first['wall_s']:.2f} s "
                      f"(simulate {first['simulate_s']:.2f} s), cached run "
                      f"{again['wall_s']:.2f} s (simulate {again['simulate_s']:.2f} s)",
                      flush=True)
        finally:
            proc.terminate()
            proc.wait(timeout=60)
    med = statistics.median
    build = med(r["build_s"] or 0.0 for r in rows)
    ratio_first = med(r["first"]["wall_s"] / (r["first"]["simulate_s"] + build) for r in rows)
    ratio_cached = med(r["cached"]["wall_s"] / r["cached"]["simulate_s"] for r in rows)
    print(f"\n| N = {a.n}, p = {a.p}, B = 1, {a.steps} steps (median of {a.reps}) | value |")
    print("|---|---|")
    print(f"| POST /v1/models answer | {med(r['post_s'] for r in rows) * 1e3:.1f} ms |")
    print(f"| model build (reported build_s) | {build:.2f} s |")
    print(f"| first run: submit to end | {med(r['first']['wall_s'] for r in rows):.2f} s |")
    print(f"| first run: simulate_s | {med(r['first']['simulate_s'] for r in rows):.2f} s |")
    print(f"| first run / (simulation + one build) | {ratio_first:.3f} (target <= 1.2) |")
    print(f"| cached run: submit to end | {med(r['cached']['wall_s'] for r in rows):.2f} s |")
    print(f"| cached run / simulation | {ratio_cached:.3f} |")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
