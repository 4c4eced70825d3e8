"""Described inputs (docs/FORMAT.md, "Described inputs"; docs/MODEL.md 13.1): a run's input given
by segments, ramps and noise instead of a B x T x n_inputs array, which the engine expands while it
integrates. These helpers build the JSON object (with NumPy values turned into lists) and, for
plots and checks, expand a description to the array the engine integrates with, to the bit (the
input noise aside, which only the engine draws).

Example::

    from eirnn import described_inputs, segment

    coh = [0.0, 0.1, 0.2, 0.4]                       # one trial per coherence
    x = described_inputs(steps=1000, trials=4, segments=[
        segment(200, 800, [[1 + c, 1 - c] for c in coh]),   # trial b gets row b
        segment(800, 1000, 0.0, to_value=1.0),              # a ramp on every channel
    ], noise_sigma=0.1, noise_seed=7)
    run = client.submit(model_id=m, inputs=x, dt=0.1)
"""

from __future__ import annotations

import base64
from typing import Any, Dict, Iterable, List, Mapping, Optional

from .arrays import numpy_or_none

__all__ = ["segment", "described_inputs", "expand_inputs"]


def _plain(value: Any) -> Any:
    """A number, list or nested list for JSON: NumPy arrays and scalars become Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def segment(start: int, stop: int, value: Any, to_value: Any = None) -> Dict[str, Any]:
    """One segment: steps ``start`` (included) to ``stop`` (excluded) get ``value``: a number
    (every channel), ``n_inputs`` values (every trial) or ``trials x n_inputs`` (row b for trial
    b). With ``to_value`` (same forms) the segment is a ramp from ``value`` towards ``to_value``,
    which it reaches only at ``stop``. Overlapping segments add up."""
    if not (isinstance(start, int) and isinstance(stop, int)) or not 0 <= start < stop:
        raise ValueError(f"a segment needs integers 0 <= start < stop, not {start!r}, {stop!r}")
    s: Dict[str, Any] = {"from": start, "to": stop, "value": _plain(value)}
    if to_value is not None:
        s["to_value"] = _plain(to_value)
    return s


def described_inputs(steps: int, trials: int = 1, segments: Iterable[Mapping[str, Any]] = (),
                     noise_sigma: float = 0.0, noise_seed: Optional[int] = None
                     ) -> Dict[str, Any]:
    """The ``inputs`` object of a run: ``steps`` x ``trials`` of zero input plus ``segments``
    (see :func:`segment`) and, when ``noise_sigma`` > 0, white noise of that standard deviation
    added to every channel at every step, drawn from ``noise_seed`` (required then: seeded input
    noise is the same on every machine and thread count)."""
    d: Dict[str, Any] = {"steps": int(steps), "trials": int(trials)}
    segs = [dict(s) for s in segments]
    if segs:
        d["segments"] = segs
    if noise_sigma:
        if noise_seed is None:
            raise ValueError("input noise needs a noise_seed (so that it reproduces)")
        d["noise"] = {"sigma": float(noise_sigma), "seed": int(noise_seed)}
    return d


def _rows(value: Any, trials: int, n_inputs: int, np: Any, where: str) -> Any:
    """A segment value as a (1 or trials) x 1 x n_inputs float64 array."""
    if isinstance(value, Mapping):  # an API array object: {"dtype", "shape", "base64"}
        raw = base64.b64decode(value["base64"], validate=True)
        dtype = np.dtype(value["dtype"]).newbyteorder("<")
        value = np.frombuffer(raw, dtype=dtype).reshape(value["shape"])
    a = np.asarray(value, dtype=np.float64)
    if a.ndim == 0:
        a = np.full((1, n_inputs), float(a))
    elif a.ndim == 1:
        a = a.reshape(1, -1)
    if a.ndim != 2 or a.shape[1] != n_inputs or a.shape[0] not in (1, trials):
        raise ValueError(f"{where}: expected a number, {n_inputs} values or {trials} x "
                         f"{n_inputs}, got shape {a.shape}")
    return a.reshape(a.shape[0], 1, n_inputs)


def expand_inputs(inputs: Mapping[str, Any], n_inputs: int, noise: str = "refuse") -> Any:
    """The ``trials x steps x n_inputs`` float64 array that the engine integrates with for the
    described ``inputs`` (docs/MODEL.md 13.1), the same to the bit: each operation is one IEEE
    double operation in the documented order. The input noise is drawn by the engine only:
    a description with noise raises ``ValueError`` unless ``noise="omit"`` (then the array is
    the input without its noise). Needs NumPy."""
    np = numpy_or_none()
    if np is None:
        raise RuntimeError("expand_inputs needs NumPy (apt-get install python3-numpy)")
    if noise not in ("refuse", "omit"):
        raise ValueError('noise must be "refuse" or "omit"')
    sigma = (inputs.get("noise") or {}).get("sigma", 0)
    if sigma and noise == "refuse":
        raise ValueError("the description has input noise, which only the engine draws; "
                         'pass noise="omit" for the input without it')
    steps, trials = int(inputs["steps"]), int(inputs.get("trials", 1))
    x = np.zeros((trials, steps, n_inputs))
    segs: List[Mapping[str, Any]] = list(inputs.get("segments", []))
    for k, s in enumerate(segs):
        frm, to = int(s["from"]), int(s["to"])
        if not 0 <= frm < to <= steps:
            raise ValueError(f"segments/{k}: needs 0 <= from < to <= steps ({steps})")
        v = _rows(s["value"], trials, n_inputs, np, f"segments/{k}/value")
        if s.get("to_value") is None:
            x[:, frm:to, :] += v
        else:
            w = _rows(s["to_value"], trials, n_inputs, np, f"segments/{k}/to_value")
            t = np.arange(frm, to, dtype=np.float64)[None, :, None]
            x[:, frm:to, :] += v + (w - v) * (t - frm) / float(to - frm)
    return x
