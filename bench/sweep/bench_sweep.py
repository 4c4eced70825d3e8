#!/usr/bin/env python3
"""One sweep of POINTS runs against the same runs submitted one by one (docs/BENCHMARKS.md,
"Sweeps").

    bench_sweep.py --url URL [--points 1000] [--n 100] [--steps 1000] [--reps 3]
                   [--clients 32] [--out RESULTS.json]

Against a running eirnnd (bench/run_sweep_bench.sh starts one on a free port):

* sweep: POST /v1/sweeps with a seed axis of POINTS values over one stored model of N cells
  (80 % E, a generated recipe with noise, so that every seed is a different run), T = STEPS,
  B = 1, r recorded every STEPS steps (one row), one metrics window over the second half;
  timed from the POST to the first long poll (GET /v1/sweeps/{id}?wait=30) that answers
  "finished", then its table fetched (timed apart);
* single: the same POINTS run documents (the sweep's base run with "seed" and "metrics" set)
  posted to POST /v1/runs by CLIENTS threads, each posting one and long-polling it
  (GET /v1/runs/{id}?wait=60) to its end before taking the next; timed from the first POST to
  the last end.

The two alternate REPS times (sweep first in odd repetitions, single first in even ones), side
by side on the same daemon; every run is checked to have succeeded. The engine time of a point is
the median "meta.timings.simulate_s" of the single runs. With --pid, the daemon's CPU time
(user + system, /proc/PID/stat) of each measurement is taken too: on a loaded machine the wall
times move with the scheduler, the CPU time per point much less. Prints one JSON
object (medians, each repetition, the overhead per point over the engine time). Standard library
only (urllib and threads). Not a test.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def call(url, method, path, body=None, timeout=120):
    """One request: (status, decoded JSON or None). Retries a 503 after its Retry-After."""
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    while True:
        req = urllib.request.Request(url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            if e.code == 503:
                time.sleep(float(e.headers.get("Retry-After") or 1))
                continue
            raise RuntimeError(f"{method} {path}: {e.code} {raw[:500]!r}") from None


def daemon_cpu(pid):
    """CPU seconds (user + system) eirnnd @pid has used so far; None without a pid."""
    if not pid:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def daemon_runq_wait(pid):
    """Seconds eirnnd's threads have spent runnable but waiting for a CPU (the second field of
    /proc/PID/task/*/schedstat), summed; None without a pid."""
    if not pid:
        return None
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass  # a thread that ended meanwhile
    return total / 1e9


def measured(pid, fn, *args):
    """fn(*args) with the CPU seconds of the daemon and of this client, and the daemon's
    run-queue wait, added to its result."""
    d0, w0, c0 = daemon_cpu(pid), daemon_runq_wait(pid), time.process_time()
    out = fn(*args)
    d1, w1, c1 = daemon_cpu(pid), daemon_runq_wait(pid), time.process_time()
    out["daemon_cpu_s"] = None if d0 is None else d1 - d0
    out["daemon_runq_wait_s"] = None if w0 is None else w1 - w0
    out["client_cpu_s"] = c1 - c0
    return out


def model_doc(n):
    n_e = int(round(0.8 * n))
    n_i = n - n_e
    return {
        "name": f"bench-sweep-{n}",
        "class": "gated",
        "populations": {"E": n_e, "I": n_i},
        "activation": {"name": "relu"},
        "leak": 1.0,
        "bias": 0.2,
        "recurrent": {"generate": {"seed": 1, "p": 0.2, "dist": "lognormal",
                                   "mean": {"EE": 0.05, "EI": 0.2, "IE": 0.05, "II": 0.2},
                                   "spectral_radius": 0.8},
                      "A": {"E": 0.5, "I": 1.0}},
        "noise": {"sigma": 0.1},
    }


def base_run(steps):
    return {"dt": 0.1, "inputs": {"steps": steps, "trials": 1}, "seed": 1,
            "record": {"vars": ["r"], "every": steps}}


def metrics(steps):
    return {"windows": [{"name": "late_r", "var": "r", "from": steps // 2, "to": steps}]}


def engine_cpu(eirnn, n, points, steps):
    """CPU seconds of the engine per run, offline: `eirnn simulate` of one run of points x steps
    steps (the same model, metrics window and recording, process start and model build
    amortised over all of them), divided by @points; also its wall seconds per run."""
    with tempfile.TemporaryDirectory() as tmp:
        total = points * steps
        run = dict(base_run(total), metrics=metrics(total))
        for name, doc in (("model.json", model_doc(n)), ("run.json", run)):
            with open(os.path.join(tmp, name), "w") as f:
                json.dump(doc, f)
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        subprocess.run([eirnn, "simulate", os.path.join(tmp, "model.json"),
                        os.path.join(tmp, "run.json"), "-o", os.path.join(tmp, "out"),
                        "--quiet"], check=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        wall = time.monotonic() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return cpu / points, wall / points


def time_sweep(url, model_id, points, steps):
    doc = {"name": "bench", "model_id": model_id, "run": base_run(steps),
           "axes": [{"path": "/run/seed", "values": list(range(1, points + 1))}],
           "metrics": metrics(steps), "labels": {"bench": "sweep"}}
    t0 = time.monotonic()
    _, s = call(url, "POST", "/v1/sweeps", doc)
    t_post = time.monotonic() - t0
    while s["status"] != "finished":
        _, s = call(url, "GET", f"/v1/sweeps/{s['id']}?wait=30", timeout=90)
    t_done = time.monotonic() - t0
    t1 = time.monotonic()
    _, table = call(url, "GET", f"/v1/sweeps/{s['id']}/table")
    t_table = time.monotonic() - t1
    if s["counts"].get("succeeded") != points or len(table["rows"]) != points:
        raise RuntimeError(f"sweep {s['id']}: counts {s['counts']}")
    return {"total_s": t_done, "post_s": t_post, "table_s": t_table, "id": s["id"]}


def time_single(url, model_id, points, steps, clients):
    nxt = [0]
    lock = threading.Lock()
    errors = []
    sim = []

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= points:
                return
            doc = dict(base_run(steps), model_id=model_id, seed=i + 1, metrics=metrics(steps),
                       labels={"bench": "single"})
            try:
                _, r = call(url, "POST", "/v1/runs", doc)
                while r["status"] in ("queued", "running"):
                    _, r = call(url, "GET", f"/v1/runs/{r['id']}?wait=60", timeout=120)
                if r["status"] != "succeeded":
                    errors.append(f"run {r['id']}: {r['status']}")
                with lock:
                    sim.append(r["meta"]["timings"]["simulate_s"])
            except Exception as e:  # noqa: BLE001 - reported after the threads end
                errors.append(str(e))

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = time.monotonic() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} single runs went wrong, e.g. {errors[0]}")
    return {"total_s": total, "simulate_s_median": statistics.median(sim)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--points", type=int, default=1000)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--workers", type=int, default=0, help="the daemon's workers (reported)")
    ap.add_argument("--pid", type=int, default=0, help="eirnnd's pid: its CPU time is measured")
    ap.add_argument("--eirnn", default="", help="the eirnn CLI: the engine's CPU time offline")
    a = ap.parse_args()
    _, m = call(a.url, "POST", "/v1/models", model_doc(a.n))
    while m.get("state") == "pending":
        time.sleep(0.1)
        _, m = call(a.url, "GET", f"/v1/models/{m['id']}")
    if m.get("state") != "ready":
        raise SystemExit(f"model {m['id']}: {m.get('state')} {m.get('error')}")
    # Warm-up: one run, so that the model is built in the daemon's cache before either timing.
    time_single(a.url, m["id"], 2, a.steps, 2)
    sweeps, singles = [], []
    for rep in range(a.reps):
        order = ("sweep", "single") if rep % 2 == 0 else ("single", "sweep")
        for what in order:
            if what == "sweep":
                sweeps.append(measured(a.pid, time_sweep, a.url, m["id"], a.points, a.steps))
            else:
                singles.append(measured(a.pid, time_single, a.url, m["id"], a.points, a.steps,
                                        a.clients))
            last = (sweeps if what == "sweep" else singles)[-1]
            print(f"# rep {rep + 1} {what}: {last['total_s']:.2f} s, daemon CPU "
                  f"{last['daemon_cpu_s']} s, daemon run-queue wait {last['daemon_runq_wait_s']} "
                  f"s, client CPU {last['client_cpu_s']:.2f} s, load "
                  f"{open('/proc/loadavg').read().split()[0]}", file=sys.stderr, flush=True)
    sw = statistics.median(s["total_s"] for s in sweeps)
    si = statistics.median(s["total_s"] for s in singles)
    eng = statistics.median(s["simulate_s_median"] for s in singles)
    workers = a.workers or 1
    # The engine alone would take points x eng / workers on the daemon's workers.
    floor = a.points * eng / workers
    out = {
        "points": a.points, "n": a.n, "steps": a.steps, "reps": a.reps, "clients": a.clients,
        "workers": a.workers,
        "sweep_s": [round(s["total_s"], 3) for s in sweeps],
        "sweep_post_s": [round(s["post_s"], 3) for s in sweeps],
        "sweep_table_s": [round(s["table_s"], 3) for s in sweeps],
        "single_s": [round(s["total_s"], 3) for s in singles],
        "median_sweep_s": round(sw, 3), "median_single_s": round(si, 3),
        "single_over_sweep": round(si / sw, 3),
        "engine_simulate_s_per_run": eng,
        "engine_floor_s": round(floor, 3),
        "sweep_overhead_per_point_ms": round(1000 * (sw - floor) * workers / a.points, 3),
        "single_overhead_per_point_ms": round(1000 * (si - floor) * workers / a.points, 3),
    }
    if a.eirnn:
        ecpu, ewall = engine_cpu(a.eirnn, a.n, a.points, a.steps)
        out["engine_offline_cpu_s_per_run"] = ecpu
        out["engine_offline_wall_s_per_run"] = ewall
    if a.pid:
        dsw = statistics.median(s["daemon_cpu_s"] for s in sweeps)
        dsi = statistics.median(s["daemon_cpu_s"] for s in singles)
        out.update({
            "sweep_daemon_cpu_s": [round(s["daemon_cpu_s"], 3) for s in sweeps],
            "single_daemon_cpu_s": [round(s["daemon_cpu_s"], 3) for s in singles],
            "median_sweep_daemon_cpu_s": round(dsw, 3),
            "median_single_daemon_cpu_s": round(dsi, 3),
            "sweep_daemon_runq_wait_s": [round(s["daemon_runq_wait_s"], 3) for s in sweeps],
            "single_daemon_runq_wait_s": [round(s["daemon_runq_wait_s"], 3) for s in singles],
            # daemon CPU per point beyond the engine's own CPU time (offline, `eirnn simulate`):
            # robust to the machine's load, unlike simulate_s (a wall time)
            "sweep_cpu_overhead_per_point_ms": round(1000 * (dsw / a.points - ecpu), 3)
            if a.eirnn else None,
            "single_cpu_overhead_per_point_ms": round(1000 * (dsi / a.points - ecpu), 3)
            if a.eirnn else None,
            "single_client_cpu_s": round(statistics.median(s["client_cpu_s"] for s in singles),
                                         3),
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
