"""Plots of eirnnd's results with matplotlib: population rates, a cell x time heat map, the
eigenvalues of a spectrum analysis and a sweep's metric over its axes.

matplotlib (and NumPy, which it needs) is imported when a function is called, not with
``eirnn``: the rest of the client works without it. On Debian: ``apt-get install
python3-matplotlib``. Each function draws into the Axes ``ax`` it is given (or into a new
figure's) and returns that Axes, so figures can be composed and saved as usual::

    import matplotlib
    matplotlib.use("Agg")                  # no display needed
    import eirnn, eirnn.plot

    c = eirnn.Client("http://127.0.0.1:8080")
    ax = eirnn.plot.plot_rates(c, "r_...")
    ax.figure.savefig("rates.png")
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .arrays import NpyArray, _is_ndarray

__all__ = ["plot_rates", "plot_heatmap", "plot_eigenvalues", "plot_sweep", "INSTALL_HINT"]

#: What to do when matplotlib is missing (in the ImportError's message).
INSTALL_HINT = ("eirnn.plot needs matplotlib (and NumPy): on Debian, "
                "apt-get install python3-matplotlib")

#: Colours of the excitatory and inhibitory populations.
_E_COLOUR = "tab:red"
_I_COLOUR = "tab:blue"


def _pyplot() -> Tuple[Any, Any]:
    """(numpy, matplotlib.pyplot), or ImportError saying how to install them."""
    try:
        import numpy  # noqa: PLC0415 - optional dependency
        import matplotlib.pyplot as plt  # noqa: PLC0415 - optional dependency
    except ImportError as e:
        raise ImportError(f"{INSTALL_HINT} ({e})") from e
    return numpy, plt


def _axes(ax: Any, plt: Any) -> Any:
    """@ax, or the Axes of a new figure."""
    if ax is not None:
        return ax
    _, ax = plt.subplots()
    return ax


def _ndarray(np: Any, a: Any, dtype: Any = None) -> Any:
    """@a (a NumPy array, an :class:`eirnn.NpyArray` or nested lists) as a NumPy array."""
    if isinstance(a, NpyArray):
        a = a.tolist()
    return np.asarray(a, dtype=dtype)


def _run_id(run: Any) -> str:
    if isinstance(run, str) and run:
        return run
    if isinstance(run, Mapping) and isinstance(run.get("id"), str):
        return run["id"]
    raise TypeError("run must be a run id or a run resource (a dict with 'id')")


class _RunLayout:
    """What a run's metadata says about a recorded variable: the populations of its columns and
    the time of its rows."""

    def __init__(self, client: Any, run: Any, var: str) -> None:
        self.id = _run_id(run)
        res = run if isinstance(run, Mapping) and run.get("meta") else client.get_run(self.id)
        meta = res.get("meta") or {}
        if not meta.get("run"):
            raise ValueError(f"run {self.id} has no results yet (status {res.get('status')}): "
                             f"wait for it to end (Client.wait)")
        sizes = meta["model"]["sizes"]
        self.n_e, self.n = int(sizes["E"]), int(sizes["N"])
        rec = meta["run"]["record"]
        if var not in (rec.get("vars") or []):
            raise ValueError(f"run {self.id} did not record {var!r} (it recorded "
                             f"{rec.get('vars')}; see the run's record.vars)")
        self.every = int(rec.get("every") or 1)
        self.dt = float(meta["run"]["dt"])
        # the cells of the columns: every cell, or record.neurons (the metadata has its count)
        self.cells: List[int] = list(range(self.n))
        if var != "y" and int(rec.get("neurons") or self.n) != self.n:
            self.cells = [int(i) for i in client.run_request(self.id)["record"]["neurons"]]

    def times(self, np: Any, rows: int) -> Any:
        """The time of recorded rows 0..rows-1: row m is the state after step (m+1)*every."""
        return (np.arange(rows) + 1) * self.every * self.dt


def _trial(client: Any, lay: _RunLayout, var: str, trial: int, np: Any) -> Any:
    """Trial @trial of variable @var as a float64 (T', n) array."""
    if not isinstance(trial, int) or isinstance(trial, bool) or trial < 0:
        raise ValueError(f"trial must be an integer >= 0, not {trial!r}")
    a = _ndarray(np, client.result(lay.id, var, trials=trial), np.float64)
    return a[0]


def plot_rates(client: Any, run: Any = None, trial: int = 0, ax: Any = None, *,
               n_e: Optional[int] = None, dt: float = 1.0, every: int = 1) -> Any:
    """Population mean rates over time: the mean of ``r`` over the recorded E cells and over
    the recorded I cells, for one trial.

    Args:
        client: an :class:`eirnn.Client` (then @run names a run that recorded ``r``), or the
            rates themselves: an array ``(B, T', n)`` or ``(T', n)`` whose first @n_e columns
            are E cells.
        run: the run's id or resource (with a client).
        trial: the trial to plot.
        ax: the matplotlib Axes to draw into (default: a new figure's).
        n_e: with an array: how many of its columns are E cells (required).
        dt, every: with an array: the step size and the recording interval, for the time axis
            (with a run both come from its metadata).

    Time on the x axis is ``(m + 1) * every * dt`` for recorded row ``m`` (FORMAT.md 4.4).

    Returns:
        The Axes, with one line per population that has recorded cells (labelled ``E`` and
        ``I``; ``line.get_ydata()`` is the mean rate).

    Raises:
        ImportError: matplotlib is missing (the message says how to install it).
        ValueError: the run did not record ``r``, has not ended, or a bad trial.
    """
    np, plt = _pyplot()
    if hasattr(client, "result"):
        lay = _RunLayout(client, run, "r")
        r = _trial(client, lay, "r", trial, np)
        is_e = np.array([c < lay.n_e for c in lay.cells], dtype=bool)
        t = lay.times(np, r.shape[0])
        title = f"{lay.id}, trial {trial}"
    else:
        if n_e is None:
            raise ValueError("plot_rates of an array needs n_e (its number of E columns)")
        r = _ndarray(np, client, np.float64)
        if r.ndim == 3:
            r = r[trial]
        if r.ndim != 2:
            raise ValueError(f"rates must be (B, T', n) or (T', n), not shape {r.shape}")
        is_e = np.arange(r.shape[1]) < n_e
        t = (np.arange(r.shape[0]) + 1) * every * dt
        title = f"trial {trial}"
    ax = _axes(ax, plt)
    for name, mask, colour in (("E", is_e, _E_COLOUR), ("I", ~is_e, _I_COLOUR)):
        if mask.any():
            ax.plot(t, r[:, mask].mean(axis=1), label=name, color=colour)
    ax.set_xlabel("time")
    ax.set_ylabel("population mean rate r")
    ax.set_title(title)
    ax.legend()
    return ax


def plot_heatmap(client: Any, run: Any, var: str = "r", trial: int = 0, ax: Any = None, *,
                 cmap: Optional[str] = None) -> Any:
    """A cell x time heat map of a recorded variable for one trial, E cells above I cells
    (each in the order recorded), a line between them, and a colour bar.

    Args:
        client: an :class:`eirnn.Client`.
        run: the run's id or resource.
        var: ``"r"``, ``"V"``, ``"z"`` or ``"y"`` (the readout: no populations, no line).
        trial: the trial to plot.
        ax: the Axes to draw into (default: a new figure's).
        cmap: a matplotlib colour map (default: matplotlib's, viridis).

    The image's rows are the cells (row ``i`` at y = ``i``), its columns the recorded rows
    (x is time, as in :func:`plot_rates`). For ``r`` with no negative value the colour scale
    starts at 0.

    Returns:
        The Axes; its image (``ax.images[0]``, ``get_array()``: cells x rows) has the colour
        bar ``ax.images[0].colorbar``.
    """
    np, plt = _pyplot()
    lay = _RunLayout(client, run, var)
    a = _trial(client, lay, var, trial, np)  # (T', n)
    if var == "y":
        order, n_e_rec = list(range(a.shape[1])), None
    else:
        order = [k for k, c in enumerate(lay.cells) if c < lay.n_e] + \
                [k for k, c in enumerate(lay.cells) if c >= lay.n_e]
        n_e_rec = sum(1 for c in lay.cells if c < lay.n_e)
    img = a[:, order].T
    rows = img.shape[1]
    finite = img[np.isfinite(img)]
    vmin = vmax = None
    if var == "r" and finite.size and finite.min() >= 0:
        vmin = 0.0
    ax = _axes(ax, plt)
    span = rows * lay.every * lay.dt
    im = ax.imshow(img, aspect="auto", origin="upper", interpolation="nearest", cmap=cmap,
                   vmin=vmin, vmax=vmax, extent=(0.0, span, img.shape[0] - 0.5, -0.5))
    if n_e_rec is not None and 0 < n_e_rec < img.shape[0]:
        ax.axhline(n_e_rec - 0.5, color="white", linewidth=1.5, label="E | I")
    ax.set_xlabel("time")
    ax.set_ylabel("readout unit" if var == "y" else "cell (E above the line, I below)")
    ax.set_title(f"{var}: {lay.id}, trial {trial}")
    ax.figure.colorbar(im, ax=ax, label=var)
    return ax


def _model_leak(client: Any, job: Mapping[str, Any]) -> Optional[Tuple[float, float]]:
    """(min, max) of the leak G_b of the stored model of analysis @job: from its document's
    ``leak`` (a number or N numbers), else from its ``G_b`` matrix; None when neither can be
    read (an inline model, a model without ``leak`` in a form read here)."""
    mid = job.get("model_id")
    if not isinstance(mid, str):
        return None
    leak = (client.get_model(mid).get("model") or {}).get("leak")
    if isinstance(leak, numbers.Real) and not isinstance(leak, bool):
        return float(leak), float(leak)
    values: List[float] = []
    if isinstance(leak, list) and leak and all(isinstance(v, numbers.Real) for v in leak):
        values = [float(v) for v in leak]
    else:
        try:
            g = client.matrix(mid, "G_b", timeout=30)
        except Exception:  # noqa: BLE001 - no leak line rather than no plot
            return None
        values = [float(v) for v in (g.data if isinstance(g, NpyArray) else g.ravel())]
    values = [v for v in values if math.isfinite(v)]
    return (min(values), max(values)) if values else None


def _leak_lines(ax: Any, sign: float, leak: Tuple[float, float], colour: str) -> None:
    """The line Re λ = sign * G_b (a band over G_b's range when it differs between cells)."""
    lo, hi = leak
    name = "-G_b" if sign < 0 else "G_b"
    if lo == hi:
        ax.axvline(sign * lo, color=colour, linestyle="--", label=f"Re λ = {name} = {sign * lo:g}")
    else:
        a, b = sorted((sign * lo, sign * hi))
        ax.axvspan(a, b, color=colour, alpha=0.15, label=f"Re λ = {name} (from {a:g} to {b:g})")


def plot_eigenvalues(client: Any, analysis: Any, leak: Optional[float] = None,
                     ax: Any = None) -> Any:
    """Eigenvalues in the complex plane against the unit circle, with the line that tells
    stable from unstable for the matrix they are of (ANALYSIS.md "spectrum", MODEL.md 11).

    Args:
        client: an :class:`eirnn.Client` (unused when @analysis is an array: may be None).
        analysis: a ``spectrum`` analysis (its id or job document), or the eigenvalues
            themselves (a complex array or a list of numbers).
        leak: the leak ``G_b`` (a positive number); see below for its default.
        ax: the Axes to draw into (default: a new figure's).

    Which line, by the analysis's ``of``:

    * ``"W"`` (or an array): the vertical line ``Re λ = G_b``. Linearised with unit gain and
      without gating, ``J = -G_b I + W``, so an eigenvalue of ``W`` right of it grows. Without
      @leak, ``G_b`` is the stored model's (its document's ``leak``, else its ``G_b``
      matrix); a shaded band over its range when it differs between cells; no line for an
      inline model or an array without @leak.
    * ``"jacobian"``: the stability line ``Re λ = 0`` (right of it the state is unstable) and
      the line ``Re λ = -G_b`` where the Jacobian's diagonal sits without gating and input
      (an uncoupled cell's eigenvalue); ``G_b`` defaults to the summary's ``min_leak`` and
      ``max_leak`` (a band from ``-max_leak`` to ``-min_leak`` when they differ).
    * ``"M"`` (the gate matrix, conductances): no line; @leak is refused.

    Returns:
        The Axes: a scatter of the eigenvalues (``ax.collections[0].get_offsets()`` holds
        ``(Re λ, Im λ)`` pairs, in the order given), the unit circle (a
        ``matplotlib.patches.Circle`` of radius 1 at 0, labelled ``unit circle``) and the lines
        (``ax.lines``, each labelled).

    Raises:
        ValueError: an analysis that is not a succeeded ``spectrum``; @leak with ``of`` ``"M"``.
    """
    np, plt = _pyplot()
    from matplotlib.patches import Circle  # noqa: PLC0415 - optional dependency

    of, summary, job = None, {}, None
    if _is_ndarray(analysis) or isinstance(analysis, (list, tuple, NpyArray)):
        ev = _ndarray(np, analysis, np.complex128).ravel()
        title = "eigenvalues"
    else:
        job = analysis if isinstance(analysis, Mapping) and analysis.get("results") \
            else client.analysis(analysis)
        if job.get("analysis") != "spectrum":
            raise ValueError(f"analysis {job.get('id')} is a {job.get('analysis')!r} analysis, "
                             f"not a spectrum")
        if job.get("status") != "succeeded":
            raise ValueError(f"analysis {job.get('id')} has not succeeded (status "
                             f"{job.get('status')}): wait for it (Client.wait_analysis)")
        summary = job.get("summary") or {}
        of = summary.get("of")
        ev = _ndarray(np, client.analysis_result(job, "eigenvalues"), np.complex128).ravel()
        title = f"eigenvalues of {of}: {job.get('id')}"
    if of == "M" and leak is not None:
        raise ValueError("the eigenvalues of M (the gate matrix) have no leak line: leave leak "
                         "out (it applies to W and to the Jacobian)")
    if leak is not None and not (isinstance(leak, numbers.Real) and math.isfinite(leak)):
        raise ValueError(f"leak must be a finite number, not {leak!r}")

    ax = _axes(ax, plt)
    ax.scatter(ev.real, ev.imag, s=16, color="black", zorder=3, label="eigenvalues")
    ax.add_patch(Circle((0.0, 0.0), 1.0, fill=False, color="grey", linestyle=":",
                        label="unit circle"))
    rng: Optional[Tuple[float, float]] = None if leak is None else (float(leak), float(leak))
    if of == "jacobian":
        ax.axvline(0.0, color="tab:red", label="Re λ = 0 (stability)")
        lo, hi = summary.get("min_leak"), summary.get("max_leak")
        if rng is None and isinstance(lo, numbers.Real) and isinstance(hi, numbers.Real):
            rng = (float(lo), float(hi))
        if rng is not None:
            _leak_lines(ax, -1.0, rng, "tab:blue")
    elif of != "M":
        if rng is None and job is not None:
            rng = _model_leak(client, job)
        if rng is not None:
            _leak_lines(ax, 1.0, rng, "tab:red")
    ax.set_aspect("equal", adjustable="datalim")
    ax.autoscale_view()
    ax.set_xlabel("Re λ")
    ax.set_ylabel("Im λ")
    ax.set_title(title)
    ax.legend(loc="best", fontsize="small")
    return ax


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)


def _ticks(ax_set: Any, values: Sequence[Any]) -> None:
    """Label positions 0..n-1 with @values (an axis of strings, lists or objects)."""
    ax_set(range(len(values)), [str(v) for v in values])


def plot_sweep(client: Any, sweep: Any, metric: str, ax: Any = None, *,
               over: Optional[Sequence[str]] = None,
               fixed: Optional[Mapping[str, Any]] = None) -> Any:
    """A metric of a sweep's table over one axis (a line) or two (an image with a colour bar).

    Args:
        client: an :class:`eirnn.Client`.
        sweep: the sweep's id or resource.
        metric: a column of its table (``"late.mean.E"``, ``"final.r.I"``, ``"max_z_dt"``,
            ...; see :meth:`eirnn.Client.sweep_table`).
        ax: the Axes to draw into (default: a new figure's).
        over: the axis paths to plot over (one or two; default: the sweep's axes when it has
            one or two; the first axis of a ``zip`` sweep).
        fixed: for the other axes, the value each is held at (default: its first value).

    Points not ended, failed, or missing from the grid are NaN (a gap in the line, a blank
    cell). Axis values that are not numbers are placed at 0, 1, ... and labelled.

    Returns:
        The Axes: a line (``ax.lines[0]``: x the axis values, y the metric) over one axis;
        over two an image (``ax.images[0].get_array()``: rows the values of the first axis of
        @over, columns those of the second) with its colour bar.

    Raises:
        ValueError: an unknown metric (the message lists the table's metric columns), an
            unknown axis in @over or @fixed, more than two axes to plot over.
    """
    np, plt = _pyplot()
    res = sweep if isinstance(sweep, Mapping) and sweep.get("axes") else client.sweep(sweep)
    sid = res.get("id")
    axes: Dict[str, List[Any]] = {a["path"]: list(a["values"]) for a in res["axes"]}
    table = client.sweep_table(sid, as_="raw")
    cols = list(table["columns"])
    rows = table["rows"]
    if metric not in cols or metric in axes or metric in ("index", "run_id", "status"):
        metrics = [c for c in cols if c not in axes and c not in ("index", "run_id", "status")]
        raise ValueError(f"sweep {sid} has no metric {metric!r} (its table's metrics: "
                         f"{', '.join(metrics) or 'none: the sweep asked for no metrics'})")
    if over is None:
        paths = list(axes)
        over = paths[:1] if res.get("mode") == "zip" or len(paths) == 1 else paths
    over = list(over)
    if not 1 <= len(over) <= 2 or any(p not in axes for p in over):
        raise ValueError(f"over must name one or two axes of sweep {sid} ({', '.join(axes)}), "
                         f"not {over}")
    hold = {p: v[0] for p, v in axes.items() if p not in over and res.get("mode") != "zip"}
    for p, v in (fixed or {}).items():
        if p not in axes or p in over:
            raise ValueError(f"fixed: {p!r} is not an axis of sweep {sid} outside over")
        hold[p] = v
    at = {c: i for i, c in enumerate(cols)}
    keep = [row for row in rows if all(row[at[p]] == v for p, v in hold.items())]

    def value(row: Sequence[Any]) -> float:
        v = row[at[metric]]
        return float("nan") if v is None else float(v)

    ax = _axes(ax, plt)
    x_vals = axes[over[0]]
    if len(over) == 1:
        y = np.full(len(x_vals), np.nan)
        for row in keep:
            for k, xv in enumerate(x_vals):
                if row[at[over[0]]] == xv:
                    y[k] = value(row)
                    break
        x = np.asarray(x_vals, dtype=np.float64) if _numeric(x_vals) \
            else np.arange(len(x_vals), dtype=np.float64)
        ax.plot(x, y, marker="o", label=metric)
        if not _numeric(x_vals):
            _ticks(ax.set_xticks, x_vals)
        ax.set_xlabel(over[0])
        ax.set_ylabel(metric)
    else:
        y_vals = axes[over[1]]
        img = np.full((len(x_vals), len(y_vals)), np.nan)
        for row in keep:
            i = next((k for k, v in enumerate(x_vals) if row[at[over[0]]] == v), None)
            j = next((k for k, v in enumerate(y_vals) if row[at[over[1]]] == v), None)
            if i is not None and j is not None:
                img[i, j] = value(row)
        im = ax.imshow(img, aspect="auto", origin="lower", interpolation="nearest")
        _ticks(ax.set_yticks, x_vals)
        _ticks(ax.set_xticks, y_vals)
        ax.set_ylabel(over[0])
        ax.set_xlabel(over[1])
        ax.figure.colorbar(im, ax=ax, label=metric)
    held = ", ".join(f"{p} = {v}" for p, v in hold.items())
    ax.set_title(f"{metric}: sweep {sid}" + (f" ({held})" if held else ""))
    return ax
