"""The HTTP client of eirnnd's v1 REST API (standard library only)."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .arrays import _is_ndarray, binary_array, json_default, load_npy, numpy_or_none
from .arrays import NpyArray
from .analyses import AnalysesMixin
from .sweeps import Labels, SweepsMixin, labels_query
from .trainings import TrainingsMixin
from .errors import EirnnConnectionError, EirnnError, EirnnTimeoutError, reason_phrase
from .jobs import FINAL_STATUSES, wait_for_end

__all__ = ["Client", "FINAL_STATUSES", "RunRef", "Index"]

#: A run: its id, or a run resource (a dict with ``"id"``) as returned by the client.
RunRef = Union[str, Mapping[str, Any]]
#: A selection along one axis of a result: an index, a ``slice`` (step 1), a ``(start, stop)``
#: pair or the server's own text (``"a:b"``, ``"5"``, ``":10"``).
Index = Union[int, slice, Tuple[Optional[int], Optional[int]], str]

_USER_AGENT = "eirnn-python/0.1"


def _resource_id(kind: str, ref: Union[str, Mapping[str, Any]]) -> str:
    """The id of a ``kind`` ("run", "model") given as an id or a resource (a dict with ``"id"``).

    Raises TypeError for anything else and ValueError for an empty id.
    """
    if isinstance(ref, str):
        rid = ref
    elif isinstance(ref, Mapping) and isinstance(ref.get("id"), str):
        rid = ref["id"]
    else:
        raise TypeError(f"{kind} must be a {kind} id or a {kind} resource (a dict with 'id')")
    if not rid:
        raise ValueError(f"empty {kind} id")
    return rid


def _run_id(run: RunRef) -> str:
    """The id of a run given as an id or a run resource."""
    return _resource_id("run", run)


def _model_id(model: Union[str, Mapping[str, Any]]) -> str:
    """The id of a model given as an id or a model resource."""
    return _resource_id("model", model)


def _range_param(name: str, sel: Optional[Index]) -> Optional[str]:
    """Format a trials/steps selection the way the server reads it (``a:b`` or ``i``)."""
    if sel is None:
        return None
    if isinstance(sel, bool):
        raise TypeError(f"{name} must be an index, a slice, a (start, stop) pair or a string")
    if isinstance(sel, int):
        if sel < 0:
            raise ValueError(f"{name}: negative indices are not supported ({sel})")
        return str(sel)
    if isinstance(sel, str):
        return sel
    if isinstance(sel, slice):
        if sel.step not in (None, 1):
            raise ValueError(f"{name}: slices with a step are not supported")
        start, stop = sel.start, sel.stop
    elif isinstance(sel, tuple) and len(sel) == 2:
        start, stop = sel
    else:
        raise TypeError(f"{name} must be an index, a slice, a (start, stop) pair or a string")
    for v in (start, stop):
        if v is not None and (not isinstance(v, int) or v < 0):
            raise ValueError(f"{name}: bounds must be integers >= 0, not {v!r}")
    return f"{'' if start is None else start}:{'' if stop is None else stop}"


def _neurons_param(sel: Union[None, Index, Sequence[Union[int, slice]]]) -> Optional[str]:
    """Format a neurons selection: an index, a range, or a list of indices and ranges."""
    if sel is None:
        return None
    if isinstance(sel, (int, str, slice, tuple)) and not (
        isinstance(sel, tuple) and len(sel) != 2
    ):
        return _range_param("neurons", sel)  # type: ignore[arg-type]
    if _is_ndarray(sel):
        sel = [int(v) for v in sel.ravel()]  # type: ignore[union-attr]
    parts = []
    for item in sel:  # type: ignore[union-attr]
        p = _range_param("neurons", item if isinstance(item, (slice, str)) else int(item))
        if p:
            parts.append(p)
    if not parts:
        raise ValueError("neurons: the selection is empty")
    return ",".join(parts)


class Client(AnalysesMixin, SweepsMixin, TrainingsMixin):
    """A client of eirnnd's v1 REST API (analyses: :class:`eirnn.analyses.AnalysesMixin`;
    sweeps: :class:`eirnn.sweeps.SweepsMixin`; trainings: :class:`eirnn.trainings.TrainingsMixin`).

    Example::

        c = Client("http://127.0.0.1:8080", token="...")
        model = c.create_model({...})
        run = c.submit(model_id=model["id"], inputs=x, dt=0.1, seed=1)
        run = c.wait(run)
        r = c.result(run, "r")  # numpy.ndarray (B, T', n), or an NpyArray without NumPy

    Methods raise :class:`eirnn.EirnnError` when the server answers with an RFC 9457 problem,
    and :class:`eirnn.EirnnConnectionError` when it cannot be reached.
    """

    def __init__(
        self,
        url: str = "http://127.0.0.1:8080",
        token: Optional[str] = None,
        timeout: float = 30,
        *,
        use_numpy: Optional[bool] = None,
    ) -> None:
        """Create a client.

        Args:
            url: the daemon's base URL (scheme, host, port, optional path prefix).
            token: the bearer token, when the daemon was started with ``--token``.
            timeout: seconds a single request may take (a long poll gets its wait on top).
            use_numpy: ``None`` to return results as ``numpy.ndarray`` when NumPy is
                importable, ``False`` to always return :class:`eirnn.NpyArray`, ``True`` to
                require NumPy.
        """
        if not isinstance(url, str) or not url:
            raise ValueError("url must be a non-empty string")
        if "://" not in url:
            url = "http://" + url
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = float(timeout)
        if use_numpy and numpy_or_none() is None:
            raise ImportError("use_numpy=True but NumPy cannot be imported")
        self.use_numpy = use_numpy
        self._opener = urllib.request.build_opener()

    def __repr__(self) -> str:
        """The URL and whether a token is set (never the token itself)."""
        return f"Client(url={self.url!r}, token={'***' if self.token else None})"

    #: The views of the web app, by kind (a plural, or its singular).
    _PAGE_KINDS = {"runs": "runs", "run": "runs", "models": "models", "model": "models",
                   "sweeps": "sweeps", "sweep": "sweeps", "analyses": "analyses",
                   "analysis": "analyses"}

    def page_url(self, kind: str, id: Union[str, Mapping[str, Any]]) -> str:  # noqa: A002
        """The address of a resource's page in the web app eirnnd serves at ``/``:
        ``<url>/#/<kind>/<id>``, e.g. ``page_url("runs", run)`` ->
        ``"http://127.0.0.1:8080/#/runs/r_..."`` (the same address ``eirnn runs show ID``
        prints). No request is made.

        Args:
            kind: ``"runs"``, ``"models"``, ``"sweeps"`` or ``"analyses"`` (or the singular).
            id: the resource's id, or the resource (a dict with ``"id"``).

        Raises:
            ValueError: an unknown kind or an empty id; TypeError: an id of the wrong type.
        """
        path = self._PAGE_KINDS.get(kind) if isinstance(kind, str) else None
        if path is None:
            raise ValueError(f"kind must be one of runs, models, sweeps, analyses, not {kind!r}")
        rid = _resource_id(path.rstrip("s") if path != "analyses" else "analysis", id)
        return f"{self.url}/#/{path}/{urllib.parse.quote(rid, safe='')}"

    # ---------------------------------------------------------------------------------------
    # transport

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        headers: Optional[Mapping[str, str]] = None,
        timeout: Optional[float] = None,
        ok: Sequence[int] = (),
    ) -> Tuple[int, Dict[str, str], bytes]:
        """Send one request and return ``(status, headers, body)``.

        Args:
            method: the HTTP method.
            path: the path below the base URL, e.g. ``"/v1/models"``.
            query: query parameters (``None`` values are left out; a list value repeats the
                parameter, as ``?label=a:1&label=b:2``).
            body: a JSON-serialisable value (NumPy arrays become binary arrays), or ``bytes``.
            headers: extra request headers.
            timeout: seconds for this request (default: the client's timeout).
            ok: error statuses to return instead of raising.

        Raises:
            EirnnError: the server answered 4xx/5xx with (or without) a problem body.
            EirnnConnectionError: no answer (refused, reset, timed out).
        """
        url = self.url + path
        if query:
            q = {k: v for k, v in query.items() if v is not None}
            if q:
                url += "?" + urllib.parse.urlencode(q, safe=":,", doseq=True)
        hdrs = {"User-Agent": _USER_AGENT}
        data: Optional[bytes] = None
        if body is not None:
            if isinstance(body, (bytes, bytearray)):
                data = bytes(body)
            else:
                data = json.dumps(
                    body, default=json_default, allow_nan=False, separators=(",", ":")
                ).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if headers:
            hdrs.update(headers)
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        t = self.timeout if timeout is None else timeout
        try:
            with self._opener.open(req, timeout=t) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as e:
            try:
                raw = e.read()
            except (OSError, http.client.HTTPException):
                raw = b""
            rh = dict(e.headers.items()) if e.headers else {}
            if e.code in ok:
                return e.code, rh, raw
            raise self._problem(e.code, rh, raw) from None
        except urllib.error.URLError as e:
            reason = e.reason
            raise EirnnConnectionError(
                self.url, str(reason) if not isinstance(reason, str) else reason
            ) from None
        except (socket.timeout, TimeoutError):
            raise EirnnConnectionError(self.url, f"timed out after {t:g} s") from None
        except (http.client.HTTPException, OSError) as e:
            raise EirnnConnectionError(self.url, f"{type(e).__name__}: {e}") from None

    @staticmethod
    def _problem(status: int, headers: Mapping[str, str], raw: bytes) -> EirnnError:
        """Turn an error answer into an :class:`EirnnError`."""
        try:
            doc = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            doc = None
        if isinstance(doc, dict) and ("title" in doc or "detail" in doc):
            return EirnnError.from_problem(status, doc, headers)
        text = raw.decode("utf-8", "replace").strip()[:500] if raw else ""
        return EirnnError(status, reason_phrase(status) or "HTTP error", text, headers=headers)

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        """Send a request and decode its JSON answer."""
        status, _, raw = self.request(method, path, **kw)
        if not raw:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise EirnnError(status, "Malformed answer", f"the answer is not JSON: {e}") from None

    def _pages(self, path: str, query: Dict[str, Any], limit: Optional[int],
               page_size: Optional[int]) -> Iterator[Dict[str, Any]]:
        """Yield the items of a paginated list, following ``next_cursor``."""
        if limit is not None and limit <= 0:
            return
        size = page_size
        if size is None and limit is not None:
            size = min(limit, 1000)
        given = 0
        cursor: Optional[str] = None
        while True:
            q = dict(query)
            q["limit"] = size
            q["cursor"] = cursor
            page = self._json("GET", path, query=q)
            for item in page.get("items", []):
                yield item
                given += 1
                if limit is not None and given >= limit:
                    return
            cursor = page.get("next_cursor")
            if not cursor:
                return

    # ---------------------------------------------------------------------------------------
    # service

    def health(self) -> Dict[str, Any]:
        """``GET /healthz``: the daemon's status (``"ok"``, ``"stopping"`` or ``"degraded"``),
        version, workers and queue depth. A 503 answer is returned too, not raised."""
        status, _, raw = self.request("GET", "/healthz", ok=(503,))
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            doc = None
        if not isinstance(doc, dict) or "status" not in doc:
            raise self._problem(status, {}, raw)
        return doc

    def openapi(self) -> Dict[str, Any]:
        """``GET /v1/openapi.json``: the API's OpenAPI 3.1 document."""
        return self._json("GET", "/v1/openapi.json")

    # ---------------------------------------------------------------------------------------
    # models

    def create_model(self, model: Mapping[str, Any], wait: bool = False,
                     timeout: Optional[float] = None) -> Dict[str, Any]:
        """``POST /v1/models``: validate and store a model document.

        A model with a ``generate`` recipe is built by a worker of the daemon after the
        answer: its ``state`` is ``"pending"`` and its ``hash`` ``None`` until then. Runs may
        be submitted on a pending model at once; use ``wait=True`` (or :meth:`wait_model`) to
        have it built first.

        Args:
            model: the model (FORMAT.md "Model"); NumPy arrays in it are sent as binary
                arrays.
            wait: wait until a pending model is built (see :meth:`wait_model`).
            timeout: with @wait, give up after this many seconds (default: wait forever).

        Returns:
            The model resource: ``id``, ``name``, ``state`` (``"ready"``, or ``"pending"``
            without @wait), ``hash``, ``n``, ``created_at``, ``build_s``, ``error``,
            ``links``.

        Raises:
            EirnnError: 422 with ``field`` naming the offending member for an invalid model;
                with @wait, the build's error (422 with ``field``) when it failed.
            EirnnTimeoutError: with @wait, @timeout passed first (its ``run`` is the model).
        """
        m = self._json("POST", "/v1/models", body=model)
        if wait and m.get("state") == "pending":
            return self.wait_model(m, timeout=timeout)
        return m

    def wait_model(self, model_id: Union[str, Mapping[str, Any]],
                   timeout: Optional[float] = None, poll: float = 0.25) -> Dict[str, Any]:
        """Wait until a pending model is built and return its resource (``state`` ``ready``).

        Args:
            model_id: the model id or resource.
            timeout: give up after this many seconds (default: wait forever).
            poll: seconds between looks (``GET /v1/models/{id}``).

        Raises:
            EirnnError: the model's build failed: the build's problem (422 with ``field``);
                its ``problem`` is the model's ``error``.
            EirnnTimeoutError: @timeout passed first; its ``run`` is the last model resource.
        """
        if poll <= 0:
            raise ValueError("poll must be > 0")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            m = self.get_model(model_id)
            state = m.get("state", "ready")  # a server without build states builds at once
            if state == "failed":
                err = m.get("error") or {}
                raise EirnnError.from_problem(int(err.get("status", 422)), err)
            if state != "pending":
                return m
            if deadline is not None and time.monotonic() >= deadline:
                raise EirnnTimeoutError(m, float(timeout or 0))
            time.sleep(poll if deadline is None else
                       max(0.0, min(poll, deadline - time.monotonic())))

    def get_model(self, model_id: Union[str, Mapping[str, Any]]) -> Dict[str, Any]:
        """``GET /v1/models/{id}``: the model resource with the document under ``"model"``."""
        mid = urllib.parse.quote(_model_id(model_id), safe="")
        return self._json("GET", f"/v1/models/{mid}")

    def list_models(self, limit: Optional[int] = None,
                    page_size: Optional[int] = None,
                    labels: Optional[Labels] = None) -> Iterator[Dict[str, Any]]:
        """``GET /v1/models``: iterate over the stored models, newest first, following the
        pagination.

        Args:
            limit: yield at most this many models (default: all of them).
            page_size: models per request (1 to 1000; default: the server's, 50).
            labels: only models with all these labels: ``{"project": "isn"}`` or
                ``["project:isn"]`` (``?label=project:isn``, repeated).
        """
        return self._pages("/v1/models", {"label": labels_query(labels)}, limit, page_size)

    def delete_model(self, model_id: Union[str, Mapping[str, Any]]) -> None:
        """``DELETE /v1/models/{id}``. A model that runs still use is refused with 409."""
        mid = urllib.parse.quote(_model_id(model_id), safe="")
        self.request("DELETE", f"/v1/models/{mid}")

    # ---------------------------------------------------------------------------------------
    # matrices

    def matrices(self, model_id: Union[str, Mapping[str, Any]],
                 timeout: Optional[float] = 300.0) -> List[Dict[str, Any]]:
        """``GET /v1/models/{id}/matrices``: the matrices the model has, each a dict with
        ``name`` (``"W"``, ``"M"``, ``"K"``, ``"P"``, ``"M_in"``, ``"G_b"``, ``"bias"``,
        ``"W_out"``, ``"b_out"``), ``shape``, ``dtype`` (``"float64"``) and ``url``.

        A generated model that the server has not built in memory is answered 503 while a
        worker builds it: this waits (as the server's ``Retry-After`` says) up to @timeout
        seconds (``None``: no limit), then raises the 503.

        Raises:
            EirnnError: 404 for an unknown model, 409 while it is pending or when it failed.
        """
        mid = urllib.parse.quote(_model_id(model_id), safe="")
        raw = self._get_retrying(f"/v1/models/{mid}/matrices", {}, timeout)
        return list(json.loads(raw.decode("utf-8")).get("matrices", []))

    def matrix_bytes(self, model_id: Union[str, Mapping[str, Any]], name: str,
                     format: str = "npy",  # noqa: A002 - the API's parameter name
                     timeout: Optional[float] = 300.0) -> bytes:
        """``GET /v1/models/{id}/matrices/{name}``: the raw body in @format (``"npy"``,
        ``"json"`` or ``"csv"``); waits for a model being built as :meth:`matrices` does."""
        mid = urllib.parse.quote(_model_id(model_id), safe="")
        n = urllib.parse.quote(name, safe="")
        return self._get_retrying(f"/v1/models/{mid}/matrices/{n}", {"format": format}, timeout)

    def matrix(self, model_id: Union[str, Mapping[str, Any]], name: str,
               timeout: Optional[float] = 300.0) -> Any:
        """Fetch matrix @name of a stored model exactly as the engine integrates with it (a
        generated ``W`` as generated): ``W``, ``M`` or ``K`` N x N, ``P`` and ``M_in``
        N x n_in, ``W_out`` n_out x N, and the vectors ``G_b``, ``bias``, ``b_out``.

        Returns:
            A ``numpy.ndarray`` of float64 when NumPy is used (see ``use_numpy``), else an
            :class:`eirnn.NpyArray`.

        Raises:
            EirnnError: 404 for a matrix the model does not have (the detail lists those it
                has), 409 while the model is pending or when it failed; 503 after @timeout
                seconds of waiting for a generated model to be built.
        """
        return load_npy(self.matrix_bytes(model_id, name, "npy", timeout), self.use_numpy)

    def _get_retrying(self, path: str, query: Mapping[str, Any],
                      timeout: Optional[float]) -> bytes:
        """GET @path, asking again after 503 + Retry-After until @timeout seconds passed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                _, _, raw = self.request("GET", path, query=query)
                return raw
            except EirnnError as e:
                wait = e.retry_after if e.status == 503 else None
                if wait is None:
                    raise
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise
                    wait = min(wait, left)
                time.sleep(max(0.05, wait))

    # ---------------------------------------------------------------------------------------
    # runs

    def submit(
        self,
        model: Optional[Mapping[str, Any]] = None,
        model_id: Optional[str] = None,
        inputs: Any = None,
        dt: Optional[float] = None,
        steps: Optional[int] = None,
        trials: Optional[int] = None,
        seed: Optional[int] = None,
        record: Union[None, Mapping[str, Any], Sequence[str]] = None,
        integrator: Optional[str] = None,
        precision: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        **extra: Any,
    ) -> Dict[str, Any]:
        """``POST /v1/runs``: queue a simulation.

        Args:
            model: the model inline (a model document), or a model resource returned by
                :meth:`create_model` (then its id is used). Give this or @model_id.
            model_id: the id of a stored model.
            inputs: the inputs, T x n_inputs (one trial) or B x T x n_inputs: nested lists
                (sent as JSON lists), a NumPy array or an :class:`eirnn.NpyArray` (sent as a
                binary array, base64 of the raw bytes), or an API array dict. Leave it out and
                give @steps (and @trials) for zero input.
            dt: the step size (> 0); required.
            steps: with no @inputs: number of steps T of zero input.
            trials: with no @inputs: number of trials B (default 1).
            seed: the noise seed; a seeded run is bit-for-bit reproducible.
            record: what to keep: a list of variables (``["V", "r", "z", "y"]``) or the whole
                record object (``{"vars": [...], "every": k, "neurons": [...]}``).
            integrator: ``"exp_euler"`` (default), ``"euler"`` or ``"rk4"``.
            precision: ``"float64"`` (default) or ``"float32"``.
            idempotency_key: makes a retried submission safe: the same key and body give back
                the run created the first time.
            **extra: further members of the run request, e.g. ``V0`` or ``time_limit``.

        Returns:
            The run resource (status ``queued``, or whatever it is for a replayed request).
        """
        if dt is None:
            raise ValueError("dt is required (the step size, > 0)")
        body: Dict[str, Any] = {}
        if model is not None and model_id is not None:
            raise ValueError("give model or model_id, not both")
        if model is not None:
            if isinstance(model, str):
                body["model_id"] = model
            elif isinstance(model, Mapping) and "id" in model and "populations" not in model:
                body["model_id"] = _model_id(model)
            else:
                body["model"] = model
        elif model_id is not None:
            body["model_id"] = _model_id(model_id)
        else:
            raise ValueError("give model (inline) or model_id")
        body["dt"] = dt
        if inputs is None:
            if steps is None:
                raise ValueError("give inputs, or steps (and trials) for zero input")
            zero: Dict[str, Any] = {"steps": int(steps)}
            if trials is not None:
                zero["trials"] = int(trials)
            body["inputs"] = zero
        else:
            if steps is not None or trials is not None:
                raise ValueError("steps and trials are only for zero input (no inputs)")
            if _is_ndarray(inputs) or isinstance(inputs, NpyArray):
                body["inputs"] = binary_array(inputs)
            else:
                body["inputs"] = inputs
        if integrator is not None:
            body["integrator"] = integrator
        if precision is not None:
            body["precision"] = precision
        if seed is not None:
            body["seed"] = int(seed)
        if record is not None:
            if isinstance(record, Mapping):
                body["record"] = dict(record)
            elif isinstance(record, str):
                body["record"] = {"vars": [record]}
            else:
                body["record"] = {"vars": list(record)}
        for k, v in extra.items():
            if k in body:
                raise ValueError(f"{k} given twice")
            body[k] = v
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        return self._json("POST", "/v1/runs", body=body, headers=headers)

    def get_run(self, run: RunRef, wait: Optional[float] = None) -> Dict[str, Any]:
        """``GET /v1/runs/{id}``: the run's status resource (``status``, ``progress``,
        ``meta`` once ended, ``error`` when failed).

        Args:
            run: the run id or resource.
            wait: long poll: answer as soon as the run ends, or after this many seconds
                (the server caps it; 60 s by default).
        """
        rid = urllib.parse.quote(_run_id(run), safe="")
        q = {"wait": f"{wait:g}"} if wait else None
        t = self.timeout + (wait or 0)
        return self._json("GET", f"/v1/runs/{rid}", query=q, timeout=t)

    def list_runs(
        self,
        status: Optional[str] = None,
        model_id: Optional[Union[str, Mapping[str, Any]]] = None,
        limit: Optional[int] = None,
        page_size: Optional[int] = None,
        labels: Optional[Labels] = None,
        sweep_id: Optional[Union[str, Mapping[str, Any]]] = None,
    ) -> Iterator[Dict[str, Any]]:
        """``GET /v1/runs``: iterate over runs, newest first, following the pagination.

        Args:
            status: only runs in this status (``queued``, ``running``, ``succeeded``,
                ``failed``, ``diverged``, ``cancelled``).
            model_id: only runs of this stored model.
            limit: yield at most this many runs (default: all of them).
            page_size: runs per request (1 to 1000; default: the server's, 50).
            labels: only runs with all these labels: ``{"project": "isn"}`` or
                ``["project:isn"]`` (``?label=project:isn``, repeated).
            sweep_id: only the runs (points) of this sweep (its id or resource).
        """
        q: Dict[str, Any] = {"status": status, "label": labels_query(labels)}
        if sweep_id is not None:
            q["sweep_id"] = _resource_id("sweep", sweep_id)
        if model_id is not None:
            q["model_id"] = _model_id(model_id)
        return self._pages("/v1/runs", q, limit, page_size)

    def run_request(self, run: RunRef) -> Dict[str, Any]:
        """``GET /v1/runs/{id}/request``: the run's request document as it was stored (the
        body as sent; for a point of a sweep, the base run patched with the point's values,
        its ``metrics``, ``labels`` and ``model_id``). Submitting it again gives the same
        run."""
        rid = urllib.parse.quote(_run_id(run), safe="")
        return self._json("GET", f"/v1/runs/{rid}/request")

    def wait(
        self,
        run: RunRef,
        timeout: Optional[float] = None,
        poll: Optional[float] = None,
        progress: Optional[Callable[[Dict[str, Any]], None]] = None,
    ) -> Dict[str, Any]:
        """Wait until a run has ended and return its final run resource.

        Uses long polls (``GET /v1/runs/{id}?wait=``), so the answer comes as soon as the
        run ends. The final status may be ``succeeded``, ``failed`` (see ``error``),
        ``diverged`` or ``cancelled``: check ``run["status"]``.

        Args:
            run: the run id or resource.
            timeout: give up after this many seconds (default: wait forever).
            poll: seconds per long poll (default 30, or 1 with @progress).
            progress: called with the run resource after every poll that did not end the
                run (its ``progress`` has ``done``, ``total`` and ``fraction``).

        Raises:
            EirnnTimeoutError: @timeout passed first; its ``run`` is the last resource seen.
        """
        rid = _run_id(run)
        return wait_for_end(lambda w: self.get_run(rid, wait=w), timeout, poll, progress)

    def cancel(self, run: RunRef) -> Dict[str, Any]:
        """``POST /v1/runs/{id}/cancel``: cancel a queued or running run.

        Returns:
            The run resource: ``cancelled`` at once for a queued run; a running run has
            ``cancel_requested`` and stops at its next progress check (use :meth:`wait`).
            Cancelling a cancelled run changes nothing.

        Raises:
            EirnnError: 409 when the run has already ended otherwise (succeeded, failed,
                diverged).
        """
        rid = urllib.parse.quote(_run_id(run), safe="")
        return self._json("POST", f"/v1/runs/{rid}/cancel")

    def delete_run(self, run: RunRef) -> None:
        """``DELETE /v1/runs/{id}``: delete an ended run and its results (409 while it is
        queued or running)."""
        rid = urllib.parse.quote(_run_id(run), safe="")
        self.request("DELETE", f"/v1/runs/{rid}")

    # ---------------------------------------------------------------------------------------
    # results

    def list_results(self, run: RunRef) -> List[Dict[str, Any]]:
        """``GET /v1/runs/{id}/results``: the recorded variables: ``var``, ``dtype``,
        ``shape`` ``[B, T', n]``, ``bytes``, ``sha256`` and ``url`` of each."""
        rid = urllib.parse.quote(_run_id(run), safe="")
        return list(self._json("GET", f"/v1/runs/{rid}/results").get("items", []))

    def result_bytes(
        self,
        run: RunRef,
        var: str,
        format: str = "npy",  # noqa: A002 - the API's parameter name
        trials: Optional[Index] = None,
        steps: Optional[Index] = None,
        neurons: Union[None, Index, Sequence[Union[int, slice]]] = None,
    ) -> bytes:
        """``GET /v1/runs/{id}/results/{var}``: the raw body in @format (``"npy"``,
        ``"json"`` or ``"csv"``), optionally sliced (see :meth:`result`)."""
        rid = urllib.parse.quote(_run_id(run), safe="")
        v = urllib.parse.quote(var, safe="")
        q = {
            "format": format,
            "trials": _range_param("trials", trials),
            "steps": _range_param("steps", steps),
            "neurons": _neurons_param(neurons),
        }
        _, _, raw = self.request("GET", f"/v1/runs/{rid}/results/{v}", query=q)
        return raw

    def result(
        self,
        run: RunRef,
        var: str,
        trials: Optional[Index] = None,
        steps: Optional[Index] = None,
        neurons: Union[None, Index, Sequence[Union[int, slice]]] = None,
    ) -> Any:
        """Fetch a recorded variable of an ended run as an array of shape ``(B, T', n)``.

        Args:
            run: the run id or resource.
            var: ``"V"``, ``"r"``, ``"z"`` or ``"y"``.
            trials: trials to keep: an index (the dimension stays, of length 1), a
                ``slice(a, b)``, an ``(a, b)`` pair or ``"a:b"``.
            steps: recorded steps to keep, likewise.
            neurons: units to keep: an index, a range as above, or a list of indices and
                ranges (``[0, 5, slice(10, 20)]``); order and repeats are kept.

        Returns:
            A ``numpy.ndarray`` when NumPy is used (see ``use_numpy``), else an
            :class:`eirnn.NpyArray`. The dtype is the run's precision.

        Raises:
            EirnnError: 409 while the run has not ended, 404 for a variable not recorded,
                400 for a selection out of range.
        """
        raw = self.result_bytes(run, var, "npy", trials, steps, neurons)
        return load_npy(raw, self.use_numpy)

    def result_csv(
        self,
        run: RunRef,
        var: str,
        trials: Optional[Index] = None,
        steps: Optional[Index] = None,
        neurons: Union[None, Index, Sequence[Union[int, slice]]] = None,
    ) -> str:
        """Fetch a recorded variable as CSV text (a header row, then one row per trial and
        step); the selection arguments are those of :meth:`result`."""
        return self.result_bytes(run, var, "csv", trials, steps, neurons).decode("utf-8")

    def result_json(
        self,
        run: RunRef,
        var: str,
        trials: Optional[Index] = None,
        steps: Optional[Index] = None,
        neurons: Union[None, Index, Sequence[Union[int, slice]]] = None,
    ) -> List[Any]:
        """Fetch a recorded variable as nested lists ``[trial][step][unit]`` (non-finite
        values as ``None``); the selection arguments are those of :meth:`result`."""
        return json.loads(self.result_bytes(run, var, "json", trials, steps, neurons))
