"""Exceptions raised by the eirnn client.

Every error the client raises derives from :class:`Error`:

* :class:`EirnnError`: the server answered with an error status; its RFC 9457 problem
  details (``type``, ``title``, ``status``, ``detail``, ``field``, ...) are attributes;
* :class:`EirnnConnectionError`: the server could not be reached (refused, reset, DNS, TLS,
  timeout of a single request);
* :class:`EirnnTimeoutError`: :meth:`eirnn.Client.wait` gave up before the run ended.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

__all__ = [
    "Error",
    "EirnnError",
    "EirnnConnectionError",
    "EirnnTimeoutError",
    "reason_phrase",
]

# RFC 9110 reason phrases (Python 3.11's http.HTTPStatus still says "Unprocessable Entity").
_REASONS: Dict[int, str] = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def reason_phrase(status: int) -> str:
    """Return the RFC 9110 reason phrase of an HTTP status code ("" when unknown)."""
    return _REASONS.get(status, "")


class Error(Exception):
    """Base class of every exception raised by the eirnn client."""


class EirnnError(Error):
    """The server answered with an error: an RFC 9457 problem.

    Attributes:
        status: the HTTP status code (400 to 599).
        title: the problem's short summary (fixed per kind of problem).
        detail: what went wrong this time: what was expected and what was given.
        field: JSON pointer (RFC 6901) into the request body of the offending member, for
            bad input (``""`` is the whole body), else ``None``.
        type: the problem type, ``urn:eirnn:problem:<slug>``, or ``None``.
        parameter: the query parameter or header at fault, for a 400 bad-parameter.
        instance: the request path, when the server named it.
        problem: the whole problem object as received (further members may appear).
        headers: the response headers (for example ``Retry-After`` on a 503).
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        field: Optional[str] = None,
        *,
        type: Optional[str] = None,  # noqa: A002 - the RFC 9457 member's name
        parameter: Optional[str] = None,
        instance: Optional[str] = None,
        problem: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> None:
        """Build the error from the members of a problem object."""
        self.status = int(status)
        self.title = title
        self.detail = detail
        self.field = field
        self.type = type
        self.parameter = parameter
        self.instance = instance
        self.problem: Dict[str, Any] = dict(problem) if problem else {}
        self.headers: Dict[str, str] = dict(headers) if headers else {}
        super().__init__(str(self))

    @classmethod
    def from_problem(
        cls,
        status: int,
        problem: Mapping[str, Any],
        headers: Optional[Mapping[str, str]] = None,
    ) -> "EirnnError":
        """Build the error from a decoded ``application/problem+json`` body."""

        def text(key: str) -> Optional[str]:
            v = problem.get(key)
            return v if isinstance(v, str) else None

        st = problem.get("status")
        if not isinstance(st, int) or isinstance(st, bool):
            st = status
        return cls(
            st,
            text("title") or reason_phrase(st),
            text("detail") or "",
            text("field"),
            type=text("type"),
            parameter=text("parameter"),
            instance=text("instance"),
            problem=problem,
            headers=headers,
        )

    @property
    def retry_after(self) -> Optional[float]:
        """Seconds the server asked to wait before retrying (``Retry-After``), or ``None``."""
        for k, v in self.headers.items():
            if k.lower() == "retry-after":
                try:
                    return float(v)
                except ValueError:
                    return None
        return None

    def __str__(self) -> str:
        """One readable line: ``"422 Unprocessable Content: /recurrent/W: expected ..."``."""
        head = f"{self.status} {reason_phrase(self.status) or self.title}".rstrip()
        where = self.field if self.field else self.parameter
        parts = [head]
        if where:
            parts.append(where)
        parts.append(self.detail or self.title)
        return ": ".join(p for p in parts if p)

    def __repr__(self) -> str:
        """The constructor call that would rebuild the error's main members."""
        return (
            f"EirnnError(status={self.status!r}, title={self.title!r}, "
            f"detail={self.detail!r}, field={self.field!r})"
        )


class EirnnConnectionError(Error, ConnectionError):
    """The server could not be reached, or a request timed out or broke off."""

    def __init__(self, url: str, reason: str) -> None:
        """Record the URL that was asked for and why it failed."""
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach eirnnd at {url}: {reason}")


class EirnnTimeoutError(Error, TimeoutError):
    """:meth:`eirnn.Client.wait` reached its timeout before the run ended (or
    :meth:`eirnn.Client.wait_model` before the model was built, :meth:`eirnn.Client.wait_sweep`
    before the sweep finished).

    Attributes:
        run: the last run resource seen (its ``status`` is ``queued`` or ``running``), or the
            last model resource (its ``state`` is ``pending``), or the last sweep resource.
    """

    def __init__(self, run: Mapping[str, Any], timeout: float) -> None:
        """Record the last run resource seen and the timeout that expired."""
        self.run: Dict[str, Any] = dict(run)
        self.timeout = timeout
        if "state" in run:
            what, now = "model", run.get("state")
        elif "points" in run:
            what, now = "sweep", run.get("status")
        elif str(run.get("id", "")).startswith("t_"):
            what, now = "training", run.get("status")
        else:
            what, now = "run", run.get("status")
        super().__init__(f"{what} {run.get('id', '?')} still {now or '?'} after {timeout:g} s")
