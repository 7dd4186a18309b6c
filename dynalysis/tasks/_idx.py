"""Reader and writer for IDX files, the format MNIST and Fashion-MNIST ship in.

Layout (big-endian): two zero bytes, a type byte, the number of dimensions ``ndim``, then
``ndim`` int32 sizes, then the values in row-major order. MNIST images have magic number
``0x00000803`` (unsigned bytes, 3 dims) and labels ``0x00000801`` (unsigned bytes, 1 dim).
Files may be gzip-compressed (as downloaded, ``*.gz``).

References
----------
Y. LeCun, C. Cortes and C. J. C. Burges, "The MNIST database of handwritten digits",
http://yann.lecun.com/exdb/mnist/ (section "File formats for the MNIST database").
"""
from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from ..errors import DynalysisError

__all__ = ["DataFileError", "read_idx", "write_idx"]

# IDX type byte -> big-endian numpy dtype
_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_CODES = {dt.newbyteorder("=").str[1:]: code for code, dt in _TYPES.items()}


class DataFileError(DynalysisError, ValueError):
    """A data file is missing, truncated or not in the expected format."""


def read_idx(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (plain or gzip) into a numpy array in native byte order.

    Parameters
    ----------
    path : path-like
    ndim : int, optional
        Expected number of dimensions (3 for images, 1 for labels).

    Raises
    ------
    DataFileError
        Missing file, bad magic number, unknown type byte, wrong ``ndim``, or a size that does
        not match the header (truncated or trailing data).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the suffix
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as e:
        raise DataFileError(f"{path}: cannot read ({e})") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _TYPES:
        raise DataFileError(f"{path} is not an IDX file (magic number "
                            f"0x{raw[:4].hex() or '(empty)'}; expected 0x0000TTDD with a "
                            "known type byte TT, e.g. 0x00000803 for MNIST images)")
    dtype, dims = _TYPES[raw[2]], raw[3]
    if ndim is not None and dims != ndim:
        raise DataFileError(f"{path} holds a {dims}-dimensional IDX array; expected {ndim} "
                            "dimensions (are images and labels swapped?)")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise DataFileError(f"{path} is truncated (header of {header} bytes, file has {len(raw)})")
    shape = struct.unpack(f">{dims}i", raw[4:header])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataFileError(f"{path} is truncated or corrupt: header says shape {shape} "
                            f"({expected} bytes of data), file holds {len(raw) - header}")
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    Supported dtypes: uint8, int8, int16, int32, float32, float64.
    """
    array = np.asarray(array)
    key = array.dtype.newbyteorder("=").str[1:]
    if key not in _CODES:
        raise DataFileError(f"cannot write dtype {array.dtype} as IDX; use one of "
                            f"uint8, int8, int16, int32, float32, float64")
    code = _CODES[key]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    data = header + array.astype(_TYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path
