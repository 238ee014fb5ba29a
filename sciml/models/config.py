"""Keyword validation shared by the registered model constructors.

A model section of a YAML spec is passed to its constructor as keyword arguments. Python's own
``unexpected keyword argument`` error does not say which keywords *are* accepted, so constructors
are wrapped by :func:`strict_config`, whose error lists them and suggests the closest one.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from sciml.registry import MODEL_DATA_KEYS

F = TypeVar("F", bound=Callable[..., Any])


def strict_config(kind: str) -> Callable[[F], F]:
    """Decorator: reject unknown keyword arguments with a message listing the valid ones.

    The wrapped function keeps its signature (``inspect.signature`` follows ``__wrapped__``), so
    the spec layer can still read the accepted keys from it.

    Parameters
    ----------
    kind:
        Name used in the error message, e.g. ``"fno"``.
    """

    def decorator(fn: F) -> F:
        params = inspect.signature(fn).parameters
        valid = [n for n in params if n not in MODEL_DATA_KEYS]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            unknown = [k for k in kwargs if k not in params]
            if unknown:
                hints = []
                for key in unknown:
                    close = difflib.get_close_matches(key, valid, n=1)
                    hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
                raise TypeError(
                    f"unknown {kind} option(s) {', '.join(hints)}; "
                    f"valid options: {', '.join(valid)}"
                )
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
