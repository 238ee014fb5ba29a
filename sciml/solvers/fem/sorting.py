"""Sorting of packed integer keys (pattern and facet searches), fast on CPU.

Mesh preprocessing packs index tuples into one ``int64`` key each (``a·n + b``, …) and sorts them:
the sparsity pattern's edges, the exterior facets. On CPU, NumPy's default ``argsort`` of
``int64`` (a vectorised quicksort, ``x86-simd-sort`` where the CPU has AVX-512/AVX2) is 2–3×
faster than ``torch.argsort`` / ``torch.unique`` (a radix or merge sort) for the 10⁵–10⁷ keys of
these meshes; other devices use torch. Integer tensors carry no autograd, so nothing is lost.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["argsort_keys", "unique_keys"]


def argsort_keys(keys: Tensor) -> Tensor:
    """Indices ``(K,)`` that sort the 1D integer ``keys`` (ties in any order)."""
    if keys.device.type != "cpu":
        return torch.argsort(keys)
    return torch.from_numpy(np.argsort(keys.contiguous().numpy()))


def unique_keys(
    keys: Tensor, return_inverse: bool = False, return_counts: bool = False
) -> Tensor | tuple[Tensor, ...]:
    """``torch.unique(keys, sorted=True, ...)`` for integer keys of any shape: the sorted distinct
    keys ``(U,)``, then (as asked) the index of each key among them (``keys``' shape) and the
    ``(U,)`` multiplicities."""
    if keys.device.type != "cpu":
        return torch.unique(keys, return_inverse=return_inverse, return_counts=return_counts)
    k = keys.contiguous().numpy().reshape(-1)
    if return_inverse:
        order = np.argsort(k)
        s = k[order]
    else:  # sorting the values alone is several times faster than sorting indices
        s = np.sort(k)
    new = np.empty(len(s), dtype=bool)  # first occurrence of each distinct key
    new[:1] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    out: list[Tensor] = [torch.from_numpy(s[new])]
    if return_inverse:
        inverse = np.empty(len(k), dtype=np.int64)
        inverse[order] = np.cumsum(new) - 1
        out.append(torch.from_numpy(inverse).reshape(keys.shape))
    if return_counts:
        starts = np.flatnonzero(new)
        out.append(torch.from_numpy(np.diff(starts, append=len(s))))
    return out[0] if len(out) == 1 else tuple(out)
