"""Arrays without NumPy: a minimal ``.npy`` reader and the API's binary array form.

eirnnd serves results as NumPy's own ``.npy`` format (version 1.0, little-endian ``'<f4'`` or
``'<f8'``, C order). With NumPy importable the client hands back ``numpy.ndarray`` objects
(``numpy.load``); without it, :func:`parse_npy` gives a small :class:`NpyArray` holding the
shape, the dtype and the values as a flat list of Python floats.

Arrays sent to the server (model matrices, run inputs) travel either as nested JSON lists or
as the binary form ``{"dtype": "float64", "shape": [...], "base64": "..."}`` (raw
little-endian row-major bytes): :func:`binary_array` builds the latter from a NumPy array, an
:class:`NpyArray` or (nested) lists.
"""

from __future__ import annotations

import ast
import base64
import io
import struct
import sys
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

__all__ = [
    "NpyArray",
    "numpy_or_none",
    "parse_npy",
    "load_npy",
    "binary_array",
    "json_default",
]

_MAGIC = b"\x93NUMPY"
# .npy descr -> (API dtype name, struct code, item size)
# (complex128 is two "d" per value; the results of analyses have complex128, int32 and int64)
_DESCRS: Dict[str, Tuple[str, str, int]] = {
    "<f8": ("float64", "d", 8),
    "<f4": ("float32", "f", 4),
    "<c16": ("complex128", "d", 16),
    "<i4": ("int32", "i", 4),
    "<i8": ("int64", "q", 8),
}
_DTYPES: Dict[str, Tuple[str, str, int]] = {d: (k, c, n) for k, (d, c, n) in _DESCRS.items()}
# dtypes a request may carry as a binary array
_SEND_DTYPES = ("float64", "float32")

_numpy: Any = None
_numpy_checked = False


def numpy_or_none() -> Any:
    """Return the ``numpy`` module when it can be imported, else ``None`` (checked once)."""
    global _numpy, _numpy_checked
    if not _numpy_checked:
        _numpy_checked = True
        try:
            import numpy  # noqa: PLC0415 - optional dependency

            _numpy = numpy
        except ImportError:
            _numpy = None
    return _numpy


def _is_ndarray(obj: Any) -> bool:
    """Whether @obj is a NumPy array, without importing NumPy when it was never imported."""
    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, np.ndarray)


def _is_numpy_scalar(obj: Any) -> bool:
    np = sys.modules.get("numpy")
    return np is not None and isinstance(obj, np.generic)


class NpyArray:
    """A dense array as read from ``.npy`` without NumPy.

    Attributes:
        shape: the dimensions, for results ``(B, T', n)``: trials, recorded steps, units.
        dtype: ``"float64"`` or ``"float32"`` (``"complex128"``, ``"int32"``, ``"int64"`` for
            results of analyses).
        data: the values in row-major (C) order, as Python floats (complex, int).
    """

    __slots__ = ("shape", "dtype", "data")

    def __init__(self, shape: Sequence[int], dtype: str, data: Sequence[float]) -> None:
        """Wrap @data (row-major) as an array of @shape and @dtype."""
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, not {dtype!r}")
        self.shape: Tuple[int, ...] = tuple(int(d) for d in shape)
        self.dtype = dtype
        self.data: List[float] = list(data)
        if len(self.data) != self.size:
            raise ValueError(
                f"{len(self.data)} values do not fill shape {list(self.shape)} "
                f"({self.size} values)"
            )

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Number of values (the product of the shape)."""
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def itemsize(self) -> int:
        """Bytes per value: 8 for float64, 4 for float32, 16 for complex128, ..."""
        return _DTYPES[self.dtype][2]

    def __len__(self) -> int:
        """Length of the first dimension."""
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def _offset(self, index: Sequence[int]) -> int:
        if len(index) != len(self.shape):
            raise IndexError(f"expected {len(self.shape)} indices, got {len(index)}")
        off = 0
        for i, (k, d) in enumerate(zip(index, self.shape)):
            if k < 0:
                k += d
            if not 0 <= k < d:
                raise IndexError(f"index {index[i]} is out of range for axis {i} of size {d}")
            off = off * d + k
        return off

    def item(self, *index: int) -> float:
        """Return one value by its full index, e.g. ``a.item(trial, step, unit)``."""
        return self.data[self._offset(index)]

    def __getitem__(self, index: Union[int, Tuple[int, ...]]) -> Any:
        """``a[b, t, i]`` is one value; ``a[b]`` a nested list of the sub-array."""
        if isinstance(index, tuple) and len(index) == len(self.shape):
            return self.item(*index)
        if isinstance(index, int) and self.shape:
            d = self.shape[0]
            k = index + d if index < 0 else index
            if not 0 <= k < d:
                raise IndexError(f"index {index} is out of range for axis 0 of size {d}")
            inner = self.size // d if d else 0
            sub = NpyArray(self.shape[1:], self.dtype, self.data[k * inner:(k + 1) * inner])
            return sub.tolist() if sub.shape else sub.data[0]
        raise IndexError("NpyArray takes one integer or a full tuple of integers as index")

    def tolist(self) -> Any:
        """Return the values as nested lists (a float for a 0-d array)."""

        def build(dim: int, start: int) -> Tuple[Any, int]:
            if dim == len(self.shape):
                return self.data[start], start + 1
            out = []
            for _ in range(self.shape[dim]):
                v, start = build(dim + 1, start)
                out.append(v)
            return out, start

        return build(0, 0)[0]

    def tobytes(self) -> bytes:
        """Return the raw little-endian row-major bytes."""
        code = _DTYPES[self.dtype][1]
        if self.dtype == "complex128":
            flat = [p for v in self.data for p in (complex(v).real, complex(v).imag)]
            return struct.pack(f"<{len(flat)}d", *flat)
        return struct.pack(f"<{len(self.data)}{code}", *self.data)

    def __eq__(self, other: object) -> bool:
        """Equal shape, dtype and values (NaN equals NaN here, as in the stored bytes)."""
        if not isinstance(other, NpyArray):
            return NotImplemented
        return (
            self.shape == other.shape
            and self.dtype == other.dtype
            and self.tobytes() == other.tobytes()
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """Short description: shape, dtype and the first values."""
        head = ", ".join(f"{v:g}" for v in self.data[:6])
        more = ", ..." if len(self.data) > 6 else ""
        return f"NpyArray(shape={self.shape}, dtype={self.dtype!r}, data=[{head}{more}])"


def parse_npy(buf: bytes, analysis_dtypes: bool = False) -> NpyArray:
    """Parse a ``.npy`` file (format 1.0, 2.0 or 3.0) of ``'<f4'`` or ``'<f8'`` values (the
    dtypes of run results and model matrices).

    Args:
        buf: the file's bytes.
        analysis_dtypes: also accept the other dtypes of analysis results: ``'<c16'``
            (complex128, values as Python ``complex``), ``'<i4'`` and ``'<i8'`` (ints).

    Raises:
        ValueError: the bytes are not such a file (other dtypes, Fortran order, truncated).
    """
    mv = memoryview(buf)
    if len(mv) < 10 or bytes(mv[:6]) != _MAGIC:
        raise ValueError("not a .npy file (bad magic)")
    major = mv[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", mv[8:10])
        start = 10
    elif major in (2, 3):
        if len(mv) < 12:
            raise ValueError("truncated .npy header")
        (hlen,) = struct.unpack("<I", mv[8:12])
        start = 12
    else:
        raise ValueError(f"unsupported .npy format version {major}.{mv[7]}")
    if len(mv) < start + hlen:
        raise ValueError("truncated .npy header")
    text = bytes(mv[start:start + hlen]).decode("utf-8" if major == 3 else "latin-1")
    try:
        header = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError) as e:
        raise ValueError(f"malformed .npy header: {e}") from None
    if not isinstance(header, dict):
        raise ValueError("malformed .npy header: not a dict")
    descr = header.get("descr")
    if descr not in _DESCRS or (not analysis_dtypes and descr not in ("<f4", "<f8")):
        expected = sorted(_DESCRS) if analysis_dtypes else ["<f4", "<f8"]
        raise ValueError(f"unsupported .npy dtype {descr!r} (expected one of {expected})")
    if header.get("fortran_order") is not False:
        raise ValueError("Fortran-order .npy files are not supported")
    shape = header.get("shape")
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise ValueError(f"malformed .npy header: bad shape {shape!r}")
    dtype, code, item = _DESCRS[descr]
    count = 1
    for d in shape:
        count *= d
    off = start + hlen
    if len(mv) - off < count * item:
        raise ValueError(
            f".npy data is truncated: {len(mv) - off} bytes for {count} values of {item} bytes"
        )
    if dtype == "complex128":
        pairs = struct.unpack_from(f"<{2 * count}d", mv, off)
        return NpyArray(shape, dtype, [complex(pairs[2 * i], pairs[2 * i + 1])
                                       for i in range(count)])
    data = struct.unpack_from(f"<{count}{code}", mv, off)
    return NpyArray(shape, dtype, data)


def load_npy(buf: bytes, use_numpy: Optional[bool] = None,
             analysis_dtypes: bool = False) -> Any:
    """Load ``.npy`` bytes as a ``numpy.ndarray`` or, without NumPy, an :class:`NpyArray`.

    Args:
        buf: the file's bytes.
        use_numpy: ``True`` to require NumPy, ``False`` to never use it, ``None`` to use it
            when importable.
        analysis_dtypes: without NumPy, also read complex128, int32 and int64 (see
            :func:`parse_npy`).
    """
    np = numpy_or_none() if use_numpy is not False else None
    if use_numpy and np is None:
        raise ImportError("use_numpy=True but NumPy cannot be imported")
    if np is not None:
        return np.load(io.BytesIO(buf), allow_pickle=False)
    return parse_npy(buf, analysis_dtypes)


def _flatten(values: Any) -> Tuple[List[float], List[int]]:
    """Flatten rectangular nested lists of numbers into (values, shape)."""
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        return [float(values)], []
    if not isinstance(values, (list, tuple)):
        raise TypeError(
            f"expected numbers or nested lists of numbers, not {type(values).__name__}"
        )
    if not values:
        return [], [0]
    flats: List[float] = []
    inner: Optional[List[int]] = None
    for v in values:
        f, s = _flatten(v)
        if inner is None:
            inner = s
        elif s != inner:
            raise ValueError(f"nested lists are not rectangular: shapes {inner} and {s}")
        flats.extend(f)
    return flats, [len(values)] + (inner or [])


def binary_array(
    values: Any,
    shape: Optional[Sequence[int]] = None,
    dtype: Optional[str] = None,
) -> Dict[str, Any]:
    """Build the API's binary array ``{"dtype", "shape", "base64"}``.

    Args:
        values: a NumPy array, an :class:`NpyArray`, nested lists of numbers, or a flat
            sequence of numbers together with @shape.
        shape: the shape of a flat @values (inferred otherwise).
        dtype: ``"float64"`` or ``"float32"``; default: the array's own float dtype, or
            float64.

    Returns:
        A dict ready to stand anywhere the API takes an array.
    """
    if dtype is not None and dtype not in _SEND_DTYPES:
        raise ValueError(f"dtype must be float64 or float32, not {dtype!r}")
    if _is_ndarray(values):
        np = sys.modules["numpy"]
        if dtype is None:
            dtype = "float32" if values.dtype == np.float32 else "float64"
        arr = np.ascontiguousarray(values, dtype=_DTYPES[dtype][0])
        if shape is not None:
            arr = arr.reshape(tuple(shape))
        raw = arr.tobytes()
        dims = [int(d) for d in arr.shape]
    else:
        if isinstance(values, NpyArray):
            flat, dims = list(values.data), list(values.shape)
            if dtype is None:
                dtype = values.dtype
        elif shape is not None:
            flat = [float(v) for v in values]
            dims = [int(d) for d in shape]
        else:
            flat, dims = _flatten(values)
        if dtype is None:
            dtype = "float64"
        if dtype not in _SEND_DTYPES:
            raise ValueError(f"a binary array is float64 or float32, not {dtype}")
        if shape is not None:
            n = 1
            for d in shape:
                n *= int(d)
            if n != len(flat):
                raise ValueError(f"{len(flat)} values do not fill shape {list(shape)}")
            dims = [int(d) for d in shape]
        raw = struct.pack(f"<{len(flat)}{_DTYPES[dtype][1]}", *flat)
    return {"dtype": dtype, "shape": dims, "base64": base64.b64encode(raw).decode("ascii")}


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` hook: NumPy arrays and :class:`NpyArray` become binary
    arrays, NumPy scalars Python numbers; anything else is refused with ``TypeError``."""
    if _is_ndarray(obj) or isinstance(obj, NpyArray):
        if _is_ndarray(obj) and obj.ndim == 0:
            return obj.item()
        return binary_array(obj)
    if _is_numpy_scalar(obj):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Iterable) and not isinstance(obj, (str, bytes, dict)):
        return list(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
