#!/usr/bin/python3
"""The PyTorch peer of bench_train: one training iteration of the same E/I RNN, written the way a
PyTorch user would write it (Debian's python3-torch, CPU, eager mode).

The network, its initial weights, the inputs and the labels are read from the case files that
`bench_train --write DIR` writes (DIR/CASE.json describes DIR/CASE.bin, float64 little-endian
arrays), so that both sides train the very same network on the very same batch. The model
(docs/MODEL.md sections 2-7, docs/TRAINING.md "What is trained"):

    W = |theta_W| * D        (classes dale, gated: D = mask * column sign, Dale by construction)
    W = theta_W * mask       (class rnn)
    M = A * |W|              (class gated; rnn and dale have no recurrent gate)
    I = W r + P x + b,   z = G_b + M r
    V <- V exp(-z dt) + I (-expm1(-z dt)) / z          (exp_euler; euler: V + dt (-z V + I))
    r = relu(V),   y = W_out r + b_out

from V_0 = 0 over T steps, then cross-entropy of softmax(y) against the labels averaged over
trials and steps, loss.backward(), clip_grad_norm_ and torch.optim.Adam.step(). Trained: theta_W,
P, bias, W_out, b_out (eirnn's default); A and G_b are fixed buffers. float32 runs the module in
float32 throughout (parameters, Adam state); float64 in float64.

Usage:
  torch_train.py --dir DIR --cases gated-50x16,... [--prec float32,float64] [--threads 1]
                 [--reps R] [--warmup W] [--json FILE]            time one iteration per case
  torch_train.py --dir DIR --check CASE                           compare with eirnn's first
        iteration (loss, gradient norm and every gradient entry, and the loss after one Adam
        step) written by bench_train --write; exit 1 when float64 disagrees by more than 1e-9
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

ARRAYS = ("W", "A", "leak", "bias", "P", "W_out", "b_out", "x", "label")


def load_case(directory, name):
    """The case's description (JSON) and its arrays (float64, in the order the JSON lists)."""
    with open(os.path.join(directory, name + ".json")) as f:
        desc = json.load(f)
    raw = np.fromfile(os.path.join(directory, name + ".bin"), dtype="<f8")
    arrays, off = {}, 0
    for a in desc["arrays"]:
        size = int(np.prod(a["shape"]))
        arrays[a["name"]] = raw[off:off + size].reshape(a["shape"])
        off += size
    if off != raw.size or set(arrays) != set(ARRAYS):
        sys.exit(f"torch_train: {name}.bin does not match {name}.json")
    return desc, arrays


class EIRNN(torch.nn.Module):
    """A rate RNN of the class rnn, dale or gated, parameterised as eirnn trains it."""

    def __init__(self, desc, arr, dtype):
        super().__init__()
        self.cls = desc["class"]
        self.dt = desc["dt"]
        self.sigma = desc["sigma"]
        self.integrator = desc["integrator"]
        n, n_e = desc["N"], desc["n_e"]

        def t(a):
            return torch.tensor(a, dtype=dtype)

        W0 = arr["W"]
        mask = (W0 != 0).astype(np.float64)
        if self.cls == "rnn":
            self.theta_W = torch.nn.Parameter(t(W0))
            self.register_buffer("D", t(mask))
        else:
            sign = np.where(np.arange(n) < n_e, 1.0, -1.0)
            self.theta_W = torch.nn.Parameter(t(np.abs(W0)))
            self.register_buffer("D", t(mask * sign[None, :]))
        self.register_buffer("A", t(arr["A"]) if self.cls == "gated" else None)
        self.register_buffer("leak", t(arr["leak"]))
        self.bias = torch.nn.Parameter(t(arr["bias"]))
        self.P = torch.nn.Parameter(t(arr["P"]))
        self.W_out = torch.nn.Parameter(t(arr["W_out"]))
        self.b_out = torch.nn.Parameter(t(arr["b_out"]))

    def forward(self, x):
        """Readout y (B x T x n_out) of the inputs x (B x T x n_in), from V_0 = 0."""
        if self.cls == "rnn":
            W = self.theta_W * self.D
        else:
            W = self.theta_W.abs() * self.D
        M = self.A * W.abs() if self.cls == "gated" else None
        B, T, _ = x.shape
        # input currents of every step at once, split into steps by unbind (indexing drive[:, k]
        # in the loop would make backward() add T zero-padded B x T x N gradients)
        drive = (x @ self.P.T + self.bias).unbind(1)
        V = x.new_zeros(B, W.shape[0])
        r = torch.relu(V)
        dt = self.dt
        if M is None:  # fixed time constants: the step's factors are computed once
            z = self.leak
            decay, gain = torch.exp(-z * dt), -torch.expm1(-z * dt) / z
            g = -torch.expm1(-z * dt)
        rates = []
        for k in range(T):
            I = r @ W.T + drive[k]
            if M is not None:
                z = self.leak + r @ M.T
            if self.integrator == "euler":
                V = V + dt * (I - z * V)
            else:
                if M is not None:
                    g = -torch.expm1(-z * dt)
                    decay, gain = torch.exp(-z * dt), g / z
                V = V * decay + I * gain
            if self.sigma > 0:
                if self.integrator == "euler":
                    s = self.sigma * dt**0.5
                else:
                    s = self.sigma * torch.sqrt(g * (2 - g) / (2 * z))
                V = V + s * torch.randn_like(V)
            r = torch.relu(V)
            rates.append(r)
        R = torch.stack(rates, dim=1)
        return R @ self.W_out.T + self.b_out


class Trainer:
    """The model, the batch and Adam of one case in one precision."""

    def __init__(self, desc, arr, dtype):
        self.model = EIRNN(desc, arr, dtype)
        self.x = torch.tensor(arr["x"], dtype=dtype)
        self.label = torch.tensor(arr["label"].astype(np.int64))
        self.n_out = desc["n_out"]
        self.clip = desc["clip_norm"]
        self.opt = torch.optim.Adam(self.model.parameters(), lr=desc["lr"],
                                    betas=(desc["beta1"], desc["beta2"]), eps=desc["eps"])

    def loss(self):
        y = self.model(self.x)
        return F.cross_entropy(y.reshape(-1, self.n_out), self.label.reshape(-1))

    def iteration(self, parts=None):
        """One training iteration; returns the loss and the gradient norm before clipping.
        @p parts (a list) gets the wall seconds of the forward pass with the loss, of
        backward() and of clipping with Adam's step."""
        t0 = time.perf_counter()
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        self.opt.step()
        if parts is not None:
            parts[:] = [t1 - t0, t2 - t1, time.perf_counter() - t2]
        return float(loss), float(norm)


def blas_info():
    """The OpenBLAS that libtorch's BLAS calls end in (Debian: libblas.so.3)."""
    import ctypes
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_config.restype = ctypes.c_char_p
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return (f"{lib.openblas_get_config().decode()} | core "
                f"{lib.openblas_get_corename().decode()}")
    except (OSError, AttributeError):
        return "BLAS: not OpenBLAS or not found"


def time_case(directory, name, prec, threads, reps, warmup):
    desc, arr = load_case(directory, name)
    tr = Trainer(desc, arr, torch.float32 if prec == "float32" else torch.float64)
    first = None
    for _ in range(warmup):
        loss, norm = tr.iteration()
        first = first if first is not None else (loss, norm)
    walls, cpus, parts, p = [], [], [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        loss, norm = tr.iteration(p)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        parts.append(list(p))
        first = first if first is not None else (loss, norm)
    if not np.isfinite(loss):
        sys.exit(f"torch_train: {name} {prec}: the loss is not finite")
    return {"side": "torch", "case": name, "class": desc["class"], "N": desc["N"],
            "B": desc["B"], "T": desc["T"], "precision": prec, "threads": threads,
            "reps": reps, "warmup": warmup, "median_s": float(np.median(walls)),
            "min_s": min(walls), "max_s": max(walls), "median_cpu_s": float(np.median(cpus)),
            "median_forward_s": float(np.median([q[0] for q in parts])),
            "median_backward_s": float(np.median([q[1] for q in parts])),
            "median_step_s": float(np.median([q[2] for q in parts])),
            "times_s": walls, "cpu_s": cpus, "forward_s": [q[0] for q in parts],
            "backward_s": [q[1] for q in parts], "step_s": [q[2] for q in parts], "first_loss": first[0], "first_grad_norm": first[1],
            "last_loss": loss}


def check_case(directory, name):
    """eirnn's first iteration (from the case file) against the same iteration here."""
    desc, arr = load_case(directory, name)
    eng = desc.get("engine")
    if not eng:
        sys.exit(f"torch_train: {name}.json has no engine results (bench_train --write)")
    worst = 0.0
    for prec, dtype in (("float64", torch.float64), ("float32", torch.float32)):
        e = eng.get(prec)
        if not e:
            continue
        tr = Trainer(desc, arr, dtype)
        loss = tr.loss()
        loss.backward()
        m = tr.model
        grads = {"W": m.theta_W.grad, "P": m.P.grad, "bias": m.bias.grad, "W_out": m.W_out.grad,
                 "b_out": m.b_out.grad}
        g_eng = np.fromfile(os.path.join(directory, e["grad_file"]), dtype="<f8")
        norm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())))
        rel_loss = abs(float(loss) - e["loss"]) / abs(e["loss"])
        rel_norm = abs(norm - e["grad_norm"]) / e["grad_norm"]
        # every gradient entry, relative to the largest entry of its parameter
        rel_grad = 0.0
        for p, (off, n) in e["layout"].items():
            if p not in grads:
                if n and np.any(g_eng[off:off + n] != 0):
                    sys.exit(f"torch_train: eirnn has a gradient for frozen {p}")
                continue
            ge = g_eng[off:off + n]
            gt = grads[p].double().reshape(-1).numpy()
            scale = max(np.max(np.abs(gt)), 1e-300)
            rel_grad = max(rel_grad, float(np.max(np.abs(ge - gt)) / scale))
        # one Adam step (with clipping) then the loss again: the optimiser agrees too
        norm_c = torch.nn.utils.clip_grad_norm_(m.parameters(), tr.clip)
        tr.opt.step()
        with torch.no_grad():
            loss2 = float(tr.loss())
        rel_loss2 = abs(loss2 - e["loss2"]) / abs(e["loss2"])
        print(f"# check {name} {prec}: loss torch {float(loss):.17g} eirnn {e['loss']:.17g} "
              f"(rel {rel_loss:.2e}); grad norm torch {norm:.17g} (clip_grad_norm_ "
              f"{float(norm_c):.17g}) eirnn {e['grad_norm']:.17g} (rel {rel_norm:.2e}); "
              f"max |grad diff| / max |grad| per parameter {rel_grad:.2e}; loss after one Adam "
              f"step torch {loss2:.17g} eirnn {e['loss2']:.17g} (rel {rel_loss2:.2e})")
        if prec == "float64":
            worst = max(rel_loss, rel_norm, rel_grad, rel_loss2)
    ok = worst <= 1e-9
    print(f"# check {name}: float64 worst relative difference {worst:.2e} "
          f"({'agrees' if ok else 'DISAGREES'}, tolerance 1e-9)")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dir", required=True, help="case files of bench_train --write")
    ap.add_argument("--cases", default="gated-50x16,gated-512x64")
    ap.add_argument("--prec", default="float32,float64")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--json", help="append one JSON line per case to this file")
    ap.add_argument("--check", metavar="CASE")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    if args.check:
        sys.exit(0 if check_case(args.dir, args.check) else 1)
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}; "
          f"{blas_info()}")
    precs = [p for p in ("float32", "float64") if p in args.prec]
    out = open(args.json, "a") if args.json else None
    for name in args.cases.split(","):
        for prec in precs:
            row = time_case(args.dir, name, prec, args.threads, args.reps, args.warmup)
            print(f"  torch  {name:<14} {prec:<7} median {1e3 * row['median_s']:9.3f} ms "
                  f"(cpu {1e3 * row['median_cpu_s']:9.3f} ms, min {1e3 * row['min_s']:9.3f}; "
                  f"forward {1e3 * row['median_forward_s']:.3f}, backward "
                  f"{1e3 * row['median_backward_s']:.3f}, clip+Adam {1e3 * row['median_step_s']:.3f}) "
                  f"loss {row['first_loss']:.6f} -> {row['last_loss']:.6f}", flush=True)
            if out:
                out.write(json.dumps(row) + "\n")
                out.flush()
    if out:
        out.close()


if __name__ == "__main__":
    main()
