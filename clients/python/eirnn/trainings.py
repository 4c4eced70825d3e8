"""Trainings of eirnnd (``/v1/trainings``, docs/TRAINING.md): the methods of
:class:`eirnn.Client` that submit them, follow them, read their loss curves and give back the
trained model.

A training is a job of the run queue, like a run: ``POST /v1/trainings`` answers 202 with the
job document (``id`` ``"t_..."``, ``status``, ``progress`` in iterations, the latest curve row
while it runs and, once it has succeeded, the trained model's id and the evaluation on held-out
test trials). The result is a new stored model, usable by runs, analyses and sweeps.
"""

from __future__ import annotations

import math
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Union

from .arrays import numpy_or_none
from .errors import Error
from .jobs import FINAL_STATUSES, wait_for_end
from .sweeps import labels_query

__all__ = ["CURVE_COLUMNS", "Training", "TrainingError", "TrainingRef", "TrainingsMixin",
           "curve_rows", "format_progress", "training_body"]

#: The columns of a training's curve, in the server's order (NaN / ``None``: not measured).
CURVE_COLUMNS = ("iteration", "loss", "task_loss", "l2_weights", "l2_rates", "grad_norm",
                 "accuracy", "eval_accuracy")

#: A training: its id, its job document (a dict with ``"id"``) or a :class:`Training`.
TrainingRef = Union[str, Mapping[str, Any], "Training"]


def _training_id(ref: TrainingRef) -> str:
    """The id of a training given as an id, a job document or a :class:`Training`, quoted as
    a path segment (TypeError, ValueError else)."""
    if isinstance(ref, Training):
        tid = ref.id
    elif isinstance(ref, str):
        tid = ref
    elif isinstance(ref, Mapping) and isinstance(ref.get("id"), str):
        tid = ref["id"]
    else:
        raise TypeError("training must be a training id, a job document (a dict with 'id') "
                        "or a Training")
    if not tid:
        raise ValueError("empty training id")
    return urllib.parse.quote(tid, safe="")


def curve_rows(answer: Any) -> List[Dict[str, Any]]:
    """The rows of a curve answer (``GET /v1/trainings/{id}/curve``: ``{"training_id",
    "status", "iterations_done", "iterations", "rows", "next_after"}``) as a list of dicts, one
    per recorded iteration, ``None`` where a value was not measured.

    Raises:
        ValueError: the answer is not a curve.
    """
    rows = answer.get("rows") if isinstance(answer, Mapping) else None
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        raise ValueError(f"not a training curve: {str(answer)[:200]}")
    return [dict(r) for r in rows]


class TrainingError(Error):
    """:meth:`eirnn.Client.train` waited for a training that ended other than ``succeeded``
    (``failed``, ``diverged`` or ``cancelled``): no model was made.

    Attributes:
        training: the :class:`Training` (``status``, ``error``, ``curve`` up to its end).
    """

    def __init__(self, training: "Training") -> None:
        """Record the training and say how it ended."""
        self.training = training
        err = training.error or {}
        why = err.get("detail") if isinstance(err, Mapping) else None
        field = err.get("field") if isinstance(err, Mapping) else None
        text = f"training {training.id} {training.status}"
        if why:
            text += f": {field + ': ' if field else ''}{why}"
        super().__init__(text)


class Training:
    """A training of eirnnd, as :meth:`eirnn.Client.train` returns it.

    Attributes:
        id: the training's id (``"t_..."``).
        status: ``queued``, ``running``, ``succeeded``, ``failed``, ``diverged`` or
            ``cancelled`` (when it was fetched).
        model_id: the trained model's id once it succeeded, else ``None``: use it for runs,
            analyses and sweeps like any stored model.
        curve: the loss curve, a list of dicts (one per recorded iteration, keys
            :data:`CURVE_COLUMNS`, ``None`` where not measured), as read at the end; see
            :meth:`curve_arrays` for columns.
        evaluation: the evaluation on held-out test trials once it succeeded (``trials``,
            ``correct``, ``accuracy``, ``ideal`` (the ideal observer's accuracy on the same
            trials, decision task), ``loss`` (``{"total", "task", "l2_weights",
            "l2_rates"}``) and, for the decision tasks, ``psychometric``: ``[{"coherence",
            "n", "p_choice2"}, ...]``), else ``None``.
        error: why it failed (``{"detail", "field", ...}``), else ``None``.
        loss: the final training loss (total) once it succeeded, else ``None`` (its parts:
            ``job["loss"]``).
        wall_s: the seconds it took once it succeeded, else ``None``.
        job: the job document the above were read from.
    """

    def __init__(self, job: Mapping[str, Any], curve: Optional[List[Dict[str, Any]]] = None,
                 use_numpy: Optional[bool] = None) -> None:
        """A training from its job document and (optionally) its curve rows."""
        self.job: Dict[str, Any] = dict(job)
        self.id: str = str(job.get("id", ""))
        self.status: str = str(job.get("status", ""))
        mid = job.get("model_id") if self.status == "succeeded" else None
        self.model_id: Optional[str] = mid if isinstance(mid, str) and mid else None
        ev = job.get("evaluation")
        self.evaluation: Optional[Dict[str, Any]] = dict(ev) if isinstance(ev, Mapping) else None
        err = job.get("error")
        self.error: Optional[Dict[str, Any]] = dict(err) if isinstance(err, Mapping) else None
        loss, wall = job.get("loss"), job.get("wall_s")
        if isinstance(loss, Mapping):
            loss = loss.get("total")
        self.loss: Optional[float] = float(loss) if isinstance(loss, (int, float)) else None
        self.wall_s: Optional[float] = float(wall) if isinstance(wall, (int, float)) else None
        self.curve: List[Dict[str, Any]] = list(curve or [])
        self._use_numpy = use_numpy

    def __repr__(self) -> str:
        """Id, status, trained model and the number of curve rows."""
        return (f"Training(id={self.id!r}, status={self.status!r}, model_id={self.model_id!r}, "
                f"curve=[{len(self.curve)} rows])")

    def curve_arrays(self) -> Dict[str, Any]:
        """The curve by column: ``{"iteration": ..., "loss": ..., ...}``, NumPy arrays (int64
        for ``iteration``, float64 with NaN where not measured) when NumPy is used, else lists
        (``None`` where not measured)."""
        np = numpy_or_none() if self._use_numpy is not False else None
        cols: Dict[str, Any] = {}
        for name in CURVE_COLUMNS:
            values = [row.get(name) for row in self.curve]
            if np is None:
                cols[name] = values
            elif name == "iteration":
                cols[name] = np.array(values, dtype=np.int64)
            else:
                cols[name] = np.array([math.nan if v is None else float(v) for v in values],
                                      dtype=np.float64)
        return cols

    def psychometric(self) -> Dict[str, Any]:
        """The psychometric curve of the evaluation as columns ``{"coherence", "n",
        "p_choice2"}`` (NumPy arrays when NumPy is used), sorted by coherence.

        Raises:
            ValueError: the training has no psychometric curve (not succeeded, or a task
                without one).
        """
        pts = (self.evaluation or {}).get("psychometric")
        if not isinstance(pts, list) or not pts:
            raise ValueError(f"training {self.id} has no psychometric curve "
                             f"(status {self.status})")
        pts = sorted(pts, key=lambda p: p["coherence"])
        out = {k: [p[k] for p in pts] for k in ("coherence", "n", "p_choice2")}
        np = numpy_or_none() if self._use_numpy is not False else None
        if np is not None:
            out = {k: np.asarray(v) for k, v in out.items()}
        return out


def training_body(doc: Mapping[str, Any], overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """The body of ``POST /v1/trainings``: @doc (a training document, FORMAT.md "Trainings")
    with the members of @overrides set (a ``None`` value is left out). ``model`` may be a
    model resource (``create_model``'s answer): its id is sent."""
    if not isinstance(doc, Mapping):
        raise TypeError("doc must be a training document (a dict)")
    body = dict(doc)
    for k, v in overrides.items():
        if v is not None:
            body[k] = v
    model = body.get("model")
    if isinstance(model, Mapping) and isinstance(model.get("id"), str) \
            and "populations" not in model:
        body["model"] = model["id"]
    if "model" not in body:
        raise ValueError("the training document needs a model: a stored model's id or a "
                         "model document (model=...)")
    return body


class TrainingsMixin:
    """The training methods of :class:`eirnn.Client` (it provides ``request``, ``_json``,
    ``_pages``, ``timeout`` and ``use_numpy``)."""

    def train(
        self,
        doc: Mapping[str, Any],
        wait: bool = True,
        timeout: Optional[float] = None,
        progress: Optional[Callable[[Dict[str, Any]], None]] = None,
        idempotency_key: Optional[str] = None,
        check: bool = True,
        **overrides: Any,
    ) -> Training:
        """``POST /v1/trainings``: queue a training and (by default) wait for its end.

        Args:
            doc: the training document (FORMAT.md "Trainings": ``model``, ``task``,
                ``dt``, ``loss``, ``optimizer``, ``batch``, ``iterations``, ``seed``, ...).
                NumPy arrays in it (a custom task's inputs and targets) are sent as binary
                arrays.
            wait: wait for the end and fetch the curve; ``False`` returns the queued
                training at once.
            timeout: with @wait, give up after this many seconds (:class:`EirnnTimeoutError`;
                the training goes on).
            progress: with @wait, called with the job document after each poll that did not
                end it (about once a second): its ``progress`` (``done``, ``total``,
                ``fraction`` in iterations) and latest curve row.
            idempotency_key: the same key and body give back the training created the first
                time.
            check: with @wait, raise :class:`TrainingError` when it ends other than
                ``succeeded``.
            **overrides: members replacing those of @doc, e.g. ``model="m_..."`` (or a model
                resource), ``iterations=2000``, ``seed=3``, ``name="dale_pdm"``.

        Returns:
            A :class:`Training`: ``model_id``, ``curve``, ``evaluation``.

        Raises:
            EirnnError: 400/422 for a document the server refuses (``e.field`` names the
                member as a JSON pointer, e.g. ``/optimizer/lr``), 404 for an unknown model.
            TrainingError: with @wait and @check, it failed, diverged or was cancelled.
        """
        body = training_body(doc, overrides)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        job = self._json("POST", "/v1/trainings", body=body, headers=headers)  # type: ignore[attr-defined]
        if not wait:
            return Training(job, use_numpy=self.use_numpy)  # type: ignore[attr-defined]
        if job.get("status") not in FINAL_STATUSES:
            job = self.wait_training(job, timeout=timeout, progress=progress)
        t = Training(job, self.training_curve(job), use_numpy=self.use_numpy)  # type: ignore[attr-defined]
        if check and t.status != "succeeded":
            raise TrainingError(t)
        return t

    def training(self, training: TrainingRef, wait: Optional[float] = None) -> Dict[str, Any]:
        """``GET /v1/trainings/{id}``: the job document; @wait long-polls up to that many
        seconds for its end."""
        tid = _training_id(training)
        q = {"wait": f"{wait:g}"} if wait else None
        t = self.timeout + (wait or 0)  # type: ignore[attr-defined]
        return self._json("GET", f"/v1/trainings/{tid}", query=q, timeout=t)  # type: ignore[attr-defined]

    def wait_training(
        self,
        training: TrainingRef,
        timeout: Optional[float] = None,
        poll: Optional[float] = None,
        progress: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> Dict[str, Any]:
        """Wait (long polls) until a training has ended and return its final job document:
        check ``status``. Arguments as :meth:`wait_analysis`.

        Raises:
            EirnnTimeoutError: @timeout passed first; its ``run`` is the last document seen.
        """
        return wait_for_end(lambda w: self.training(training, wait=w), timeout, poll, progress)

    def training_result(self, training: TrainingRef) -> Training:
        """The :class:`Training` of an existing training (its document and whole curve), e.g.
        after ``train(wait=False)`` and :meth:`wait_training`."""
        job = self.training(training)
        return Training(job, self.training_curve(job), use_numpy=self.use_numpy)  # type: ignore[attr-defined]

    def trainings(
        self,
        status: Optional[str] = None,
        model_id: Optional[Union[str, Mapping[str, Any]]] = None,
        task: Optional[str] = None,
        limit: Optional[int] = None,
        page_size: Optional[int] = None,
        labels: Optional[Any] = None,
    ) -> Iterator[Dict[str, Any]]:
        """``GET /v1/trainings``: iterate over trainings, newest first (filters: status, the
        model it started from, task name, labels as for :meth:`list_runs`), following the
        pagination."""
        q: Dict[str, Any] = {"status": status, "task": task, "label": labels_query(labels)}
        if model_id is not None:
            q["model_id"] = model_id if isinstance(model_id, str) else model_id.get("id")
        return self._pages("/v1/trainings", q, limit, page_size)  # type: ignore[attr-defined]

    def training_curve(self, training: TrainingRef,
                       after: Optional[int] = None) -> List[Dict[str, Any]]:
        """``GET /v1/trainings/{id}/curve``: the loss curve, one dict per recorded iteration
        (keys :data:`CURVE_COLUMNS`; ``None`` where not measured), every page of it. Readable
        while the training runs; @after keeps only the rows after that iteration (to follow
        it)."""
        tid = _training_id(training)
        rows: List[Dict[str, Any]] = []
        while True:
            q = {"format": "json", "after": None if after is None else str(int(after))}
            page = self._json("GET", f"/v1/trainings/{tid}/curve", query=q)  # type: ignore[attr-defined]
            rows.extend(curve_rows(page))
            after = page.get("next_after")
            if after is None:
                return rows

    def training_curve_csv(self, training: TrainingRef, after: Optional[int] = None) -> str:
        """The loss curve as CSV text (a header row, one row per iteration; empty fields where
        not measured): one page, at most 100,000 rows (@after continues)."""
        tid = _training_id(training)
        q = {"format": "csv", "after": None if after is None else str(int(after))}
        _, _, raw = self.request("GET", f"/v1/trainings/{tid}/curve", query=q)  # type: ignore[attr-defined]
        return raw.decode("utf-8")

    def training_request(self, training: TrainingRef) -> Dict[str, Any]:
        """``GET /v1/trainings/{id}/request``: the training document as it was stored;
        submitting it again gives the same model, byte for byte."""
        tid = _training_id(training)
        return self._json("GET", f"/v1/trainings/{tid}/request")  # type: ignore[attr-defined]

    def cancel_training(self, training: TrainingRef) -> Dict[str, Any]:
        """``POST /v1/trainings/{id}/cancel``: cancel a queued or running training; returns
        the document (a running one stops at its next iteration: :meth:`wait_training`). 409
        when it already ended otherwise."""
        tid = _training_id(training)
        return self._json("POST", f"/v1/trainings/{tid}/cancel")  # type: ignore[attr-defined]

    def delete_training(self, training: TrainingRef) -> None:
        """``DELETE /v1/trainings/{id}``: delete an ended training, its checkpoint and curve
        (not the model it trained). 409 while it is queued or running."""
        self.request("DELETE", f"/v1/trainings/{_training_id(training)}")  # type: ignore[attr-defined]


def format_progress(job: Mapping[str, Any]) -> str:
    """A line for people of a training document: ``"t_... running 120/2000 iterations, loss
    0.6931, accuracy 51.2%"`` from its latest curve row (with ``", held-out 50.0%"`` when that
    row was an evaluation); for a @progress callback: ``progress=lambda j:
    print(eirnn.trainings.format_progress(j))``."""
    p = job.get("progress") or {}
    text = f"{job.get('id', '?')} {job.get('status', '?')} {p.get('done', 0)}/{p.get('total', 0)} " \
           "iterations"
    row = job.get("latest")
    if isinstance(row, Mapping):
        if isinstance(row.get("loss"), (int, float)):
            text += f", loss {row['loss']:.4g}"
        if isinstance(row.get("accuracy"), (int, float)):
            text += f", accuracy {100 * row['accuracy']:.1f}%"
        if isinstance(row.get("eval_accuracy"), (int, float)):
            text += f", held-out {100 * row['eval_accuracy']:.1f}%"
    return text

