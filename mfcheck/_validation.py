"""Input validation shared by every module. Each check names the offending parameter."""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from mfcheck.errors import InvalidArgument


def check_positive_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise InvalidArgument(f"`{name}` must be a positive integer, got {value!r} of type {type(value).__name__}.")
    if value <= 0:
        raise InvalidArgument(f"`{name}` must be a positive integer, got {name}={value}.")
    return int(value)


def check_real(value, name: str, *, positive: bool = False, nonnegative: bool = False, allow_inf: bool = False) -> float:
    """Return ``value`` as a float after checking it is a real number with the asked sign."""
    if isinstance(value, bool) or not isinstance(value, Real | np.floating | np.integer):
        raise InvalidArgument(f"`{name}` must be a real number, got {value!r} of type {type(value).__name__}.")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise InvalidArgument(f"`{name}` must be finite, got {name}={value}.")
    if positive and not value > 0:
        raise InvalidArgument(f"`{name}` must be > 0, got {name}={value}.")
    if nonnegative and not value >= 0:
        raise InvalidArgument(f"`{name}` must be >= 0, got {name}={value}.")
    return value


def check_array(value, name: str, *, ndim: int | None = None, shape: tuple | None = None) -> np.ndarray:
    """Return ``value`` as a finite float64 array, checking its rank and (partial) shape.

    ``shape`` entries that are ``None`` match any length.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"`{name}` must be an array of real numbers: {exc}") from None
    if ndim is not None and arr.ndim != ndim:
        raise InvalidArgument(f"`{name}` must have {ndim} dimension(s), got shape {arr.shape}.")
    if shape is not None:
        if arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape)):
            want = tuple("*" if s is None else s for s in shape)
            raise InvalidArgument(f"`{name}` must have shape {want}, got {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InvalidArgument(f"`{name}` contains {bad} NaN or infinite value(s).")
    return arr


def check_choice(value, name: str, choices) -> str:
    if value not in choices:
        raise InvalidArgument(f"`{name}` must be one of {sorted(choices)}, got {value!r}.")
    return value
