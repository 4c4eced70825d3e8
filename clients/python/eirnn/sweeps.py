"""Sweeps of eirnnd (``/v1/sweeps``, docs/SWEEPS.md): the methods of :class:`eirnn.Client`
that submit a parameter sweep, follow it as one job and read its table.

A sweep is one request naming a base model (``model_id`` or ``model`` inline), a base ``run``
and ``axes``: JSON pointers under ``/model/...`` or ``/run/...`` with the values to set there,
combined as a ``"grid"`` (row-major, the last axis fastest) or ``"zip"``. The server checks
every point before it queues anything, then queues one ordinary run per point. The sweep's
table has one row per point: its index, the value of each axis, its run's id and status and,
when the sweep asked for ``metrics``, the metrics of its run.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

from .arrays import _is_ndarray, NpyArray, numpy_or_none
from .jobs import wait_for_end

__all__ = ["SweepsMixin", "SweepRef", "SWEEP_FINAL_STATUSES", "labels_query", "table_columns",
           "table_structured"]

#: A sweep: its id, or its resource (a dict with ``"id"``).
SweepRef = Union[str, Mapping[str, Any]]

#: Statuses after which a sweep never changes again (every point has ended).
SWEEP_FINAL_STATUSES = frozenset({"finished"})

#: The members of a sweep request (FORMAT.md / docs/SWEEPS.md).
_SWEEP_MEMBERS = ("name", "model_id", "model", "run", "axes", "mode", "metrics", "labels")

#: Labels to filter a list by: ``{"key": "value"}``, or ``"key:value"`` strings, or
#: ``(key, value)`` pairs.
Labels = Union[Mapping[str, str], Sequence[Union[str, Sequence[str]]]]


def _sweep_id(ref: SweepRef) -> str:
    """The id of a sweep given as an id or a resource, URL-quoted (TypeError, ValueError else)."""
    if isinstance(ref, str):
        sid = ref
    elif isinstance(ref, Mapping) and isinstance(ref.get("id"), str):
        sid = ref["id"]
    else:
        raise TypeError("sweep must be a sweep id or a sweep resource (a dict with 'id')")
    if not sid:
        raise ValueError("empty sweep id")
    return urllib.parse.quote(sid, safe="")


def labels_query(labels: Optional[Labels]) -> Optional[List[str]]:
    """The ``?label=key:value`` values of @labels (``None``: no filter).

    Raises:
        TypeError: @labels is not a mapping or a sequence of ``"k:v"`` strings or pairs.
        ValueError: an empty key, or a ``"k:v"`` string without ``:``.
    """
    if labels is None:
        return None
    out: List[str] = []
    items: Any = labels.items() if isinstance(labels, Mapping) else labels
    if isinstance(labels, (str, bytes)):
        raise TypeError("labels must be a dict or a list of 'key:value' strings, not a string")
    for item in items:
        if isinstance(item, str):
            if ":" not in item:
                raise ValueError(f"label {item!r}: give 'key:value'")
            key, value = item.split(":", 1)
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            key, value = item
        else:
            raise TypeError(f"label {item!r}: give 'key:value' or a (key, value) pair")
        if not isinstance(key, str) or not key or not isinstance(value, str):
            raise ValueError(f"label {item!r}: the key must be a non-empty string and the "
                             "value a string")
        out.append(f"{key}:{value}")
    return out


def _plain(value: Any) -> Any:
    """@value with NumPy arrays, NumPy scalars and :class:`NpyArray` as plain Python values
    (axis values are JSON values set into documents, not binary arrays)."""
    if _is_ndarray(value) or isinstance(value, NpyArray):
        return value.tolist()
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _column_kind(values: Sequence[Any]) -> str:
    """How a table column is typed: ``"bool"``, ``"int"``, ``"float"``, ``"str"`` or
    ``"object"`` (a column of nulls only is ``"float"``: a metric of points not ended)."""
    kinds = set()
    for v in values:
        if v is None:
            kinds.add("null")
        elif isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, float):
            kinds.add("float")
        elif isinstance(v, str):
            kinds.add("str")
        else:
            kinds.add("object")
    real = kinds - {"null"}
    if not real:
        return "float"
    if real <= {"int", "float"}:
        return "int" if real == {"int"} and "null" not in kinds else "float"
    if real == {"bool"}:
        return "bool" if "null" not in kinds else "object"
    if real == {"str"} and "null" not in kinds:
        return "str"
    return "object"


def table_columns(table: Mapping[str, Any], use_numpy: Optional[bool] = None) -> Dict[str, Any]:
    """The JSON table of a sweep (``{"columns": [...], "rows": [[...], ...]}``) as a dict of
    columns, in the table's order.

    With NumPy (unless @use_numpy is False): numbers are ``float64`` with NaN for null, integer
    columns without null ``int64``, boolean columns without null ``bool``, ids and statuses
    ``str``; anything else (a boolean column with nulls, an axis whose values are lists or
    objects) ``object`` with ``None`` for null. Without NumPy: lists, nulls as ``None``.
    """
    np = numpy_or_none() if use_numpy is not False else None
    if use_numpy and np is None:
        raise ImportError("use_numpy=True but NumPy cannot be imported")
    names = list(table.get("columns") or [])
    rows = table.get("rows") or []
    out: Dict[str, Any] = {}
    for j, name in enumerate(names):
        values = [row[j] for row in rows]
        if np is None:
            out[name] = values
            continue
        kind = _column_kind(values)
        if kind == "float":
            out[name] = np.array([np.nan if v is None else float(v) for v in values],
                                 dtype=np.float64)
        elif kind == "int":
            out[name] = np.array(values, dtype=np.int64)
        elif kind == "bool":
            out[name] = np.array(values, dtype=bool)
        elif kind == "str":
            out[name] = np.array(values, dtype=str) if values else np.array([], dtype=str)
        else:
            col = np.empty(len(values), dtype=object)
            col[:] = values
            out[name] = col
    return out


def table_structured(table: Mapping[str, Any]) -> Any:
    """The JSON table of a sweep as a NumPy structured array: one record per point, one field
    per column (named as the column, e.g. ``"/model/recurrent/A"``, ``"late_r.mean.I"``),
    typed as :func:`table_columns` types the columns. Requires NumPy."""
    np = numpy_or_none()
    if np is None:
        raise ImportError("as_='structured' needs NumPy")
    cols = table_columns(table, use_numpy=True)
    n = len(table.get("rows") or [])
    dtype = []
    for name, col in cols.items():
        if col.dtype.kind == "U":
            dtype.append((name, f"U{max(1, col.dtype.itemsize // 4)}"))
        else:
            dtype.append((name, col.dtype))
    out = np.empty(n, dtype=dtype)
    for name, col in cols.items():
        out[name] = col
    return out


class SweepsMixin:
    """The sweep methods of :class:`eirnn.Client` (it provides ``request``, ``_json``,
    ``_pages``, ``timeout`` and ``use_numpy``)."""

    def submit_sweep(self, doc: Optional[Mapping[str, Any]] = None, *,
                     idempotency_key: Optional[str] = None, **members: Any) -> Dict[str, Any]:
        """``POST /v1/sweeps``: check every point of a sweep and queue one run per point.

        Give the sweep document @doc, or its members as keyword arguments::

            c.submit_sweep(name="isn", model_id=m["id"],
                           run={"dt": 0.1, "inputs": {"steps": 1000}, "seed": 1},
                           axes=[{"path": "/model/recurrent/A", "values": [0, 0.1, 0.2]},
                                 {"path": "/run/seed", "values": [1, 2]}],
                           metrics={"windows": [{"name": "late", "var": "r",
                                                 "from": 500, "to": 1000}]},
                           labels={"project": "isn"})

        Args:
            doc: the sweep request (``name``, ``model_id`` or ``model``, ``run``, ``axes``,
                ``mode``, ``metrics``, ``labels``). Axis values given as NumPy arrays or
                scalars are sent as plain JSON values.
            idempotency_key: the same key and body give back the sweep created the first time.
            **members: the members of the request instead of @doc (or added to a copy of it).

        Returns:
            The sweep resource (``id``, ``status``, ``points``, ``counts``, ``progress``, ...).

        Raises:
            EirnnError: 422 for a bad request or a bad point: ``e.field`` names the field inside
                the point's document (``/run/inputs/segments/1/value``), and the problem's
                ``point`` and ``axes`` members (``e.problem``) say which point; 503 when the
                queue is full (``e.retry_after``).
        """
        body: Dict[str, Any] = dict(doc) if doc is not None else {}
        for k, v in members.items():
            if k not in _SWEEP_MEMBERS:
                raise TypeError(f"submit_sweep() got an unknown member {k!r} (the members of a "
                                f"sweep are {', '.join(_SWEEP_MEMBERS)})")
            if k in body:
                raise ValueError(f"{k} given twice")
            body[k] = v
        if "model" in body and isinstance(body["model"], Mapping) and "id" in body["model"] \
                and "populations" not in body["model"]:
            body["model_id"] = body.pop("model")["id"]  # a model resource: its id
        if "axes" in body:
            body["axes"] = _plain(body["axes"])
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key is not None else None
        return self._json("POST", "/v1/sweeps", body=body, headers=headers)  # type: ignore[attr-defined]

    def sweep(self, sweep: SweepRef, wait: Optional[float] = None) -> Dict[str, Any]:
        """``GET /v1/sweeps/{id}``: the sweep resource; @wait long-polls up to that many seconds
        until no point is queued or running."""
        sid = _sweep_id(sweep)
        q = {"wait": f"{wait:g}"} if wait else None
        t = self.timeout + (wait or 0)  # type: ignore[attr-defined]
        return self._json("GET", f"/v1/sweeps/{sid}", query=q, timeout=t)  # type: ignore[attr-defined]

    def sweeps(self, labels: Optional[Labels] = None, limit: Optional[int] = None,
               page_size: Optional[int] = None) -> Iterator[Dict[str, Any]]:
        """``GET /v1/sweeps``: iterate over sweeps, newest first (without their axes' values),
        following the pagination.

        Args:
            labels: only sweeps with all these labels: ``{"project": "isn"}`` or
                ``["project:isn"]`` (sent as ``?label=project:isn``, repeated).
            limit: yield at most this many sweeps (default: all of them).
            page_size: sweeps per request (1 to 1000; default: the server's, 50).
        """
        return self._pages("/v1/sweeps", {"label": labels_query(labels)}, limit,  # type: ignore[attr-defined]
                           page_size)

    def wait_sweep(
        self,
        sweep: SweepRef,
        progress: Optional[Callable[[Dict[str, Any]], None]] = None,
        timeout: Optional[float] = None,
        poll: Optional[float] = None,
    ) -> Dict[str, Any]:
        """Wait (long polls) until a sweep is finished (every point ended) and return its final
        resource: ``counts`` says how its points ended (``succeeded``, ``diverged``,
        ``failed``, ``cancelled``).

        Args:
            sweep: its id or resource.
            progress: called with the resource after each poll that did not end it (its
                ``progress`` has ``done``, ``total`` and ``fraction`` over all the steps of all
                its points; ``counts`` the points by status).
            timeout: give up after this many seconds (default: wait forever).
            poll: seconds per long poll (default 30, or 1 with @progress).

        Raises:
            EirnnTimeoutError: @timeout passed first; its ``run`` is the last resource seen.
        """
        return wait_for_end(lambda w: self.sweep(sweep, wait=w), timeout, poll, progress,
                            final=SWEEP_FINAL_STATUSES)

    def sweep_table_bytes(self, sweep: SweepRef, format: str = "json",  # noqa: A002
                          per_trial: bool = False) -> bytes:
        """``GET /v1/sweeps/{id}/table``: the raw body in @format (``"json"`` or ``"csv"``);
        @per_trial adds a column per trial after each averaged metric (``NAME[b]``)."""
        if format not in ("json", "csv"):
            raise ValueError(f"format must be 'json' or 'csv', not {format!r}")
        q = {"format": format, "per_trial": "true" if per_trial else None}
        _, _, raw = self.request("GET", f"/v1/sweeps/{_sweep_id(sweep)}/table",  # type: ignore[attr-defined]
                                 query=q)
        return raw

    def sweep_table(self, sweep: SweepRef, as_: str = "columns", per_trial: bool = False) -> Any:
        """The sweep's table: one row per point, in point order (it may be read while the sweep
        runs: points not ended, or failed, have null metrics).

        Args:
            sweep: its id or resource.
            as_: ``"columns"``: a dict ``{column: array}`` in the table's order, numbers as
                ``float64`` with NaN for null, integer columns without null as ``int64``,
                boolean columns without null as ``bool``, ids and statuses as ``str``, anything
                else ``object`` (see :func:`table_columns`; plain lists without NumPy);
                ``"structured"``: a NumPy structured array, one record per point (see
                :func:`table_structured`); ``"raw"``: the server's JSON
                (``{"sweep_id", "points", "columns", "rows"}``).
            per_trial: add a column per trial after each averaged metric: ``late.mean.E[0]``,
                ``late.mean.E[1]``, ...

        Returns:
            As @as_ says. The columns are ``index``, one per axis (named by its path), ``run_id``,
            ``status`` and, with metrics, ``<window>.mean.E``, ``<window>.mean.I``,
            ``<window>.std.E``, ``<window>.std.I`` per window, ``final.V.E``, ``final.V.I``,
            ``final.r.E``, ``final.r.I``, ``max_z_dt``, ``diverged``, ``diverged_step`` and,
            with a settle window, ``settle.max_dVdt`` and ``settled``.
        """
        if as_ not in ("columns", "structured", "raw"):
            raise ValueError(f"as_ must be 'columns', 'structured' or 'raw', not {as_!r}")
        table = json.loads(self.sweep_table_bytes(sweep, "json", per_trial).decode("utf-8"))
        if as_ == "raw":
            return table
        if as_ == "structured":
            return table_structured(table)
        return table_columns(table, self.use_numpy)  # type: ignore[attr-defined]

    def sweep_table_csv(self, sweep: SweepRef, per_trial: bool = False) -> str:
        """The sweep's table as CSV text (a header row, then one row per point; null is empty,
        an axis value that is not a number or a string is its JSON, quoted)."""
        return self.sweep_table_bytes(sweep, "csv", per_trial).decode("utf-8")

    def sweep_runs(self, sweep: SweepRef, limit: Optional[int] = None,
                   page_size: Optional[int] = None) -> Iterator[Dict[str, Any]]:
        """``GET /v1/runs?sweep_id=``: iterate over the runs of a sweep (each an ordinary run:
        its ``sweep`` member has the sweep's ``id`` and the point's ``index``)."""
        sid = urllib.parse.unquote(_sweep_id(sweep))
        return self._pages("/v1/runs", {"sweep_id": sid}, limit, page_size)  # type: ignore[attr-defined]

    def cancel_sweep(self, sweep: SweepRef) -> Dict[str, Any]:
        """``POST /v1/sweeps/{id}/cancel``: cancel the sweep's queued points at once and ask its
        running ones to stop; returns the resource (use :meth:`wait_sweep` for the running
        ones). Points that ended keep their results."""
        return self._json("POST", f"/v1/sweeps/{_sweep_id(sweep)}/cancel")  # type: ignore[attr-defined]

    def delete_sweep(self, sweep: SweepRef) -> None:
        """``DELETE /v1/sweeps/{id}``: delete a finished sweep and its runs (409 while points are
        queued or running: cancel it first)."""
        self.request("DELETE", f"/v1/sweeps/{_sweep_id(sweep)}")  # type: ignore[attr-defined]
