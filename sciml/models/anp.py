r"""Attentive neural process (ANP): a Gaussian prediction at target points from a context set.

Kim et al., "Attentive Neural Processes", ICLR 2019, in the configuration ProbConserv uses as its
probabilistic backbone (Hansen et al., ICML 2023, arXiv 2302.11002, App. D). A function is seen
through context points :math:`(x_c, y_c)` (here :math:`x = (t, x)`, :math:`y = u`) and predicted
at target points :math:`x_*`:

* **latent path**: :math:`[x_c, y_c] \to` Linear :math:`\to` self-attention × 2 :math:`\to` mean
  over points :math:`\to` ReLU Linear :math:`\to (\mu_z, \log\sigma_z^2)`, a global latent
  :math:`z \sim \mathcal N(\mu_z, \sigma_z^2)`;
* **deterministic path**: :math:`[x_c, y_c] \to` Linear :math:`\to` self-attention × 2, then
  cross-attention × 2 with queries :math:`\mathrm{proj}(x_*)`, keys :math:`\mathrm{proj}(x_c)`
  and the encoded context as values, giving :math:`r_*` per target point;
* **decoder**: :math:`[r_*, z, \mathrm{proj}(x_*)] \to` 3 × (Linear + ReLU) :math:`\to`
  :math:`\mu, \sigma = \mathrm{softplus}(\cdot) + \sigma_{\min}`.

Attention: multi-head scaled dot product (:math:`QK^\top/\sqrt d`) with dropout on the weights
and on the residual branch, then :math:`\mathrm{LayerNorm}(q + \mathrm{Linear}([q, a]))`.
Linear layers are Xavier-uniform initialized.

Training (:meth:`ANP.elbo`, :func:`elbo_loss`; :meth:`ANP.loss` is the two together) draws
:math:`z` from the posterior encoder on the targets, :math:`q(z\mid x_*, y_*)`, and minimizes
:math:`-\sum_i \log\mathcal N(y_i\mid\mu_i,\sigma_i) + \mathrm{KL}(q(z\mid *)\,\|\,q(z\mid c))`
per function, divided by the number of targets. Prediction (:meth:`ANP.forward`) draws
``n_samples`` latents (default: the constructor's) from :math:`q(z\mid c)` and returns the
moment-matched Gaussian:
mean :math:`\bar\mu = \operatorname{mean}_s\mu_s`, variance
:math:`\operatorname{mean}_s\sigma_s^2 + \operatorname{var}_s\mu_s` (diagonal).

Shapes: ``context_x (B, N_c, d_x)``, ``context_y (B, N_c, d_y)``, ``target_x (B, N_t, d_x)``,
outputs ``(B, N_t, d_y)`` in the units of ``y``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from sciml.models.config import strict_config
from sciml.models.outputs import GaussianOutput
from sciml.registry import MODELS

__all__ = ["ANP", "ANPLoss", "AttentionBlock", "ELBOOutput", "elbo_loss"]


class AttentionBlock(nn.Module):
    r"""Multi-head attention with the ANP residual: :math:`\mathrm{LN}(q + W[q, \mathrm{MHA}(q,k,v)])`.

    ``query (B, N_q, h)``, ``key (B, N_k, h)``, ``value (B, N_k, h)`` → ``(B, N_q, h)``.
    """

    def __init__(self, hidden: int, n_heads: int, dropout: float) -> None:
        super().__init__()
        if hidden % n_heads:
            raise ValueError(f"anp: hidden={hidden} must be divisible by n_heads={n_heads}")
        self.n_heads, self.dropout = n_heads, dropout
        self.query = nn.Linear(hidden, hidden, bias=False)
        self.key = nn.Linear(hidden, hidden, bias=False)
        self.value = nn.Linear(hidden, hidden, bias=False)
        self.out = nn.Linear(2 * hidden, hidden)
        self.norm = nn.LayerNorm(hidden)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        return x.view(b, n, self.n_heads, h // self.n_heads).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        p = self.dropout if self.training else 0.0
        attended = F.scaled_dot_product_attention(
            self._heads(self.query(query)),
            self._heads(self.key(key)),
            self._heads(self.value(value)),
            dropout_p=p,
        )
        attended = attended.transpose(1, 2).reshape(query.shape)
        residual = F.dropout(self.out(torch.cat([query, attended], dim=-1)), p, self.training)
        return self.norm(query + residual)


class ANPLoss(NamedTuple):
    """Training objective per target point: ``loss = nll + kl`` (batch means), and its parts."""

    loss: torch.Tensor
    nll: torch.Tensor
    kl: torch.Tensor


class ELBOOutput(NamedTuple):
    """What the ELBO needs from one training forward: the decoder's Gaussian ``mean``, ``var``
    ``(B, N_t, d_y)`` at the targets with :math:`z \\sim q(z\\mid x_*, y_*)`, and
    ``kl`` ``(B,)`` = :math:`\\mathrm{KL}(q(z\\mid *)\\,\\|\\,q(z\\mid c))` per function.
    Three fields, so it is not mistaken for a predictive ``(mean, var)`` pair."""

    mean: torch.Tensor
    var: torch.Tensor
    kl: torch.Tensor


def elbo_loss(output: ELBOOutput, target_y: torch.Tensor) -> ANPLoss:
    r"""Negative ELBO per target point, :math:`\big(-\sum_i\log\mathcal N(y_i\mid\mu_i,\sigma_i)
    + \mathrm{KL}\big)/N_t`, averaged over the batch; ``target_y (B, N_t, d_y)``."""
    if target_y.shape != output.mean.shape:
        raise ValueError(
            f"anp: target_y {tuple(target_y.shape)} does not match the prediction "
            f"{tuple(output.mean.shape)}"
        )
    nll = -torch.distributions.Normal(output.mean, output.var.sqrt()).log_prob(target_y)
    nll = nll.sum(dim=(1, 2))
    n = target_y.shape[1]
    return ANPLoss((nll + output.kl).mean() / n, nll.mean() / n, output.kl.mean() / n)


class ANP(nn.Module):
    """Attentive neural process with latent and deterministic paths (module docstring).

    Parameters
    ----------
    dim_x, dim_y:
        Input coordinates (ProbConserv: 2, ``(t, x)``) and output channels (1).
    hidden, latent:
        Widths of the attention paths and of :math:`z` (ProbConserv: 128 and 128).
    n_heads, dropout:
        Attention heads and dropout rate (4 and 0.1).
    n_self_attention, n_cross_attention, n_decoder_layers:
        Depths (2, 2 and 3).
    min_std:
        :math:`\\sigma_{\\min}` added to the softplus of the decoder's scale (1e-3).
    n_samples:
        Latent draws of a prediction when :meth:`forward` is not given ``n_samples`` (1;
        ProbConserv evaluates with 100).
    """

    input_keys: tuple[str, ...] = ("context_x", "context_y", "target_x")

    def __init__(
        self,
        dim_x: int = 2,
        dim_y: int = 1,
        *,
        hidden: int = 128,
        latent: int = 128,
        n_heads: int = 4,
        dropout: float = 0.1,
        n_self_attention: int = 2,
        n_cross_attention: int = 2,
        n_decoder_layers: int = 3,
        min_std: float = 1e-3,
        n_samples: int = 1,
    ) -> None:
        super().__init__()
        for name, value in (("dim_x", dim_x), ("dim_y", dim_y), ("hidden", hidden), ("latent", latent),
                            ("n_heads", n_heads), ("n_decoder_layers", n_decoder_layers),
                            ("n_samples", n_samples)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"anp: {name} must be a positive integer, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"anp: dropout must lie in [0, 1), got {dropout!r}")
        if not min_std > 0:
            raise ValueError(f"anp: min_std must be > 0, got {min_std!r}")
        self.dim_x, self.dim_y, self.min_std = dim_x, dim_y, min_std
        self.n_samples = n_samples

        def attention(n: int) -> nn.ModuleList:
            return nn.ModuleList(AttentionBlock(hidden, n_heads, dropout) for _ in range(n))

        self.latent_in = nn.Linear(dim_x + dim_y, hidden)
        self.latent_self = attention(n_self_attention)
        self.latent_hidden = nn.Linear(hidden, hidden)
        self.latent_mean = nn.Linear(hidden, latent)
        self.latent_logvar = nn.Linear(hidden, latent)
        self.det_in = nn.Linear(dim_x + dim_y, hidden)
        self.det_self = attention(n_self_attention)
        self.det_proj = nn.Linear(dim_x, hidden)
        self.det_cross = attention(n_cross_attention)
        self.decoder_proj = nn.Linear(dim_x, hidden)
        width = 2 * hidden + latent
        self.decoder = nn.Sequential(
            *(m for _ in range(n_decoder_layers) for m in (nn.Linear(width, width), nn.ReLU()))
        )
        self.head = nn.Linear(width, 2 * dim_y)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier-uniform weights and zero biases of every Linear layer; LayerNorm to identity."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                module.reset_parameters()

    def _check(self, x: torch.Tensor, y: torch.Tensor | None, name: str) -> None:
        if x.ndim != 3 or x.shape[-1] != self.dim_x:
            raise ValueError(f"anp: {name}_x must be (B, N, {self.dim_x}), got {tuple(x.shape)}")
        if y is not None and (
            y.shape[:2] != x.shape[:2] or y.ndim != 3 or y.shape[-1] != self.dim_y
        ):
            raise ValueError(
                f"anp: {name}_y must be (B, N, {self.dim_y}) matching {name}_x {tuple(x.shape)}, "
                f"got {tuple(y.shape)}"
            )

    def latent_distribution(
        self, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        r""":math:`(\mu_z, \log\sigma_z^2)`, each ``(B, latent)``, of :math:`q(z \mid x, y)`."""
        s = self.latent_in(torch.cat([x, y], dim=-1))
        for block in self.latent_self:
            s = block(s, s, s)
        s = torch.relu(self.latent_hidden(s.mean(dim=1)))
        return self.latent_mean(s), self.latent_logvar(s)

    def representation(
        self, context_x: torch.Tensor, context_y: torch.Tensor, target_x: torch.Tensor
    ) -> torch.Tensor:
        """Deterministic path ``r`` ``(B, N_t, hidden)`` for each target point."""
        values = self.det_in(torch.cat([context_x, context_y], dim=-1))
        for block in self.det_self:
            values = block(values, values, values)
        keys, r = self.det_proj(context_x), self.det_proj(target_x)
        for block in self.det_cross:
            r = block(r, keys, values)
        return r

    def decode(
        self, r: torch.Tensor, z: torch.Tensor, target_x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, sigma)`` ``(B, N_t, dim_y)`` from ``r (B, N_t, h)`` and ``z (B, latent)``."""
        z = z.unsqueeze(1).expand(-1, target_x.shape[1], -1)
        h = self.decoder(torch.cat([r, z, self.decoder_proj(target_x)], dim=-1))
        mu, raw = self.head(h).chunk(2, dim=-1)
        return mu, F.softplus(raw) + self.min_std

    def forward(
        self,
        context_x: torch.Tensor,
        context_y: torch.Tensor,
        target_x: torch.Tensor,
        *,
        n_samples: int | None = None,
        generator: torch.Generator | None = None,
    ) -> GaussianOutput:
        """Moment-matched predictive ``GaussianOutput(mean, var)`` over ``n_samples`` latents
        (default: the constructor's ``n_samples``)."""
        self._check(context_x, context_y, "context")
        self._check(target_x, None, "target")
        n_samples = self.n_samples if n_samples is None else n_samples
        if n_samples < 1:
            raise ValueError(f"anp: n_samples must be >= 1, got {n_samples}")
        mu_z, logvar_z = self.latent_distribution(context_x, context_y)
        r = self.representation(context_x, context_y, target_x)
        total = total_sq = total_var = None
        for _ in range(n_samples):
            eps = torch.randn(mu_z.shape, generator=generator, dtype=mu_z.dtype, device=mu_z.device)
            mu, sigma = self.decode(r, mu_z + (0.5 * logvar_z).exp() * eps, target_x)
            if total is None:
                total, total_sq, total_var = mu, mu.square(), sigma.square()
            else:
                total, total_sq, total_var = (
                    total + mu,
                    total_sq + mu.square(),
                    total_var + sigma.square(),
                )
        mean = total / n_samples
        spread = (total_sq / n_samples - mean.square()).clamp_min(0)
        return GaussianOutput(mean, total_var / n_samples + spread)

    def elbo(
        self,
        context_x: torch.Tensor,
        context_y: torch.Tensor,
        target_x: torch.Tensor,
        target_y: torch.Tensor,
    ) -> ELBOOutput:
        r"""The training forward: the decoder's Gaussian at the targets with
        :math:`z \sim q(z\mid *)` (the encoder sees the target values) and the KL per function."""
        self._check(context_x, context_y, "context")
        self._check(target_x, target_y, "target")
        mu_p, logvar_p = self.latent_distribution(context_x, context_y)
        mu_q, logvar_q = self.latent_distribution(target_x, target_y)
        z = mu_q + (0.5 * logvar_q).exp() * torch.randn_like(mu_q)
        mu, sigma = self.decode(self.representation(context_x, context_y, target_x), z, target_x)
        kl = 0.5 * (
            logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).square()) / logvar_p.exp() - 1
        ).sum(dim=-1)
        return ELBOOutput(mu, sigma.square(), kl)

    def loss(
        self,
        context_x: torch.Tensor,
        context_y: torch.Tensor,
        target_x: torch.Tensor,
        target_y: torch.Tensor,
    ) -> ANPLoss:
        r"""Negative ELBO per target point: Gaussian NLL with :math:`z \sim q(z\mid *)` plus KL."""
        return elbo_loss(self.elbo(context_x, context_y, target_x, target_y), target_y)


MODELS.register("anp")(strict_config("anp")(ANP))
