"""Analyses of eirnnd (``/v1/analyses``, docs/ANALYSIS.md): the methods of
:class:`eirnn.Client` that submit them, wait for them and fetch their result arrays.

An analysis is a job of the run queue: ``POST /v1/analyses`` answers 202 with the job document
(``id``, ``kind: "analysis"``, ``analysis`` (the kind asked), ``status``, ``progress``, and once
it has succeeded ``summary`` and ``results``: ``{name: {"dtype", "shape", "url"}}``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Callable, Dict, Iterator, Mapping, Optional, Union

from .arrays import NpyArray, _is_ndarray, load_npy
from .jobs import FINAL_STATUSES, wait_for_end
from .sweeps import labels_query

__all__ = ["AnalysesMixin", "ANALYSIS_KINDS", "AnalysisRef"]

#: The kinds of analysis eirnnd runs.
ANALYSIS_KINDS = frozenset({"spectrum", "fixed_points", "lyapunov", "activity"})

#: An analysis: its id, or its job document (a dict with ``"id"``).
AnalysisRef = Union[str, Mapping[str, Any]]


def _analysis_id(ref: AnalysisRef) -> str:
    """The id of an analysis given as an id or a job document (TypeError, ValueError else)."""
    if isinstance(ref, str):
        aid = ref
    elif isinstance(ref, Mapping) and isinstance(ref.get("id"), str):
        aid = ref["id"]
    else:
        raise TypeError("analysis must be an analysis id or a job document (a dict with 'id')")
    if not aid:
        raise ValueError("empty analysis id")
    return urllib.parse.quote(aid, safe="")


def _plain(value: Any) -> Any:
    """@value with NumPy arrays and :class:`NpyArray` (at any depth) as nested lists, the form
    every member of an analysis request takes (``x``, ``at.V``, ``V0``)."""
    if _is_ndarray(value):
        return value.tolist()
    if isinstance(value, NpyArray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class AnalysesMixin:
    """The analysis methods of :class:`eirnn.Client` (it provides ``request``, ``_json``,
    ``_pages``, ``timeout`` and ``use_numpy``)."""

    def analyze(
        self,
        kind: str,
        model_id: Optional[Union[str, Mapping[str, Any]]] = None,
        model: Optional[Mapping[str, Any]] = None,
        wait: bool = True,
        timeout: Optional[float] = None,
        idempotency_key: Optional[str] = None,
        progress: Optional[Callable[[Dict[str, Any]], None]] = None,
        **options: Any,
    ) -> Dict[str, Any]:
        """``POST /v1/analyses``: queue an analysis and (by default) wait for its end.

        Args:
            kind: ``"spectrum"``, ``"fixed_points"``, ``"lyapunov"`` or ``"activity"``.
            model_id: a stored model's id (or its resource). ``activity`` takes the model of
                its run (``run_id=``) and needs neither.
            model: the model inline (a model document), instead of @model_id.
            wait: wait for the end (:meth:`wait_analysis`) and return the final document;
                ``False`` returns the queued one.
            timeout: with @wait, give up after this many seconds (:class:`EirnnTimeoutError`).
            idempotency_key: the same key and body give back the job created the first time.
            progress: with @wait, called with the job document after each poll that did not
                end it.
            **options: the kind's members (docs/ANALYSIS.md), e.g. ``of="jacobian"``,
                ``at={"V": v}``, ``x=[1, 0]``, ``starts={"random": {"count": 100, "seed":
                1}}``, ``k=2, dt=0.01, steps=10000``, ``run_id=...``. NumPy arrays are sent
                as lists.

        Returns:
            The job document: ``status``, ``summary`` and ``results`` once succeeded (fetch
            the arrays with :meth:`analysis_result` / :meth:`analysis_results`).

        Raises:
            EirnnError: 400/422 for a request the server refuses (``e.field`` names the
                member as a JSON pointer), 404 for an unknown model.
        """
        if kind not in ANALYSIS_KINDS:
            raise ValueError(f"kind must be one of {sorted(ANALYSIS_KINDS)}, not {kind!r}")
        if model is not None and model_id is not None:
            raise ValueError("give model or model_id, not both")
        body: Dict[str, Any] = {"kind": kind}
        if model_id is not None:
            mid = model_id if isinstance(model_id, str) else model_id.get("id")
            if not isinstance(mid, str) or not mid:
                raise TypeError("model_id must be a model id or a model resource")
            body["model_id"] = mid
        elif model is not None:
            if isinstance(model, Mapping) and "id" in model and "populations" not in model:
                body["model_id"] = model["id"]
            else:
                body["model"] = model
        elif kind != "activity":
            raise ValueError("give model_id (a stored model) or model (inline)")
        for k, v in options.items():
            if k in body:
                raise ValueError(f"{k} given twice")
            body[k] = _plain(v)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        job = self._json("POST", "/v1/analyses", body=body, headers=headers)  # type: ignore[attr-defined]
        if not wait or job.get("status") in FINAL_STATUSES:
            return job
        return self.wait_analysis(job, timeout=timeout, progress=progress)

    def analysis(self, analysis: AnalysisRef, wait: Optional[float] = None) -> Dict[str, Any]:
        """``GET /v1/analyses/{id}``: the job document; @wait long-polls up to that many
        seconds for its end."""
        aid = _analysis_id(analysis)
        q = {"wait": f"{wait:g}"} if wait else None
        t = self.timeout + (wait or 0)  # type: ignore[attr-defined]
        return self._json("GET", f"/v1/analyses/{aid}", query=q, timeout=t)  # type: ignore[attr-defined]

    def wait_analysis(
        self,
        analysis: AnalysisRef,
        timeout: Optional[float] = None,
        poll: Optional[float] = None,
        progress: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> Dict[str, Any]:
        """Wait (long polls) until an analysis has ended and return its final job document:
        check ``status`` (``succeeded``, ``failed`` with ``error``, or ``cancelled``).

        Args:
            analysis: its id or job document.
            timeout: give up after this many seconds (default: wait forever).
            poll: seconds per long poll (default 30, or 1 with @progress).
            progress: called with the document after each poll that did not end it.

        Raises:
            EirnnTimeoutError: @timeout passed first; its ``run`` is the last document seen.
        """
        return wait_for_end(lambda w: self.analysis(analysis, wait=w), timeout, poll, progress)

    def list_analyses(
        self,
        status: Optional[str] = None,
        model_id: Optional[Union[str, Mapping[str, Any]]] = None,
        kind: Optional[str] = None,
        limit: Optional[int] = None,
        page_size: Optional[int] = None,
        labels: Optional[Any] = None,
    ) -> Iterator[Dict[str, Any]]:
        """``GET /v1/analyses``: iterate over analyses, newest first (filters as the
        server's: status, model, kind, and @labels: ``{"project": "isn"}`` or
        ``["project:isn"]`` sent as ``?label=project:isn``, repeated), following the
        pagination."""
        q: Dict[str, Any] = {"status": status, "kind": kind, "label": labels_query(labels)}
        if model_id is not None:
            q["model_id"] = model_id if isinstance(model_id, str) else model_id.get("id")
        return self._pages("/v1/analyses", q, limit, page_size)  # type: ignore[attr-defined]

    def cancel_analysis(self, analysis: AnalysisRef) -> Dict[str, Any]:
        """``POST /v1/analyses/{id}/cancel``: cancel a queued or running analysis; returns
        the document (a running one stops soon after: :meth:`wait_analysis`). 409 when it
        already ended otherwise."""
        aid = _analysis_id(analysis)
        return self._json("POST", f"/v1/analyses/{aid}/cancel")  # type: ignore[attr-defined]

    def delete_analysis(self, analysis: AnalysisRef) -> None:
        """``DELETE /v1/analyses/{id}``: delete an ended analysis and its results (409 while
        it is queued or running)."""
        self.request("DELETE", f"/v1/analyses/{_analysis_id(analysis)}")  # type: ignore[attr-defined]

    def analysis_result_bytes(self, analysis: AnalysisRef, name: str,
                              format: str = "npy") -> bytes:  # noqa: A002 - the API's name
        """``GET /v1/analyses/{id}/results/{name}``: the raw body in @format (``"npy"``,
        ``"json"`` or ``"csv"``)."""
        aid = _analysis_id(analysis)
        n = urllib.parse.quote(name, safe="")
        _, _, raw = self.request(  # type: ignore[attr-defined]
            "GET", f"/v1/analyses/{aid}/results/{n}", query={"format": format})
        return raw

    def analysis_result(self, analysis: AnalysisRef, name: str) -> Any:
        """One result array of a succeeded analysis (``"eigenvalues"``, ``"V"``, ...): a
        ``numpy.ndarray`` (complex128 for eigenvalues and eigenvectors, int32 for counts) or,
        without NumPy, an :class:`eirnn.NpyArray` (complex values as Python ``complex``).

        Raises:
            EirnnError: 404 for a name the analysis does not have, 409 before it succeeded.
        """
        return load_npy(self.analysis_result_bytes(analysis, name, "npy"),
                        self.use_numpy, analysis_dtypes=True)  # type: ignore[attr-defined]

    def analysis_results(self, analysis: AnalysisRef) -> Dict[str, Any]:
        """Every result array of a succeeded analysis, as ``{name: array}`` (see
        :meth:`analysis_result`); the names are those of its job document."""
        job = analysis if isinstance(analysis, Mapping) and "results" in analysis \
            else self.analysis(analysis)
        return {name: self.analysis_result(job, name) for name in (job.get("results") or {})}
