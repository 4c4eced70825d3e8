"""eirnn: a Python client of eirnnd, the conductance-gated E/I RNN simulation service.

Only the standard library is required; with NumPy installed, results come back as
``numpy.ndarray`` and NumPy arrays can be sent as inputs and matrices directly.

Example::

    import eirnn

    c = eirnn.Client("http://127.0.0.1:8080")
    m = c.create_model(model_document)
    run = c.wait(c.submit(model_id=m["id"], steps=1000, dt=0.1, seed=1))
    r = c.result(run, "r")

    s = c.wait_sweep(c.submit_sweep(model_id=m["id"], run={"dt": 0.1, "inputs": {"steps": 1000}},
                                    axes=[{"path": "/run/seed", "values": [1, 2, 3]}]))
    table = c.sweep_table(s)             # {"index": ..., "/run/seed": ..., "run_id": ..., ...}

    t = c.train({"model": m["id"], "task": {"name": "perceptual_decision_making"}, "dt": 20,
                 "optimizer": {"name": "adam", "lr": 1e-5}, "batch": 128, "iterations": 1000})
    t.model_id, t.curve[-1]["loss"], t.evaluation["accuracy"]
"""

from .analyses import ANALYSIS_KINDS
from .arrays import NpyArray, binary_array, load_npy, parse_npy
from .client import FINAL_STATUSES, Client
from .sweeps import SWEEP_FINAL_STATUSES
from .errors import EirnnConnectionError, EirnnError, EirnnTimeoutError, Error
from .inputs import described_inputs, expand_inputs, segment
from .trainings import CURVE_COLUMNS, Training, TrainingError

__version__ = "0.1.0"

__all__ = [
    "ANALYSIS_KINDS",
    "CURVE_COLUMNS",
    "Client",
    "FINAL_STATUSES",
    "SWEEP_FINAL_STATUSES",
    "Training",
    "TrainingError",
    "Error",
    "EirnnError",
    "EirnnConnectionError",
    "EirnnTimeoutError",
    "NpyArray",
    "binary_array",
    "described_inputs",
    "expand_inputs",
    "segment",
    "load_npy",
    "parse_npy",
    "__version__",
]
