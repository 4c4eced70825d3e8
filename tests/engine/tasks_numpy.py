#!/usr/bin/python3
"""Regenerate the built-in tasks' trials in NumPy from docs/TASKS.md and compare them bit for
bit with the engine's (tests/engine/task_dump.c writes them).

Usage: tasks_numpy.py PATH/TO/engine_task_dump

Everything below follows docs/TASKS.md only: the generator ("Random numbers"), the order of the
draws, the rounding of durations, and each task's inputs, labels and masks. The scenarios must
match task_dump.c's.
"""
import math
import os
import sys
import tempfile
import subprocess
import unittest

import numpy as np

MASK64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def mix(z):
    """SplitMix64's output function."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class Stream:
    """Trial b's stream: SplitMix64 seeded with the (b+1)-th output of SplitMix64(key)."""

    def __init__(self, key, b):
        self.state = mix((key + (b + 1) * GAMMA) & MASK64)

    def uniform(self):
        self.state = (self.state + GAMMA) & MASK64
        return (mix(self.state) >> 11) * 2.0**-53

    def index(self, n):
        return int(self.uniform() * n)

    def normal(self):
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def duration(spec, rng):
    """One period's duration in ms (TASKS.md "Timing")."""
    kind = spec[0]
    if kind == "constant":
        return spec[1]
    if kind == "uniform":
        a, b = spec[1], spec[2]
        return a + (b - a) * rng.uniform()
    if kind == "choice":
        return spec[1][rng.index(len(spec[1]))]
    mean, lo, hi = spec[1], spec[2], spec[3]  # truncated_exponential
    if lo >= hi:
        return hi
    u = rng.uniform()
    return lo - mean * math.log(1.0 - u * (1.0 - math.exp(-(hi - lo) / mean)))


PERIODS = {
    "perceptual_decision_making": ["fixation", "stimulus", "delay", "decision"],
    "delay_match_sample": ["fixation", "sample", "delay", "test", "decision"],
    "context_decision_making": ["fixation", "stimulus", "delay", "decision"],
}
N_IN = {"perceptual_decision_making": 3, "delay_match_sample": 3, "context_decision_making": 7}


def generate(task, key, B):
    """The batch of TASKS.md for a built-in task (dict with name, dt, sigma, timing, cohs)."""
    name, dt, sigma = task["name"], task["dt"], task["sigma"]
    periods = PERIODS[name]
    trials = []
    for b in range(B):
        rng = Stream(key, b)
        tr = {"rng": rng}
        cohs = task.get("coherences")
        if name == "perceptual_decision_making":
            tr["gt"] = 1 + rng.index(2)
            tr["coh"] = cohs[rng.index(len(cohs))]
        elif name == "delay_match_sample":
            tr["gt"] = 1 + rng.index(2)
            tr["sample"] = rng.index(2)
        else:
            tr["gt"] = 1 + rng.index(2)
            tr["other"] = 1 + rng.index(2)
            tr["context"] = rng.index(2)
            tr["coh1"] = cohs[rng.index(len(cohs))]
            tr["coh2"] = cohs[rng.index(len(cohs))]
        start, tr["start"], tr["steps"] = 0, {}, {}
        for p in periods:
            n = math.floor(duration(task["timing"][p], rng) / dt)
            tr["start"][p], tr["steps"][p] = start, n
            start += n
        tr["len"] = start
        trials.append(tr)
    T = max(tr["len"] for tr in trials)
    n_in = N_IN[name]
    x = np.zeros((B, T, n_in))
    label = np.zeros((B, T), dtype=np.int32)
    mask = np.zeros((B, T))
    target = np.zeros((B, T, 3))
    gt = np.zeros(B, dtype=np.int32)
    context = np.zeros(B, dtype=np.int32)
    dec_end = np.zeros(B, dtype=np.int32)
    coherence = np.zeros(B)
    evidence = np.zeros(B)
    sd = sigma / math.sqrt(dt)
    for b, tr in enumerate(trials):
        rng, st, ns, L = tr["rng"], tr["start"], tr["steps"], tr["len"]
        dec = st["decision"]
        x[b, :dec, 0] = 1.0
        if name == "perceptual_decision_making":
            half = tr["coh"] / 200
            stim = [(1.0 if tr["gt"] == c + 1 else -1.0) * half + 0.5 for c in range(2)]
            ev = 0.0
            for k in range(st["stimulus"], st["stimulus"] + ns["stimulus"]):
                for c in range(2):
                    x[b, k, 1 + c] = stim[c] + rng.normal() * sd
                ev += x[b, k, 2] - x[b, k, 1]
            evidence[b] = ev
            c = tr["coh"]
            coherence[b] = 0.0 if c == 0 else (c if tr["gt"] == 2 else -c)
        elif name == "delay_match_sample":
            test = tr["sample"] if tr["gt"] == 1 else 1 - tr["sample"]
            for p, d in (("sample", tr["sample"]), ("test", test)):
                for k in range(st[p], st[p] + ns[p]):
                    for c in range(2):
                        x[b, k, 1 + c] = (1.0 if c == d else 0.0) + rng.normal() * sd
        else:
            choice = [tr["gt"], tr["other"]]
            if tr["context"] == 1:
                choice = [tr["other"], tr["gt"]]
            coh = [tr["coh1"], tr["coh2"]]
            x[b, :L, 5 + tr["context"]] = 1.0
            for i in range(2):
                for m in range(2):
                    v = (1.0 if choice[m] == i + 1 else -1.0) * (coh[m] / 200) + 0.5
                    for k in range(st["stimulus"], st["stimulus"] + ns["stimulus"]):
                        x[b, k, 1 + 2 * m + i] = v + rng.normal() * sd
            c = coh[tr["context"]]
            coherence[b] = 0.0 if c == 0 else (c if tr["gt"] == 2 else -c)
            context[b] = tr["context"]
        label[b, dec:L] = tr["gt"]
        mask[b, :L] = 1.0
        target[b, np.arange(L), label[b, :L]] = 1.0
        gt[b] = tr["gt"]
        dec_end[b] = L - 1
    return dict(x=x, target=target, label=label, mask=mask,
                len=np.array([tr["len"] for tr in trials], dtype=np.int32), gt=gt,
                context=context, decision_end=dec_end, coherence=coherence, evidence=evidence)


def generate_custom(c, key, B):
    """TASKS.md "Custom tasks": trial b is the set's trial int(u * n_trials), u the first
    uniform of trial b's stream."""
    n = c["x"].shape[0]
    idx = [Stream(key, b).index(n) for b in range(B)]
    label = c["label"][idx]
    n_out = c["n_out"]
    target = np.zeros(label.shape + (n_out,))
    np.put_along_axis(target, label[..., None].astype(np.int64), 1.0, axis=2)
    return dict(x=c["x"][idx], target=target, label=label, mask=c["mask"][idx],
                len=c["len"][idx])


KEY = 0x0123456789ABCDEF
B = 48
PDM_DEFAULT = {"fixation": ("constant", 100), "stimulus": ("constant", 2000),
               "delay": ("constant", 0), "decision": ("constant", 100)}
PDM_COH = [0, 6.4, 12.8, 25.6, 51.2]
CDM_DEFAULT = {"fixation": ("constant", 300), "stimulus": ("constant", 750),
               "delay": ("truncated_exponential", 600, 300, 3000),
               "decision": ("constant", 100)}


def scenario(s):
    if s == 0:
        return dict(name="perceptual_decision_making", dt=20, sigma=1.0, timing=PDM_DEFAULT,
                    coherences=PDM_COH)
    if s == 1:
        timing = {"fixation": ("uniform", 50, 400), "stimulus": ("uniform", 100, 800),
                  "delay": ("choice", [0, 100, 300]), "decision": ("constant", 100)}
        return dict(name="perceptual_decision_making", dt=20, sigma=0.7, timing=timing,
                    coherences=PDM_COH)
    if s == 2:
        timing = {"fixation": ("constant", 300), "sample": ("constant", 500),
                  "delay": ("truncated_exponential", 800, 200, 2000),
                  "test": ("constant", 500), "decision": ("constant", 900)}
        return dict(name="delay_match_sample", dt=20, sigma=1.0, timing=timing)
    if s == 3:
        return dict(name="context_decision_making", dt=20, sigma=1.0, timing=CDM_DEFAULT,
                    coherences=[5, 15, 50])
    if s == 4:
        return dict(name="context_decision_making", dt=7, sigma=0.3, timing=CDM_DEFAULT,
                    coherences=[0, 20])
    n, T, n_in, n_out = 6, 5, 3, 2
    i = np.arange(n * T)
    return dict(name="custom", n_out=n_out,
                x=(np.arange(n * T * n_in) * 0.125 - 3).reshape(n, T, n_in),
                label=((i * 7) % n_out).astype(np.int32).reshape(n, T),
                mask=((i % 3) * 0.5).reshape(n, T),
                len=(1 + np.arange(n) % T).astype(np.int32))


def read_dump(path):
    raw = open(path, "rb").read()
    off = 0

    def take(dtype, count):
        nonlocal off
        a = np.frombuffer(raw, dtype=dtype, count=count, offset=off)
        off += a.nbytes
        return a

    Bn, T, n_in, n_out, builtin = (int(v) for v in take("<i4", 5))
    d = dict(x=take("<f8", Bn * T * n_in).reshape(Bn, T, n_in),
             target=take("<f8", Bn * T * n_out).reshape(Bn, T, n_out),
             label=take("<i4", Bn * T).reshape(Bn, T),
             mask=take("<f8", Bn * T).reshape(Bn, T), len=take("<i4", Bn))
    if builtin:
        for k in ("gt", "context", "decision_end"):
            d[k] = take("<i4", Bn)
        d["coherence"] = take("<f8", Bn)
        d["evidence"] = take("<f8", Bn)
    assert off == len(raw), "trailing bytes in the dump"
    return d


class TasksNumpy(unittest.TestCase):
    def check(self, s):
        spec = scenario(s)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "dump.bin")
            subprocess.run([DUMPER, str(s), path], check=True)
            got = read_dump(path)
        if spec["name"] == "custom":
            want = generate_custom(spec, KEY, B)
        else:
            want = generate(spec, KEY, B)
        self.assertEqual(set(got), set(want))
        for k in want:
            g, w = np.ascontiguousarray(got[k]), np.ascontiguousarray(want[k]).astype(got[k].dtype)
            self.assertEqual(g.shape, w.shape, k)
            diff = np.flatnonzero(g.view(np.uint8) != w.view(np.uint8))
            self.assertEqual(diff.size, 0, "%s differs (scenario %d), first at byte %s"
                             % (k, s, diff[:1]))

    def test_pdm_defaults(self):
        self.check(0)

    def test_pdm_varied(self):
        self.check(1)

    def test_dms(self):
        self.check(2)

    def test_cdm(self):
        self.check(3)

    def test_cdm_odd_dt(self):
        self.check(4)

    def test_custom(self):
        self.check(5)

    def test_generator_values(self):
        # SplitMix64 seeded with 0: its first outputs (Vigna's splitmix64.c), a guard on mix()
        state, out = 0, []
        for _ in range(3):
            state = (state + GAMMA) & MASK64
            out.append(mix(state))
        self.assertEqual(out, [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F])

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: tasks_numpy.py PATH/TO/engine_task_dump")
    DUMPER = sys.argv.pop(1)
    unittest.main(verbosity=2)
