#!/usr/bin/python3
"""The tables of bench/pg/run_pg_bench.sh from the files it left in its directory.

Usage: pg_bench_table.py DIR REPS "CONFIG ..."  (Markdown on stdout, warnings at the end)
"""
import glob
import json
import os
import re
import statistics
import sys

d, reps, configs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
med = statistics.median
problems = []


def span(xs, fmt):
    return f"{fmt.format(min(xs))}–{fmt.format(max(xs))}"


def pair(path):
    a, b = (float(x) for x in open(path).read().split())
    return b - a


def ms(text):
    v, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def label(c):
    line = open(f"{d}/{c}.0.log").readline()
    w = re.search(r'"workers":(\d+)', line).group(1)
    h = re.search(r'"http_threads":(\d+)', line).group(1)
    k = sum(1 for _ in open(f"{d}/{c}.daemons"))
    store = "SQLite" if c == "sqlite" else "PostgreSQL"
    return f"{store}, {k} daemon{'s' if k > 1 else ''} ({w} w + {h} h each)"


def runs(c, model):
    out = []
    for i in range(1, reps + 1):
        j = json.load(open(f"{d}/{c}-{model}-{i}.json"))
        if j["errors"]:
            problems.append(f"{c} {model} repetition {i}: {j['errors']} runs failed")
        total = int(open(f"{d}/{c}-{model}-{i}.total").read())
        pg = pair(f"{d}/{c}-{model}-{i}.pgcpu") / total * 1e3
        (x0, w0), (x1, w1) = (map(int, line.split("|"))
                              for line in open(f"{d}/{c}-{model}-{i}.pgx").read().split())
        out.append(dict(rate=j["runs_per_s"], p50=j["total_ms"]["p50"], p99=j["total_ms"]["p99"],
                        srv=j.get("server_cpu_ms_per_run", float("nan")), pg=pg,
                        xacts=(x1 - x0 - 1) / total, wal=(w1 - w0) / total / 1e3,
                        load=j["loadavg_before"]))
    return out


def status(c):
    out = []
    for i in range(1, reps + 1):
        rps, nreq, p50, p99 = 0.0, 0, 0.0, 0.0
        for f in sorted(glob.glob(f"{d}/{c}-status-{i}.wrk*.txt")):
            t = open(f).read()
            rps += float(re.search(r"Requests/sec:\s*([\d.]+)", t).group(1))
            nreq += int(re.search(r"(\d+) requests in", t).group(1))
            p50 = max(p50, ms(re.search(r"^\s*50%\s+(\S+)", t, re.M).group(1)))
            p99 = max(p99, ms(re.search(r"^\s*99%\s+(\S+)", t, re.M).group(1)))
            bad = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", t)
            if bad:
                problems.append(f"{c} status repetition {i}: {bad.group(1)} non-2xx answers")
            if re.search(r"Socket errors:", t):
                problems.append(f"{c} status repetition {i}: wrk socket errors")
        both = pair(f"{d}/{c}-status-{i}.cpu")
        pg = pair(f"{d}/{c}-status-{i}.pgcpu")
        out.append(dict(rate=rps, p50=p50, p99=p99, srv=(both - pg) / nreq * 1e6,
                        pg=pg / nreq * 1e6, load=float(open(f"{d}/{c}-status-{i}.load").read())))
    return out


data = {c: {"small": runs(c, "small"), "trivial": runs(c, "trivial"), "status": status(c)}
        for c in configs}
base = configs[0]


def row(name, kind, key, fmt, ratio=False, pg_only=False):
    cells = []
    for c in configs:
        xs = [m[key] for m in data[c][kind]]
        if pg_only and c == "sqlite":
            cells.append("–")
        elif ratio:
            b = med(m[key] for m in data[base][kind])
            cells.append(f"{med(xs) / b:.2f}×")
        else:
            cells.append(f"{fmt.format(med(xs))} ({span(xs, fmt)})")
    return f"| {name} | " + " | ".join(cells) + " |"


print(f"Service (medians of {reps}, range in brackets; w = workers, h = HTTP threads):\n")
print("| | " + " | ".join(label(c) for c in configs) + " |")
print("|---|" + "---:|" * len(configs))
for kind, title, unit in (("small", "small runs/s (N=100, T=100)", "run"),
                          ("trivial", "trivial runs/s (N=2, T=1)", "run")):
    print(row(f"**{title}**", kind, "rate", "{:.0f}"))
    print(row("  vs SQLite", kind, "rate", "", ratio=True))
    print(row("  latency p50 (ms)", kind, "p50", "{:.1f}"))
    print(row("  latency p99 (ms)", kind, "p99", "{:.1f}"))
    print(row(f"  daemons' CPU per {unit} (ms)", kind, "srv", "{:.2f}"))
    print(row(f"  PostgreSQL CPU per {unit} (ms)", kind, "pg", "{:.2f}", pg_only=True))
    print(row(f"  PostgreSQL write transactions per {unit}", kind, "xacts", "{:.2f}",
              pg_only=True))
    print(row(f"  WAL per {unit} (kB)", kind, "wal", "{:.1f}", pg_only=True))
    print(row("  load average before", kind, "load", "{:.2f}"))
print(row("**GET /v1/runs/{id} requests/s**", "status", "rate", "{:.0f}"))
print(row("  vs SQLite", "status", "rate", "", ratio=True))
print(row("  latency p50 (ms, worst daemon)", "status", "p50", "{:.2f}"))
print(row("  latency p99 (ms, worst daemon)", "status", "p99", "{:.2f}"))
print(row("  daemons' CPU per request (µs)", "status", "srv", "{:.1f}"))
print(row("  PostgreSQL CPU per request (µs)", "status", "pg", "{:.1f}", pg_only=True))
print(row("  load average before", "status", "load", "{:.2f}"))
cells = []
for c in configs:
    n = [int(open(f).read()) for f in glob.glob(f"{d}/{c}-conns-*")]
    cells.append(f"{max(n)}" if n else "–")
print("| PostgreSQL connections open after the load (most of the repetitions) | " +
      " | ".join(cells) + " |")

stores = {b: json.load(open(f"{d}/store-{b}.json")) for b in ("sqlite", "pg")
          if os.path.exists(f"{d}/store-{b}.json")}
if len(stores) == 2:
    s, p = stores["sqlite"], stores["pg"]
    print("\nStore operations alone (bench_store; p50 (p90) in ms, nearest rank):\n")
    print("| operation | SQLite | PostgreSQL | PostgreSQL / SQLite (p50) |")
    print("|---|---:|---:|---:|")
    kib = lambda n: f"{n // 1024} KiB" if n < 1 << 20 else f"{n >> 20} MiB"
    for key, name in (("create", "create a queued run"), ("claim", "claim one run"),
                      ("claim_empty", "claim on an empty queue"),
                      ("commit_small", f"finish with a {kib(s['small_bytes'])} result"),
                      ("commit_small_final", "  of which finish_commit"),
                      ("commit_large", f"finish with a {kib(s['large_bytes'])} result"),
                      ("commit_large_final", "  of which finish_commit")):
        a, b = s[key], p[key]
        print(f"| {name} (n = {a['n']}) | {a['p50_ms']:.3f} ({a['p90_ms']:.3f}) | "
              f"{b['p50_ms']:.3f} ({b['p90_ms']:.3f}) | {b['p50_ms'] / a['p50_ms']:.2f} |")
    mb = s["large_bytes"] / 1e6
    print(f"| large result write rate (MB/s) | {mb / s['commit_large']['p50_ms'] * 1e3:.0f} | "
          f"{mb / p['commit_large']['p50_ms'] * 1e3:.0f} | |")
    for t in s["claims_per_s"]:
        a, b = s["claims_per_s"][t], p["claims_per_s"][t]
        print(f"| claims/s, {t} thread{'s' if t != '1' else ''} at once | {a:.0f} | {b:.0f} | "
              f"{b / a:.2f} |")

notify = {}
for f in glob.glob(f"{d}/notify-*-*-*.txt"):
    kind, clients, _ = os.path.basename(f)[len("notify-"):-len(".txt")].split("-")
    m = re.search(r"^tps = ([\d.]+)", open(f).read(), re.M)
    if m:
        notify.setdefault(int(clients), {}).setdefault(kind, []).append(float(m.group(1)))
if notify:
    print("\nPostgreSQL commits/s of a one-row UPDATE, alone and with a NOTIFY in its transaction "
          f"(pgbench, medians of {reps}):\n")
    print("| clients | plain | pg_notify() in the transaction | ratio | pg_notify() after it, "
          "synchronous_commit off | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for c in sorted(notify):
        x = notify[c]
        a, b, e = med(x["plain"]), med(x["notify"]), med(x.get("after", [float("nan")]))
        print(f"| {c} | {a:.0f} ({span(x['plain'], '{:.0f}')}) | "
              f"{b:.0f} ({span(x['notify'], '{:.0f}')}) | {b / a:.2f} | "
              f"{e:.0f} ({span(x.get('after', [e]), '{:.0f}')}) | {e / a:.2f} |")

for msg in problems:
    print(f"\nWARNING: {msg}")
