"""Darcy flow with variable permeability: ``-∇·(κ(x) ∇p) = f``, ``p = g`` on the boundary.

The FNO / MgNO benchmark (Li et al., ICLR 2021, §5.2) takes ``κ`` piecewise constant
(12 / 3 from a thresholded Gaussian random field), ``f = 1`` and ``p = 0`` on ``∂(0,1)²``.
:class:`Darcy` is :class:`~.poisson.Poisson` with the permeability validated (finite and
strictly positive at every quadrature point — otherwise the problem is not elliptic) and solved
for a batch of ``B`` permeability fields sharing one mesh in one call.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sciml.solvers.fem.poisson import Poisson
from sciml.solvers.fem.space import Coefficient

__all__ = ["Darcy", "PermeabilityError"]


class PermeabilityError(ValueError):
    """A permeability that is not finite and strictly positive."""


class Darcy(Poisson):
    """Pressure solver of Darcy flow; same constructor as :class:`~.poisson.Poisson`."""

    def check_permeability(self, kappa: Coefficient, points: Tensor | None = None) -> None:
        """Raise :class:`PermeabilityError` unless ``κ`` is finite and positive everywhere."""
        asm = self.assembler
        qd = asm.quadrature(points, asm.form_degree(2, 2, kappa))  # the stiffness rule
        k = self.space.at_quadrature(kappa, qd, "permeability").detach()
        bad = ~torch.isfinite(k) | (k <= 0)
        if bool(bad.any()):
            b, e, _ = (int(i) for i in bad.nonzero()[0])
            raise PermeabilityError(
                f"permeability must be finite and > 0: sample {b}, cell {e} has "
                f"{float(k[bad].min() if torch.isfinite(k[bad]).all() else k[bad][0]):.4g} "
                f"({int(bad.any(-1).sum())} bad cells; min {float(k.nan_to_num().min()):.4g})"
            )

    def solve(self, f: Coefficient = 1.0, *, kappa: Coefficient = 1.0, **kwargs) -> Tensor:
        """Pressure dofs ``(B, n_dofs)`` for permeabilities ``kappa`` (``(B, P)`` nodal,
        ``(B, E)`` per cell, a number or a function of ``x``); other arguments as in Poisson."""
        self.check_permeability(kappa, kwargs.get("points"))
        return super().solve(f, kappa=kappa, **kwargs)
