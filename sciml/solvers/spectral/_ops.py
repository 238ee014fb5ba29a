r"""Elementwise kernels shared by the fast inference paths of the spectral solvers.

torch runs every elementwise op as a separate pass over memory and, for ``complex * real``,
first copies the real operand to a complex tensor (type promotion). The steppers and equations
therefore

* multiply spectra by *real* coefficients through :func:`torch.view_as_real`: a real ``(..., N_f)``
  coefficient is stored once as a contiguous ``(..., N_f, 2)`` pair (:func:`real_pair`) and
  multiplies the ``(re, im)`` view of the spectrum elementwise (bitwise the same result as the
  complex product ``(a + ib) c = ac + ibc``, half the flops, no promotion copy);
* fuse ``x + c * y`` into one :func:`torch.addcmul` pass and, when autograd is not recording
  (:func:`recording`), update fresh buffers in place instead of allocating temporaries.
"""

from __future__ import annotations

import torch

__all__ = ["addcmul", "addcmul_", "as_real_view", "can_update", "real_pair", "recording", "scale"]


def recording(*tensors: torch.Tensor) -> bool:
    """Whether autograd records an op on ``tensors`` (then in-place updates must be avoided)."""
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def can_update(target: torch.Tensor, *operands: torch.Tensor) -> bool:
    """Whether the fresh buffer ``target`` may be updated in place by an op with ``operands``.

    True when autograd records none of them and the operands broadcast to ``target``'s shape.
    """
    if recording(target, *operands):
        return False
    shapes = (target.shape, *(t.shape for t in operands))
    return torch.broadcast_shapes(*shapes) == target.shape


def real_pair(coefficient: torch.Tensor) -> torch.Tensor:
    """Coefficient ``(..., N_f)`` as the operand of :func:`as_real_view` spectra.

    A real coefficient becomes the contiguous ``(..., N_f, 2)`` tensor ``[c, c]`` per mode, so it
    multiplies ``view_as_real(u_hat)`` ``(B, C, *N_f, 2)`` without broadcasting in the innermost
    axis; a complex coefficient is returned unchanged (it multiplies the complex spectrum).
    """
    if coefficient.is_complex():
        return coefficient
    return coefficient.unsqueeze(-1).expand(*coefficient.shape, 2).contiguous()


def as_real_view(u_hat: torch.Tensor, coefficient: torch.Tensor) -> torch.Tensor:
    """``u_hat`` as the operand of ``coefficient`` (from :func:`real_pair`): real view or itself."""
    return u_hat if coefficient.is_complex() else torch.view_as_real(u_hat)


def scale(u_hat: torch.Tensor, coefficient: torch.Tensor, *, inplace: bool = False) -> torch.Tensor:
    """``coefficient * u_hat`` for a :func:`real_pair` coefficient; result has ``u_hat``'s dtype.

    With ``inplace=True`` a fresh ``u_hat`` is overwritten and returned where :func:`can_update`
    allows it.
    """
    view = as_real_view(u_hat, coefficient)
    if inplace and can_update(view, coefficient):
        view.mul_(coefficient)
        return u_hat
    out = view * coefficient
    return out if coefficient.is_complex() else torch.view_as_complex(out)


def addcmul(base: torch.Tensor, coefficient: torch.Tensor, u_hat: torch.Tensor) -> torch.Tensor:
    """Fresh ``base + coefficient * u_hat`` (complex spectra, :func:`real_pair` coefficient)."""
    out = torch.addcmul(
        as_real_view(base, coefficient), coefficient, as_real_view(u_hat, coefficient)
    )
    return out if coefficient.is_complex() else torch.view_as_complex(out)


def addcmul_(
    target: torch.Tensor, coefficient: torch.Tensor, u_hat: torch.Tensor, value: float = 1.0
) -> torch.Tensor:
    """``target += value * coefficient * u_hat`` in place (a fresh buffer autograd ignores)."""
    as_real_view(target, coefficient).addcmul_(
        coefficient, as_real_view(u_hat, coefficient), value=value
    )
    return target
