#!/usr/bin/env python3
"""Write the example documents of schema/examples/ and their manifest and README.

requests/*.json must be accepted (by the JSON Schemas in schema/json/ and by the C parser),
invalid/*.json must be rejected; manifest.json says which, with the field the parser's error
must name. schema/validate.sh and tests/schema/test_examples.c read the manifest.
Binary arrays are real little-endian float64/float32 bytes, base64-encoded.
Usage: python3 schema/examples/make_examples.py (then schema/validate.sh --sync).
"""
import base64
import copy
import json
import math
import os
import struct

R = os.path.dirname(os.path.abspath(__file__))
os.makedirs(R + "/requests", exist_ok=True)
os.makedirs(R + "/invalid", exist_ok=True)


def b64(values, fmt):
    """base64 of the little-endian packing of values with struct format letter fmt."""
    return base64.b64encode(b"".join(struct.pack("<" + fmt, v) for v in values)).decode()


def binary(nested, dtype="float64"):
    """The binary array form {"dtype", "shape", "base64"} of nested lists of numbers."""
    flat, shape = [], []
    x = nested
    while isinstance(x, list):
        shape.append(len(x))
        x = x[0] if x else None

    def walk(v):
        if isinstance(v, list):
            for e in v:
                walk(e)
        else:
            flat.append(float(v))

    walk(nested)
    return {"dtype": dtype, "shape": shape, "base64": b64(flat, "d" if dtype == "float64" else "f")}


def compact(v):
    return json.dumps(v, separators=(", ", ": "))

def pretty(v, indent=0, width=96):
    c = compact(v)
    if len(c) + indent <= width or not isinstance(v, (list, dict)) or not v:
        return c
    pad = " " * (indent + 2)
    if isinstance(v, list):
        items = [pad + pretty(e, indent + 2, width) for e in v]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    items = [pad + json.dumps(k) + ": " + pretty(e, indent + 2, width) for k, e in v.items()]
    return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"

def dump(path, obj):
    with open(path, "w") as f:
        f.write(pretty(obj) + "\n")

# ---------------------------------------------------------------- model 1: gated, explicit W
E1, I1 = 4, 2
W1 = [
    [0.0,  0.3,  0.2,  0.0, -0.5, -0.25],
    [0.25, 0.0,  0.0,  0.15, -0.5, 0.0],
    [0.2,  0.1,  0.0,  0.3,  0.0, -0.75],
    [0.0,  0.35, 0.25, 0.0, -0.25, -0.5],
    [0.5,  0.5,  0.25, 0.25, 0.0, -0.5],
    [0.25, 0.5,  0.5,  0.25, -0.25, 0.0],
]
P1 = [[1.0, 0.0], [0.5, 0.0], [0.0, 1.0], [0.0, 0.5], [0.25, 0.25], [0.25, 0.25]]
m1 = {
    "name": "gated-explicit",
    "description": "Gated E/I RNN, 4 E and 2 I cells, explicit W in nested lists (reduced form), A per presynaptic type, two inputs, one readout from the E cells.",
    "class": "gated",
    "populations": {"E": E1, "I": I1},
    "n_inputs": 2,
    "activation": {"name": "relu", "r_max": 50.0},
    "leak": 1.0,
    "recurrent": {"W": W1, "A": {"E": 1.0, "I": 0.5}, "dale": "reject"},
    "input": {"P": P1},
    "bias": 0.1,
    "readout": {"W_out": [[0.25, 0.25, 0.25, 0.25]], "b_out": [0.0], "from": "E"},
    "noise": {"sigma": 0.0},
}
dump(R + "/requests/model_gated_explicit.json", m1)

# ---------------------------------------------------------------- model 2: same model, binary arrays
N1 = E1 + I1
A1 = [[1.0 if j < E1 else 0.5 for j in range(N1)] for i in range(N1)]
m2 = {
    "name": "gated-binary",
    "description": "The model of model_gated_explicit.json with its arrays as base64 binary arrays: W and P float64, leak a float64 vector, A an N x N float32 matrix (1 and 0.5 are exact in float32), bias a float64 vector, W_out float64, b_out a scalar. Builds to the same model (same hash).",
    "class": "gated",
    "populations": {"E": E1, "I": I1},
    "n_inputs": 2,
    "activation": {"name": "relu", "r_max": 50.0},
    "leak": binary([1.0] * N1),
    "recurrent": {"W": binary(W1), "A": binary(A1, "float32"), "dale": "reject"},
    "input": {"P": binary(P1)},
    "bias": binary([0.1] * N1),
    "readout": {"W_out": binary([[0.25, 0.25, 0.25, 0.25]]), "b_out": 0.0, "from": "E"},
}
dump(R + "/requests/model_gated_binary.json", m2)

# ---------------------------------------------------------------- model 3: conductance form, shunting
E3, I3 = 3, 2
K3 = [
    [0.0, 0.2, 0.1, 0.5, 0.25],
    [0.2, 0.0, 0.2, 0.25, 0.5],
    [0.1, 0.2, 0.0, 0.5, 0.5],
    [0.3, 0.3, 0.3, 0.0, 0.2],
    [0.3, 0.2, 0.3, 0.2, 0.0],
]
m3 = {
    "name": "conductance-shunting",
    "description": "Conductance form: K >= 0 and reversal potentials relative to rest with E_I = 0, pure shunting inhibition: the I columns of W are zero while they still raise the gate z. Per-cell leak, softplus rates, input conductances M_in.",
    "class": "gated",
    "populations": {"E": E3, "I": I3},
    "n_inputs": 1,
    "activation": {"name": "softplus"},
    "leak": [1.0, 1.0, 1.0, 2.0, 2.0],
    "recurrent": {"K": K3, "E_rev": {"E": 4.0, "I": 0.0}},
    "input": {"P": [[1.0], [0.5], [0.0], [0.5], [0.0]], "M_in": [[0.1], [0.1], [0.0], [0.0], [0.0]]},
}
dump(R + "/requests/model_conductance_shunting.json", m3)

# ---------------------------------------------------------------- model 4: generated
m4 = {
    "name": "generated-ssn",
    "description": "400 cells (320 E, 80 I) generated from a seeded recipe: connection probability and mean magnitude per block (EI = E cells receiving from I cells), lognormal magnitudes, balanced rows, rescaled to spectral radius 0.9; a supralinear power activation; P generated too.",
    "class": "gated",
    "populations": {"E": 320, "I": 80},
    "n_inputs": 2,
    "activation": {"name": "power", "k": 0.04, "n": 2.0, "r_max": 100.0},
    "leak": 0.05,
    "recurrent": {
        "generate": {
            "seed": 42,
            "p": {"EE": 0.1, "EI": 0.4, "IE": 0.4, "II": 0.4},
            "dist": "lognormal",
            "mean": {"EE": 0.5, "EI": 1.0, "IE": 0.5, "II": 1.0},
            "cv": 0.5,
            "balance": True,
            "spectral_radius": 0.9,
            "self_connections": False,
        },
        "A": {"E": 0.2, "I": 0.4},
    },
    "input": {"P": {"generate": {"seed": 43, "p": {"E": 0.5, "I": 0.2}, "dist": "constant", "mean": 1.0}}},
    "noise": {"sigma": 0.1},
}
dump(R + "/requests/model_generated.json", m4)

# ---------------------------------------------------------------- model 5: generated, conductance form, input generate directly
m5 = {
    "name": "generated-conductance",
    "description": "Generated conductance form: generate with E_rev makes K >= 0; input recipe directly under input (gamma magnitudes), sigmoid rates, no recurrent self-connections.",
    "populations": {"E": 80, "I": 20},
    "n_inputs": 1,
    "activation": {"name": "sigmoid"},
    "leak": 0.1,
    "recurrent": {
        "generate": {"seed": 7, "p": 0.2, "dist": "gamma", "mean": 0.05, "cv": 1.0, "spectral_radius": None},
        "E_rev": {"E": 3.0, "I": -0.5},
    },
    "input": {"generate": {"seed": 8, "p": 1.0, "dist": "halfnormal", "mean": {"E": 0.5, "I": 0.25}}},
}
dump(R + "/requests/model_generated_conductance.json", m5)

# ---------------------------------------------------------------- model 6: dale class, project
W6 = [
    [0.0, 0.5, 0.25, -1.0],
    [0.5, 0.0, 0.5, -1.0],
    [0.25, 0.5, 0.0, 0.125],
    [1.0, 1.0, -0.5, 0.0],
]
m6 = {
    "name": "dale-project",
    "description": "Class dale: Dale's law without gating (fixed time constants), so linear or tanh rates are allowed and A is not needed. W has two sign violations (2,3) and (3,2), which \"dale\": \"project\" clips to 0.",
    "class": "dale",
    "populations": {"E": 3, "I": 1},
    "n_inputs": 1,
    "activation": {"name": "tanh"},
    "leak": [0.5, 0.5, 0.5, 1.0],
    "recurrent": {"W": W6, "dale": "project"},
    "input": {"P": [[1.0], [0.0], [0.0], [0.5]]},
    "bias": [0.0, 0.0, 0.0, 0.1],
    "readout": {"W_out": [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 1.0, 0.0]], "b_out": [0.0, -0.5]},
}
dump(R + "/requests/model_dale.json", m6)

# ---------------------------------------------------------------- model 7: rnn class
W7 = [
    [0.0, -0.5, 0.25, 0.5],
    [0.5, 0.0, -0.25, -0.5],
    [-0.25, 0.5, 0.0, 0.5],
    [0.5, -0.5, 0.25, 0.0],
]
m7 = {
    "name": "rnn",
    "description": "Class rnn: the ANN end of the spectrum, a leaky rate RNN; signs are free (the E/I split is ignored), no gating, linear rates, noise.",
    "class": "rnn",
    "populations": {"E": 4, "I": 0},
    "n_inputs": 1,
    "activation": {"name": "linear"},
    "leak": 1.0,
    "recurrent": {"W": W7},
    "input": {"P": [[1.0], [0.0], [0.0], [-1.0]]},
    "readout": {"W_out": [[1.0, 1.0, 1.0, 1.0]]},
    "noise": {"sigma": 0.05},
}
dump(R + "/requests/model_rnn.json", m7)

# ---------------------------------------------------------------- runs
T = 20
inp1 = [[1.0 if 5 <= k < 15 else 0.0, round(0.5 * math.sin(2 * math.pi * k / T), 4)] for k in range(T)]
r1 = {
    "model_id": "m_3f2a9c0d41e5b7a8c6d90e1f",
    "dt": 0.1,
    "integrator": "exp_euler",
    "precision": "float64",
    "inputs": inp1,
    "V0": 0.0,
    "record": {"vars": ["V", "r", "z", "y"], "every": 1},
    "seed": 7,
}
dump(R + "/requests/run_single_trial.json", r1)

B, T2 = 3, 8
inp2 = [[[0.25 * b if k >= 2 else 0.0, 0.5 if k % 2 else 0.0] for k in range(T2)] for b in range(B)]
V02 = [[0.0] * 6, [0.5] * 6, [-0.25, 0.0, 0.25, 0.5, 0.0, 0.0]]
r2 = {
    "model_id": "m_3f2a9c0d41e5b7a8c6d90e1f",
    "dt": 0.05,
    "integrator": "rk4",
    "precision": "float32",
    "inputs": inp2,
    "V0": V02,
    "record": {"vars": ["r", "y"], "every": 2, "neurons": [0, 1, 4]},
    "seed": 11,
}
dump(R + "/requests/run_batch.json", r2)

r3 = {
    "model_id": "m_3f2a9c0d41e5b7a8c6d90e1f",
    "dt": 0.05,
    "integrator": "rk4",
    "precision": "float32",
    "inputs": binary(inp2, "float32"),
    "V0": binary(V02),
    "record": {"vars": ["r", "y"], "every": 2, "neurons": [0, 1, 4]},
    "seed": 11,
}
dump(R + "/requests/run_batch_binary.json", r3)

r4 = {
    "model_id": "m_9b1c2d3e4f5a6b7c8d9e0f1a",
    "dt": 0.5,
    "integrator": "euler",
    "inputs": {"steps": 1000, "trials": 4},
    "V0": 0.1,
    "record": {"vars": ["V", "r", "z"], "every": 10},
    "seed": 1,
    "time_limit": 30,
}
dump(R + "/requests/run_zero_input.json", r4)

r5 = {
    "model": m3,
    "dt": 0.1,
    "inputs": [[0.0], [1.0], [1.0], [1.0], [0.0], [0.0]],
    "record": {"vars": ["V", "z"]},
}
dump(R + "/requests/run_inline_model.json", r5)

# ---------------------------------------------------------------- issue 12: described inputs, V0 from a run, metrics, labels
r6 = {
    "model_id": "m_3f2a9c0d41e5b7a8c6d90e1f",
    "dt": 0.1,
    "inputs": {
        "steps": 600, "trials": 3,
        "segments": [
            {"from": 0, "to": 100, "value": 0},
            {"from": 100, "to": 400, "value": [[0.5, 0.0], [1.0, 0.0], [1.5, 0.0]]},
            {"from": 300, "to": 600, "value": [0.0, 0.25], "to_value": binary([0.0, 1.0])},
        ],
        "noise": {"sigma": 0.05, "seed": 7},
    },
    "record": {"vars": ["r"], "every": 10},
    "seed": 3,
    "metrics": {
        "windows": [{"name": "late_r", "var": "r", "from": 400, "to": 600},
                    {"var": "V", "from": 100, "to": 400}],
        "settle": {"steps": 50, "tol": 1e-3},
    },
    "labels": {"project": "isn", "arm": "step"},
}
dump(R + "/requests/run_described_inputs.json", r6)

r7 = {
    "model_id": "m_3f2a9c0d41e5b7a8c6d90e1f",
    "dt": 0.1,
    "inputs": {"steps": 200, "trials": 2},
    "V0": {"run_id": "r_5e0c7a1b2d3f4e5a6b7c8d9e", "trial": 1},
    "record": {"vars": ["V"], "every": 20},
}
dump(R + "/requests/run_V0_from_run.json", r7)

m8 = copy.deepcopy(m1)
m8["labels"] = {"project": "isn", "owner": "lab-3", "version": "1.2"}
dump(R + "/requests/model_labels.json", m8)

s1 = {
    "name": "isn",
    "model_id": "m_3f2a9c0d41e5b7a8c6d90e1f",
    "run": {
        "dt": 0.1,
        "inputs": {"steps": 400, "trials": 2,
                   "segments": [{"from": 200, "to": 400, "value": [1.0, 0.0]}]},
        "seed": 1,
        "record": {"vars": ["r"], "every": 100},
    },
    "axes": [{"path": "/model/recurrent/A/E", "values": [0.0, 0.5, 1.0]},
             {"path": "/run/seed", "values": [1, 2, 3, 4]}],
    "mode": "grid",
    "metrics": {"windows": [{"name": "late_r", "var": "r", "from": 300, "to": 400}]},
    "labels": {"project": "isn"},
}
dump(R + "/requests/sweep_grid.json", s1)

s2 = {
    "model": m1,
    "run": {"dt": 0.1, "inputs": {"steps": 100, "segments": [{"from": 0, "to": 100, "value": 0}]}},
    "axes": [{"path": "/run/inputs/segments/0/value", "values": [0.0, 0.5, 1.0]},
             {"path": "/run/dt", "values": [0.1, 0.05, 0.025]}],
    "mode": "zip",
}
dump(R + "/requests/sweep_zip_inline.json", s2)

# ================================================================ manifest of valid requests
requests = [
    ("requests/model_gated_explicit.json", "model", None, None,
     "gated, reduced form, W in nested lists, A per presynaptic type, readout from E"),
    ("requests/model_gated_binary.json", "model", None, "requests/model_gated_explicit.json",
     "the same model with base64 binary arrays (float64 W, P, leak, bias, W_out; float32 A matrix); builds to the same model hash"),
    ("requests/model_conductance_shunting.json", "model", None, None,
     "conductance form K, E_rev with E_I = 0 (shunting), per-cell leak, input conductances M_in"),
    ("requests/model_generated.json", "model", None, None,
     "generated recurrent W (per-block p and mean, lognormal, balance, spectral radius) and generated P; power activation; noise"),
    ("requests/model_generated_conductance.json", "model", None, None,
     "generated conductance form (generate + E_rev), input recipe directly under input, sigmoid"),
    ("requests/model_dale.json", "model", None, None,
     "class dale (no gating, tanh allowed, no A), dale project clips two violations, two readouts"),
    ("requests/model_rnn.json", "model", None, None,
     "class rnn: free signs, linear activation, no A, noise"),
    ("requests/run_single_trial.json", "run", "requests/model_gated_explicit.json", None,
     "T x n_inputs inputs (one trial), record V r z y every step, seed"),
    ("requests/run_batch.json", "run", "requests/model_gated_explicit.json", None,
     "B x T x n_inputs inputs (3 trials), V0 per trial (B x N), rk4, float32, record r and y every 2 steps for neurons 0, 1, 4"),
    ("requests/run_batch_binary.json", "run", "requests/model_gated_explicit.json", "requests/run_batch.json",
     "run_batch.json with inputs as a float32 binary array and V0 as a float64 binary array; parses to the same run"),
    ("requests/run_zero_input.json", "run", "requests/model_generated.json", None,
     "{\"steps\": T, \"trials\": B} zero input, euler, scalar V0, record every 10, time_limit"),
    ("requests/run_inline_model.json", "run", None, None,
     "model inline under \"model\", defaults for integrator, precision and seed"),
    ("requests/run_described_inputs.json", "run", "requests/model_gated_explicit.json", None,
     "described inputs: segments with a number, trials x n_inputs and a ramp to a binary array, input noise; metrics windows and settle; labels"),
    ("requests/run_V0_from_run.json", "run", "requests/model_gated_explicit.json", None,
     "V0 from the final state of trial 1 of another run (eirnnd only)"),
    ("requests/model_labels.json", "model", None, "requests/model_gated_explicit.json",
     "model_gated_explicit.json with labels: the same model hash (labels change no numerics)"),
    ("requests/sweep_grid.json", "sweep", "requests/model_gated_explicit.json", None,
     "3 x 4 grid over a model field and the run's seed, with metrics and labels"),
    ("requests/sweep_zip_inline.json", "sweep", None, None,
     "zip of a segment's value and dt on an inline model"),
    # training documents (FORMAT.md "Trainings"), written by hand at the top of schema/examples/
    ("training_pdm_gated.json", "training", None, None,
     "the decision task learned by a gated 50-cell network given inline (TRAINING.md's learning-test recipe: generated W, explicit P and W_out): varied fixation and stimulus, a fixed 500 ms stimulus for the test, labels; reaches 87.2% on its 1,000 test trials (ideal observer 86.8%)"),
    ("training_cdm_by_id.json", "training", "training_model_cdm.json", None,
     "context decision making on a stored model: every timing form, coherences, euler, float32, mse with both penalties, every parameter trainable, every job field"),
    ("training_custom.json", "training", None, None,
     "a custom task: inputs, integer labels, a loss mask and trial lengths as nested lists; an rnn given inline"),
]

# ================================================================ invalid documents
BASE_M = {"populations": {"E": 2, "I": 1}, "leak": 1.0,
          "recurrent": {"W": [[0.0, 0.5, -1.0], [0.5, 0.0, -1.0], [1.0, 1.0, 0.0]], "A": 1.0}}
BASE_R = {"model_id": "m_3f2a9c0d41e5b7a8c6d90e1f", "dt": 0.1,
          "inputs": [[0.0, 0.0], [1.0, 0.5], [1.0, 0.5]]}
RUN_MODEL = "requests/model_gated_explicit.json"
BASE_S = {"model_id": "m_3f2a9c0d41e5b7a8c6d90e1f",
          "run": {"dt": 0.1, "inputs": {"steps": 10}},
          "axes": [{"path": "/run/seed", "values": [1, 2]}]}

def patched(base, patch):
    out = copy.deepcopy(base)
    def merge(t, p):
        for k, v in p.items():
            if v is None:
                t.pop(k, None)
            elif isinstance(v, dict) and isinstance(t.get(k), dict) and "base64" not in v and k != "model":
                merge(t[k], v)
            else:
                t[k] = v
    merge(out, patch)
    return out

def unpadded(vals):
    s = b64(vals, "d")
    return s.rstrip("=")

invalid = [
    # name, kind, schema verdict, parser field, patch, about
    ("model_unknown_field", "model", "reject", "/neurons", {"neurons": 3},
     "unknown top-level field"),
    ("model_missing_leak", "model", "reject", "/leak", {"leak": None},
     "leak is required"),
    ("model_leak_not_positive", "model", "reject", "/leak/1", {"leak": [1.0, 0.0, 1.0]},
     "leak must be > 0 (the error names the element)"),
    ("model_unknown_class", "model", "reject", "/class", {"class": "lstm"},
     "class is rnn, dale or gated"),
    ("model_gated_linear", "model", "reject", "/activation", {"activation": {"name": "linear"}},
     "a gated model (the default class) needs non-negative rates"),
    ("model_gated_without_A", "model", "reject", "/recurrent/A", {"recurrent": {"A": None}},
     "class gated in the reduced form needs A"),
    ("model_two_forms", "model", "reject", "/recurrent",
     {"recurrent": {"K": [[0.0, 0.5, 1.0], [0.5, 0.0, 1.0], [1.0, 1.0, 0.0]]}},
     "W and K together: exactly one form"),
    ("model_inhibitory_reversal_positive", "model", "reject", "/recurrent/E_rev/I",
     {"recurrent": {"W": None, "A": None, "K": [[0.0, 0.5, 1.0], [0.5, 0.0, 1.0], [1.0, 1.0, 0.0]],
                    "E_rev": {"E": 1.0, "I": 0.5}}},
     "E_I must be <= 0"),
    ("model_negative_K", "model", "reject", "/recurrent/K/0/1",
     {"recurrent": {"W": None, "A": None, "K": [[0.0, -0.5, 1.0], [0.5, 0.0, 1.0], [1.0, 1.0, 0.0]],
                    "E_rev": {"E": 1.0, "I": -0.5}}},
     "K must be >= 0"),
    ("model_negative_A", "model", "reject", "/recurrent/A/I", {"recurrent": {"A": {"E": 1.0, "I": -0.5}}},
     "A must be >= 0"),
    ("model_unknown_dale_policy", "model", "reject", "/recurrent/dale", {"recurrent": {"dale": "ignore"}},
     "dale is reject or project"),
    ("model_binary_int_dtype", "model", "reject", "/recurrent/W/dtype",
     {"recurrent": {"W": {"dtype": "int32", "shape": [3, 3], "base64": b64([0] * 9, "i")}}},
     "binary arrays are float32 or float64"),
    ("model_binary_extra_key", "model", "reject", "/recurrent/W/order",
     {"recurrent": {"W": dict(binary([[0.0, 0.5, -1.0], [0.5, 0.0, -1.0], [1.0, 1.0, 0.0]]), order="C")}},
     "binary arrays have exactly dtype, shape and base64"),
    ("model_binary_unpadded_base64", "model", "reject", "/readout/W_out/base64",
     {"readout": {"W_out": {"dtype": "float64", "shape": [1, 2], "base64": unpadded([0.5, 0.5])}, "from": "E"}},
     "base64 needs its = padding"),
    ("model_power_parameter_on_relu", "model", "reject", "/activation/k", {"activation": {"name": "relu", "k": 2.0}},
     "k and n belong to the power activation only"),
    ("model_generate_cv_with_constant", "model", "reject", "/recurrent/generate/cv",
     {"recurrent": {"W": None, "generate": {"seed": 1, "dist": "constant", "cv": 0.5}}},
     "cv applies to lognormal and gamma only"),
    ("model_generate_probability_above_one", "model", "reject", "/recurrent/generate/p/EI",
     {"recurrent": {"W": None, "generate": {"seed": 1, "p": {"EE": 0.1, "EI": 1.5, "IE": 0.2, "II": 0.2}}}},
     "a connection probability is in [0, 1]"),
    ("model_generate_without_seed", "model", "reject", "/recurrent/generate/seed",
     {"recurrent": {"W": None, "generate": {"p": 0.5}}},
     "a recipe needs its seed"),
    ("model_generate_A_and_E_rev", "model", "reject", "/recurrent/A",
     {"recurrent": {"W": None, "generate": {"seed": 1}, "E_rev": {"E": 1.0, "I": -0.5}}},
     "generate takes A (reduced form) or E_rev (conductance form), not both"),
    ("model_no_neurons", "model", "reject", "/populations", {"populations": {"E": 0, "I": 0}},
     "E + I >= 1"),
    ("model_inputs_without_P", "model", "reject", "/input", {"n_inputs": 2},
     "n_inputs >= 1 needs input.P"),
    ("model_P_and_generate", "model", "reject", "/input/generate",
     {"n_inputs": 1, "input": {"P": [[1.0], [0.0], [0.0]], "generate": {"seed": 1}}},
     "P given and generated at once"),
    ("model_P_not_an_array", "model", "reject", "/input/P", {"n_inputs": 1, "input": {"P": "identity"}},
     "P is a matrix in either array form, or {\"generate\": ...}"),
    ("model_readout_from_E_without_E", "model", "reject", "/readout/from",
     {"populations": {"E": 0, "I": 2}, "recurrent": {"W": [[0.0, -1.0], [-1.0, 0.0]]},
      "readout": {"W_out": [[1.0]], "from": "E"}},
     "a readout from E needs E cells"),
    ("model_negative_noise", "model", "reject", "/noise/sigma", {"noise": {"sigma": -0.1}},
     "sigma >= 0"),
    # the schema cannot see these: they depend on N or on the values inside binary arrays
    ("model_dale_violation", "model", "accept", "/recurrent/W",
     {"recurrent": {"W": [[0.0, 0.5, 0.5], [0.5, 0.0, -1.0], [1.0, 1.0, 0.0]]}},
     "W[0][2] > 0 in an inhibitory column breaks Dale's law (dale reject is the default)"),
    ("model_W_wrong_shape", "model", "accept", "/recurrent/W",
     {"recurrent": {"W": [[0.0, 0.5], [0.5, 0.0]]}},
     "W is 2 x 2, the model has N = 3"),
    ("model_W_ragged", "model", "accept", "/recurrent/W/1",
     {"recurrent": {"W": [[0.0, 0.5, -1.0], [0.5, 0.0], [1.0, 1.0, 0.0]]}},
     "nested lists must be rectangular"),
    ("model_binary_wrong_byte_count", "model", "accept", "/recurrent/W/base64",
     {"recurrent": {"W": {"dtype": "float64", "shape": [3, 3], "base64": b64([0.0] * 8, "d")}}},
     "shape [3, 3] float64 needs 72 bytes, the base64 holds 64"),
    ("model_binary_negative_K", "model", "accept", "/recurrent/K",
     {"recurrent": {"W": None, "A": None,
                    "K": binary([[0.0, -0.5, 1.0], [0.5, 0.0, 1.0], [1.0, 1.0, 0.0]]),
                    "E_rev": {"E": 1.0, "I": -0.5}}},
     "K >= 0 inside a binary array (the error gives the flat index)"),
    # runs
    ("run_model_id_and_model", "run", "reject", "/model", {"model": BASE_M},
     "model_id and model together"),
    ("run_without_model", "run", "reject", "/model_id", {"model_id": None},
     "neither model_id nor model"),
    ("run_empty_model_id", "run", "reject", "/model_id", {"model_id": ""},
     "model_id is a non-empty string"),
    ("run_inline_model_unknown_field", "run", "reject", "/model/tau",
     {"model_id": None, "model": patched(BASE_M, {"tau": 10.0}), "inputs": {"steps": 5}},
     "errors in an inline model are named under /model"),
    ("run_unknown_field", "run", "reject", "/steps", {"steps": 100},
     "unknown top-level field"),
    ("run_missing_dt", "run", "reject", "/dt", {"dt": None},
     "dt is required"),
    ("run_dt_zero", "run", "reject", "/dt", {"dt": 0},
     "dt > 0"),
    ("run_unknown_integrator", "run", "reject", "/integrator", {"integrator": "heun"},
     "integrator is exp_euler, euler or rk4"),
    ("run_float16", "run", "reject", "/precision", {"precision": "float16"},
     "precision is float64 or float32"),
    ("run_inputs_scalar", "run", "reject", "/inputs", {"inputs": 0.5},
     "inputs is T x n_inputs, B x T x n_inputs or {\"steps\", \"trials\"}"),
    ("run_zero_steps", "run", "reject", "/inputs/steps", {"inputs": {"steps": 0}},
     "steps >= 1"),
    ("run_steps_unknown_field", "run", "reject", "/inputs/batch", {"inputs": {"steps": 10, "batch": 2}},
     "zero input takes steps and trials only"),
    ("run_unknown_var", "run", "reject", "/record/vars/1", {"record": {"vars": ["V", "w"]}},
     "record.vars among V, r, z, y"),
    ("run_duplicate_var", "run", "reject", "/record/vars/1", {"record": {"vars": ["r", "r"]}},
     "each variable once"),
    ("run_every_zero", "run", "reject", "/record/every", {"record": {"every": 0}},
     "every >= 1"),
    ("run_empty_neurons", "run", "reject", "/record/neurons", {"record": {"neurons": []}},
     "record.neurons lists at least one index"),
    ("run_negative_seed", "run", "reject", "/seed", {"seed": -1},
     "seed >= 0"),
    ("run_time_limit_zero", "run", "reject", "/time_limit", {"time_limit": 0},
     "time_limit > 0 seconds"),
    # the schema cannot see these: they depend on the model
    ("run_inputs_wrong_width", "run", "accept", "/inputs",
     {"inputs": [[0.0, 0.0, 0.0], [1.0, 0.5, 0.0]]},
     "the model has n_inputs = 2, the rows have 3 values"),
    ("run_V0_wrong_length", "run", "accept", "/V0", {"V0": [0.0, 0.0, 0.0]},
     "V0 has 3 values, the model has N = 6"),
    ("run_neuron_out_of_range", "run", "accept", "/record/neurons/1", {"record": {"neurons": [0, 6]}},
     "neuron 6 of a model with N = 6"),
    ("run_every_above_steps", "run", "accept", "/record/every", {"record": {"every": 5}},
     "every 5 with T = 3 would record nothing"),
    ("run_y_without_readout", "run", "accept", "/record/vars/1",
     {"model_id": "m_00000000000000000000000a", "inputs": [[0.0], [1.0]], "record": {"vars": ["V", "y"]}},
     "y needs a readout and model_conductance_shunting.json has none"),
    # fields a class has no use for (docs/MODEL.md "What each class takes")
    ("model_rnn_with_A", "model", "reject", "/recurrent/A", {"class": "rnn"},
     "class rnn has no conductance gating: A applies only to class gated"),
    ("model_dale_with_A", "model", "reject", "/recurrent/A", {"class": "dale", "recurrent": {"A": {"E": 1.0, "I": 0.5}}},
     "class dale has no conductance gating: A applies only to class gated"),
    ("model_dale_generate_with_A", "model", "reject", "/recurrent/A",
     {"class": "dale", "recurrent": {"W": None, "generate": {"seed": 1}}},
     "generated connectivity of class dale: A is refused there too"),
    ("model_rnn_with_dale_policy", "model", "reject", "/recurrent/dale",
     {"class": "rnn", "recurrent": {"A": None, "dale": "project"}},
     "class rnn enforces no Dale's law: dale applies only to classes dale and gated"),
    # issue 12: described inputs, V0 from a run, metrics, labels, sweeps
    ("run_noise_without_seed", "run", "reject", "/inputs/noise/seed",
     {"inputs": {"steps": 10, "noise": {"sigma": 0.1}}},
     "input noise with sigma > 0 needs its seed"),
    ("run_segment_unknown_field", "run", "reject", "/inputs/segments/0/ramp",
     {"inputs": {"steps": 10, "segments": [{"from": 0, "to": 5, "value": 1, "ramp": True}]}},
     "a segment has from, to, value and to_value only"),
    ("run_segment_past_steps", "run", "accept", "/inputs/segments/0/to",
     {"inputs": {"steps": 10, "segments": [{"from": 0, "to": 12, "value": 1}]}},
     "to (12) is past steps (10)"),
    ("run_segment_value_wrong_width", "run", "accept", "/inputs/segments/0/value",
     {"inputs": {"steps": 10, "segments": [{"from": 0, "to": 5, "value": [1, 2, 3]}]}},
     "the model has n_inputs = 2, the value has 3"),
    ("run_V0_bad_run_id", "run", "reject", "/V0/run_id", {"V0": {"run_id": "m_3f2a9c0d41e5b7a8c6d90e1f"}},
     "V0 names a run id (r_ and 24 hex digits)"),
    ("run_metrics_unknown_var", "run", "reject", "/metrics/windows/0/var",
     {"metrics": {"windows": [{"var": "y", "from": 0, "to": 2}]}},
     "metrics windows are over V, r or z"),
    ("run_metrics_window_past_steps", "run", "accept", "/metrics/windows/0/to",
     {"metrics": {"windows": [{"var": "r", "from": 0, "to": 4}]}},
     "a window ends at T = 3 at the latest"),
    ("run_metrics_duplicate_name", "run", "accept", "/metrics/windows/1",
     {"metrics": {"windows": [{"var": "r", "from": 0, "to": 2}, {"var": "r", "from": 0, "to": 2}]}},
     "two windows with the same default name r_0_2"),
    ("run_labels_bad_key", "run", "reject", "/labels/bad key", {"labels": {"bad key": "x"}},
     "label keys are A-Z a-z 0-9 _ . -"),
    ("model_labels_not_string", "model", "reject", "/labels/project", {"labels": {"project": 3}},
     "label values are strings"),
    ("sweep_run_with_model_id", "sweep", "reject", "/run/model_id",
     {"run": {"model_id": "m_3f2a9c0d41e5b7a8c6d90e1f"}},
     "a sweep's run names no model: the sweep does"),
    ("sweep_bad_path", "sweep", "reject", "/axes/0/path", {"axes": [{"path": "/seed", "values": [1]}]},
     "axis paths are under /model/ or /run/"),
    ("sweep_empty_values", "sweep", "reject", "/axes/0/values", {"axes": [{"path": "/run/seed", "values": []}]},
     "an axis has at least one value"),
    ("sweep_zip_lengths", "sweep", "accept", "/axes/1/values",
     {"mode": "zip", "axes": [{"path": "/run/seed", "values": [1, 2]}, {"path": "/run/dt", "values": [0.1]}]},
     "zip axes have the same length"),
]

# ---------------------------------------------------------------- invalid training documents
BASE_T = {"model": "m_3f2a9c0d41e5b7a8c6d90e1f", "task": {"name": "perceptual_decision_making"},
          "dt": 20}
# a dale model of 3 cells with the decision task's 3 inputs and 3 outputs
MODEL_T = {"class": "dale", "populations": {"E": 2, "I": 1}, "n_inputs": 3, "leak": 0.01,
           "recurrent": {"W": [[0.0, 0.002, -0.004], [0.002, 0.0, -0.004], [0.003, 0.003, 0.0]]},
           "input": {"P": [[0.01, 0.02, 0.0], [0.01, 0.0, 0.02], [0.01, 0.01, 0.01]]},
           "readout": {"W_out": [[0.1, 0.1, 0.0], [0.2, -0.1, 0.0], [-0.1, 0.2, 0.0]]}}
CUSTOM_T = {"name": "custom", "inputs": [[[0.0], [1.0]], [[1.0], [0.0]]], "labels": [[0, 1], [0, 0]]}
invalid += [
    ("training_unknown_field", "training", "reject", "/epochs", {"epochs": 10},
     "unknown top-level field (the number of updates is iterations)"),
    ("training_rk4", "training", "reject", "/integrator", {"integrator": "rk4"},
     "training differentiates exp_euler or euler; rk4 is for runs"),
    ("training_lr_zero", "training", "reject", "/optimizer/lr", {"optimizer": {"lr": 0}},
     "Adam's step size is > 0"),
    ("training_unknown_period", "training", "reject", "/task/timing/sample",
     {"task": {"name": "perceptual_decision_making", "timing": {"sample": 100}}},
     "sample is a period of delay_match_sample, not of the decision task"),
    ("training_uniform_reversed", "training", "accept", "/task/timing/stimulus/uniform",
     {"task": {"name": "perceptual_decision_making", "timing": {"stimulus": {"uniform": [800, 100]}}}},
     "a uniform duration's min is at most its max"),
    ("training_coherence_above_100", "training", "reject", "/test/coherences/1",
     {"test": {"coherences": [50, 150]}}, "coherences are percentages"),
    ("training_trainable_twice", "training", "reject", "/trainable/1", {"trainable": ["W", "W"]},
     "each parameter once"),
    ("training_custom_labels_and_targets", "training", "reject", "/task/targets",
     {"task": dict(CUSTOM_T, targets=[[[1.0], [0.0]], [[0.0], [1.0]]])},
     "a custom task has labels (cross_entropy) or targets (mse), not both"),
    ("training_custom_length_past_T", "training", "accept", "/task/lengths/1",
     {"task": dict(CUSTOM_T, lengths=[2, 3])}, "trial lengths are 1 .. T (2)"),
    ("training_trainable_A_dale", "training", "accept", "/trainable/1",
     {"model": MODEL_T, "trainable": ["W", "A"]},
     "A (the gate scale) is trainable only for class gated in the reduced form"),
    ("training_model_inputs", "training", "accept", "/model/n_inputs",
     {"model": dict(MODEL_T, n_inputs=2, input={"P": [[0.01, 0.0], [0.0, 0.01], [0.01, 0.01]]})},
     "the decision task has 3 inputs (fixation and two evidence channels)"),
    ("training_model_no_readout", "training", "accept", "/model/readout",
     {"model": {k: v for k, v in MODEL_T.items() if k != "readout"}},
     "a model trained on a task needs a readout of the task's outputs"),
]

entries_invalid = []
for name, kind, verdict, field, patch, about in invalid:
    base = {"model": BASE_M, "run": BASE_R, "sweep": BASE_S, "training": BASE_T}[kind]
    doc = patched(base, patch)
    path = "invalid/%s.json" % name
    dump(R + "/" + path, doc)
    e = {"file": path, "kind": kind}
    if kind in ("run", "sweep") and "model_id" in doc:  # (an invalid training's model is inline)
        e["model"] = "requests/model_conductance_shunting.json" if name == "run_y_without_readout" else RUN_MODEL
    e["schema"] = verdict
    e["field"] = field
    e["about"] = about
    entries_invalid.append(e)

entries_req = []
for path, kind, model, same, about in requests:
    e = {"file": path, "kind": kind}
    if model: e["model"] = model
    if same: e["same_as"] = same
    e["about"] = about
    entries_req.append(e)

manifest = {"requests": entries_req, "invalid": entries_invalid}
dump(R + "/manifest.json", manifest)

# ================================================================ README
lines = []
lines.append("# Example requests\n")
lines.append("Documents of the JSON contract (`FORMAT.md`): `requests/` must be accepted, `invalid/` must be")
lines.append("rejected. `manifest.json` is the machine-readable list of both, read by `schema/validate.sh` (JSON")
lines.append("Schema validation with ajv) and by `tests/schema/test_examples.c` (the C parser, `eir_json.h`):")
lines.append("every file here must be listed there, and every listed file must exist.\n")
lines.append("* `kind`: `model` (schema `json/model.schema.json`), `run` (`json/run.schema.json`), `sweep`")
lines.append("  (`json/sweep.schema.json`) or `training` (`json/training.schema.json`; the accepted training")
lines.append("  documents are the hand-written `training_*.json` at the top of this directory).")
lines.append("* `model` (runs, sweeps, trainings): the model file a `model_id` (a training's `model` id) stands")
lines.append("  for; the C test parses the run (every point's run and model of a sweep) against it, and checks")
lines.append("  a training's model against its task.")
lines.append("* `same_as`: a document that must parse to the same thing (same model hash; same inputs and V0).")
lines.append("* `schema` (invalid): `reject` when the JSON Schema must reject the document too; `accept` when only")
lines.append("  the parser can tell (shapes that depend on N or n_inputs, Dale's law, the contents of binary arrays).")
lines.append("* `field`: the JSON pointer the parser's error must name (the `field` of the API's problem detail).\n")
lines.append("The C test also builds every accepted model (a training's too) and simulates every accepted run (none may diverge),")
lines.append("and `validate.sh --sync` copies the accepted documents into `openapi.json` as request examples.\n")
lines.append("The files are generated by `make_examples.py` (real base64 of float64/float32 data); edit the script")
lines.append("and run `python3 schema/examples/make_examples.py`, not the JSON.\n")
lines.append("## Accepted (`requests/`)\n")
lines.append("| file | kind | parsed with | what it shows |")
lines.append("|---|---|---|---|")
for e in entries_req:
    extra = e.get("model", "inline" if e["kind"] in ("run", "sweep", "training") else "-")
    lines.append("| `%s` | %s | %s | %s |" % (e["file"].split("/")[-1], e["kind"],
                 ("`%s`" % extra.split("/")[-1]) if extra.endswith(".json") else extra,
                 e["about"].replace("|", "\\|")))
lines.append("\n## Rejected (`invalid/`)\n")
lines.append("| file | kind | schema | parser error field | why |")
lines.append("|---|---|---|---|---|")
for e in entries_invalid:
    lines.append("| `%s` | %s | %s | `%s` | %s |" % (e["file"].split("/")[1], e["kind"], e["schema"], e["field"],
                 e["about"].replace("|", "\\|")))
open(R + "/README.md", "w").write("\n".join(lines) + "\n")
