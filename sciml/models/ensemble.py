r"""Gaussian head and deep ensemble: make any registered grid model probabilistic.

Each of ``n_members`` copies of a registered model (``fno``, ``deeponet``, ``mgno``, ...) is built
with twice the output channels; the second half is mapped to a variance
:math:`\sigma_k^2 = \mathrm{softplus}(\cdot) + \sigma^2_{\min}` (the Gaussian head of
Nix & Weigend 1994). The ensemble predicts the moment-matched mixture (Lakshminarayanan et al.,
"Simple and Scalable Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017, Eq. 3)

.. math:: \mu = \tfrac1K\sum_k \mu_k, \qquad
          \sigma^2 = \tfrac1K\sum_k (\sigma_k^2 + \mu_k^2) - \mu^2 .

``n_members = 1`` is a plain Gaussian head. With ``gaussian_head=False`` the members predict
only a mean and the variance is their spread plus :math:`\sigma^2_{\min}` (needs
``n_members >= 2``). Members are trained each on its own Gaussian NLL
(:meth:`GaussianEnsemble.member_outputs`), as in the paper; the mixture is the prediction that
ProbConserv's update (Operator-ProbConserv, arXiv 2403.10642) conditions on.

Shapes: the base model's inputs; outputs :class:`~sciml.models.outputs.GaussianOutput` with
``mean, var`` of shape ``(B, C, *S)`` (``var`` in units² of the target).
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciml.models.config import strict_config
from sciml.models.outputs import GaussianOutput
from sciml.registry import MODEL_DATA_KEYS, MODELS

__all__ = ["GaussianEnsemble"]


class GaussianEnsemble(nn.Module):
    """Deep ensemble of Gaussian-head copies of a registered model (module docstring).

    Parameters
    ----------
    in_channels, out_channels, n_dims:
        Filled from the data, as for every grid model; ``out_channels`` is ``C`` of the target.
    base:
        Registered name of the member model (e.g. ``"fno"``).
    base_options:
        Keyword options of the member model (its spec section without the data keys).
    n_members:
        :math:`K`, independently initialized members.
    gaussian_head:
        Members predict a variance too (``True``) or only a mean (``False``).
    min_var:
        :math:`\\sigma^2_{\\min} > 0` added to every variance.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_dims: int,
        *,
        base: str = "fno",
        base_options: Mapping[str, Any] | None = None,
        n_members: int = 5,
        gaussian_head: bool = True,
        min_var: float = 1e-6,
        spatial_shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if isinstance(n_members, bool) or not isinstance(n_members, int) or n_members < 1:
            raise ValueError(
                f"gaussian_ensemble: n_members must be a positive integer, got {n_members!r}"
            )
        if not gaussian_head and n_members < 2:
            raise ValueError(
                f"gaussian_ensemble: gaussian_head=False takes its variance from the spread of the "
                f"members and needs n_members >= 2, got {n_members}"
            )
        if not min_var > 0:
            raise ValueError(f"gaussian_ensemble: min_var must be > 0, got {min_var!r}")
        constructor = MODELS.get(base)
        options = dict(base_options or {})
        clash = sorted(set(options) & set(MODEL_DATA_KEYS))
        if clash:
            raise ValueError(
                f"gaussian_ensemble: base_options may not set data keys {clash} (filled from the data)"
            )
        data = {
            "in_channels": in_channels,
            "out_channels": out_channels * (2 if gaussian_head else 1),
        }
        data["n_dims"] = n_dims
        if (
            spatial_shape is not None
            and "spatial_shape" in inspect.signature(constructor).parameters
        ):
            data["spatial_shape"] = spatial_shape
        self.members = nn.ModuleList(constructor(**data, **options) for _ in range(n_members))
        self.out_channels, self.gaussian_head, self.min_var = out_channels, gaussian_head, min_var
        first = self.members[0]
        self.input_keys: tuple[str, ...] = tuple(getattr(first, "input_keys", ("x",)))
        self.resolution_invariant = bool(getattr(first, "resolution_invariant", False))

    def member_outputs(self, *inputs: torch.Tensor) -> list[GaussianOutput]:
        """Each member's ``(mean, var)`` (``var`` = ``min_var`` without a Gaussian head)."""
        outputs = []
        for member in self.members:
            out = member(*inputs)
            if self.gaussian_head:
                mean, raw = out.split(self.out_channels, dim=1)
                outputs.append(GaussianOutput(mean, F.softplus(raw) + self.min_var))
            else:
                outputs.append(GaussianOutput(out, torch.full_like(out, self.min_var)))
        return outputs

    def forward(self, *inputs: torch.Tensor) -> GaussianOutput:
        """Mixture ``GaussianOutput(mean, var)`` ``(B, C, *S)`` of the members."""
        outputs = self.member_outputs(*inputs)
        means = torch.stack([o.mean for o in outputs])
        second = torch.stack([o.var for o in outputs]) + means.square()
        mean = means.mean(dim=0)
        return GaussianOutput(mean, (second.mean(dim=0) - mean.square()).clamp_min(self.min_var))


MODELS.register("gaussian_ensemble")(strict_config("gaussian_ensemble")(GaussianEnsemble))
