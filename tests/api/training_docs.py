"""Documents shared by the training drivers (tests/api/trainings.py,
tests/reliability/training_resume.py): small explicit models of each class for the built-in
decision task (3 inputs: fixation and two evidence channels; 3 outputs: fixate, choice 1,
choice 2), and short trainings of them. Standard library only."""
import random

# PDM's periods are short here (dt 20 ms): a trial is 20 steps.
PDM_TIMING = {"fixation": 100, "stimulus": 200, "delay": 0, "decision": 100}


def model_doc(cls="gated", n_e=6, n_i=2, n_in=3, n_out=3, seed=1, readout=True, name=None):
    """An explicit model (no recipe) of class @p cls: Dale's signs by column (E columns >= 0,
    I columns <= 0, zero diagonal), inputs P >= 0, a readout of @p n_out outputs from all cells
    (none when not @p readout)."""
    rng = random.Random(seed)
    n = n_e + n_i
    w = [[0.0 if i == j else (rng.uniform(0.05, 0.3) if j < n_e else -rng.uniform(0.1, 0.5))
          for j in range(n)] for i in range(n)]
    rec = {"W": w}
    if cls == "gated":
        rec["A"] = {"E": 0.5, "I": 0.5}
    doc = {"name": name or ("tiny " + cls), "class": cls, "populations": {"E": n_e, "I": n_i},
           "n_inputs": n_in, "activation": {"name": "relu"}, "leak": 0.05, "recurrent": rec,
           "bias": 0.0}
    if n_in:
        doc["input"] = {"P": [[rng.uniform(0.0, 0.5) for _ in range(n_in)] for _ in range(n)]}
    if readout:
        doc["readout"] = {"W_out": [[rng.uniform(-0.3, 0.3) for _ in range(n)]
                                    for _ in range(n_out)], "b_out": [0.0] * n_out}
    return doc


def training_doc(model, iterations=40, **over):
    """A short PDM training of @p model (an id or an inline document); @p over replaces or adds
    members."""
    doc = {"model": model,
           "task": {"name": "perceptual_decision_making", "timing": dict(PDM_TIMING)},
           "dt": 20, "batch": 8, "iterations": iterations,
           "optimizer": {"name": "adam", "lr": 0.01},
           "evaluate": {"every": 10, "trials": 16}, "test": {"trials": 64},
           "checkpoint_every": 10, "seed": 3}
    doc.update(over)
    return doc
