r"""Deep operator networks: DeepONet (Lu et al. 2021) and POD-DeepONet (Lu et al. 2022).

A DeepONet approximates an operator :math:`G: u \mapsto G(u)` by

.. math:: G(u)(y) \approx \sum_{k=1}^{p} b_k(u)\, t_k(y) + b_0,

where the *branch* net maps the input function sampled at fixed sensors,
:math:`[u(x_1), \dots, u(x_m)]`, to coefficients :math:`b \in \mathbb{R}^p`, and the *trunk* net
maps a query point :math:`y \in \mathbb{R}^d` to basis values :math:`t(y) \in \mathbb{R}^p`
(Lu et al. 2021, eq. 2). POD-DeepONet replaces the trunk by the leading POD modes of the training
outputs plus their mean (Lu et al. 2022, Sec. 2.1).

Data layout (the sciml model interface): ``x`` is the input field ``(B, C_in, *S_in)`` — its
grid points are the sensors — and ``coords`` ``(B, d, *S_out)`` the query points, channel-first
like the fields; the output is ``(B, C_out, *S_out)``. ``S_out`` may be a grid or a single axis of
``N`` scattered points. When every sample queries the same points (the usual grid case, checked
at run time) the trunk runs once on ``N`` points and the product is the "Cartesian product"
DeepONet of DeepXDE; otherwise it runs per sample on ``B·N`` points.

References
----------
L. Lu, P. Jin, G. Pang, Z. Zhang, G. E. Karniadakis, "Learning nonlinear operators via DeepONet
based on the universal approximation theorem of operators", Nat. Mach. Intell. 3, 218 (2021).
L. Lu, X. Meng, S. Cai, Z. Mao, S. Goswami, Z. Zhang, G. E. Karniadakis, "A comprehensive and
fair comparison of two neural operators (with practical extensions) based on FAIR data",
Comput. Methods Appl. Mech. Eng. 393, 114778 (2022) — POD-DeepONet (Sec. 2.1), multiple outputs
(Sec. 3.1.6), trunk feature expansion (Sec. 3.1.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sciml.models.config import strict_config
from sciml.registry import MODELS

__all__ = ["MLP", "StackedMLP", "CNNBranch", "FourierFeatures", "DeepONet", "PODDeepONet"]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": F.relu,
    "tanh": torch.tanh,
    "gelu": F.gelu,
    "silu": F.silu,
}
STRATEGIES = ("independent", "split_both", "split_branch", "split_trunk")
BRANCHES = ("mlp", "cnn")


def _activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(f"deeponet: activation={name!r} is not one of {list(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _widths(name: str, widths: Sequence[int]) -> list[int]:
    if isinstance(widths, (int, str)) or not widths:
        raise ValueError(f"deeponet: {name} must be a non-empty list of widths, got {widths!r}")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ValueError(f"deeponet: {name} must hold positive integers, got {widths!r}")
    return list(widths)


def _glorot_normal_(module: nn.Module) -> None:
    # DeepXDE's "Glorot normal": Xavier-normal weights, zero biases.
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            nn.init.xavier_normal_(m.weight)
            nn.init.zeros_(m.bias)


class MLP(nn.Module):
    """Fully connected net ``sizes[0] → … → sizes[-1]``; activation between layers, not after the
    last one (DeepXDE's ``FNN``). Input ``(..., sizes[0])`` → ``(..., sizes[-1])``.
    """

    def __init__(self, sizes: Sequence[int], activation: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = activation
        _glorot_normal_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear in self.linears[:-1]:
            x = self.activation(linear(x))
        return self.linears[-1](x)


class StackedMLP(nn.Module):
    r"""``p`` independent MLPs ``sizes[0] → … → 1`` evaluated as one batched network.

    The stacked DeepONet (Lu et al. 2021, Fig. 1c) has one branch net per coefficient
    :math:`b_k`. Storing the ``p`` weight matrices of a layer in one tensor ``(p, in, out)`` runs
    them as a single batched matmul instead of ``p`` small ones. Each sub-net is Glorot-normal
    initialized with its own fan-in/fan-out. Input ``(B, sizes[0])`` → ``(B, p)``.
    """

    def __init__(
        self, p: int, sizes: Sequence[int], activation: Callable[[torch.Tensor], torch.Tensor]
    ):
        super().__init__()
        sizes = [*sizes, 1]
        self.weights = nn.ParameterList(
            nn.Parameter(torch.randn(p, a, b) * math.sqrt(2.0 / (a + b)))
            for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(p, 1, b)) for b in sizes[1:])
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.einsum("bi,pio->pbo", x, self.weights[0]) + self.biases[0]
        for w, b in zip(self.weights[1:], self.biases[1:]):
            h = torch.baddbmm(b, self.activation(h), w)
        return h.squeeze(-1).transpose(0, 1)


class CNNBranch(nn.Module):
    """Convolutional branch net for gridded input functions (1D, 2D or 3D).

    Stride-2 convolutions (kernel 3) with the activation after each, an adaptive average pool to
    ``pool`` cells per axis — so the net accepts any input resolution — then an MLP to ``widths``.
    Lu et al. (2022, Sec. 3.1.1) use a CNN branch for image-like inputs.
    Input ``(B, C_in, *S)`` → ``(B, widths[-1])``.
    """

    def __init__(
        self,
        in_channels: int,
        n_dims: int,
        channels: Sequence[int],
        pool: int,
        widths: Sequence[int],
        activation: Callable[[torch.Tensor], torch.Tensor],
    ):
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[n_dims]
        pooling = {1: nn.AdaptiveAvgPool1d, 2: nn.AdaptiveAvgPool2d, 3: nn.AdaptiveAvgPool3d}
        sizes = [in_channels, *channels]
        self.convs = nn.ModuleList(
            conv(a, b, kernel_size=3, stride=2, padding=1) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.pool = pooling[n_dims](pool)
        self.mlp = MLP([channels[-1] * pool**n_dims, *widths], activation)
        self.activation = activation
        _glorot_normal_(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = self.activation(c(x))
        return self.mlp(self.pool(x).flatten(1))


class FourierFeatures(nn.Module):
    r"""Trunk feature expansion :math:`y \mapsto [y, \cos(2\pi k y_i/L_i), \sin(2\pi k y_i/L_i)]`
    for :math:`k = 1..K` and every coordinate :math:`i` (Lu et al. 2022, Sec. 3.1.2): it builds
    periodicity and oscillation scales into the trunk basis. ``(..., d)`` → ``(..., d(1 + 2K))``.
    """

    def __init__(self, n_dims: int, n_harmonics: int, lengths: Sequence[float]):
        super().__init__()
        # Angular frequencies in coordinate-major order, matching repeat_interleave below. Kept
        # as Python floats so that they are exact in whatever dtype the model runs.
        self.omega = [
            2 * math.pi * k / length for length in lengths for k in range(1, n_harmonics + 1)
        ]
        self.n_dims = n_dims
        self.n_harmonics = n_harmonics

    @property
    def out_features(self) -> int:
        return self.n_dims * (1 + 2 * self.n_harmonics)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        omega = torch.tensor(self.omega, dtype=y.dtype, device=y.device)
        phase = y.repeat_interleave(self.n_harmonics, dim=-1) * omega
        return torch.cat([y, torch.cos(phase), torch.sin(phase)], dim=-1)


def _build_branch(
    *,
    kind: str,
    in_channels: int,
    n_dims: int,
    n_sensors: int | None,
    widths: list[int],
    activation: Callable[[torch.Tensor], torch.Tensor],
    stacked: bool,
    cnn_channels: list[int],
    cnn_pool: int,
) -> nn.Module:
    if kind == "cnn":
        if n_dims not in (1, 2, 3):
            raise ValueError(f"deeponet: the cnn branch supports n_dims 1, 2 or 3, got {n_dims}")
        if stacked:
            raise ValueError("deeponet: stacked=True needs branch='mlp' (one MLP per coefficient)")
        return CNNBranch(in_channels, n_dims, cnn_channels, cnn_pool, widths, activation)
    if n_sensors is None:
        raise ValueError(
            "deeponet: branch='mlp' needs n_sensors (or spatial_shape), the number of grid points "
            "of the input field x (the branch input size is in_channels * n_sensors)"
        )
    m = in_channels * n_sensors
    if stacked:
        return StackedMLP(widths[-1], [m, *widths[:-1]], activation)
    return MLP([m, *widths], activation)


def _check_branch_options(
    branch: str,
    n_sensors: int | None,
    spatial_shape: Sequence[int] | None,
    cnn_channels: Sequence[int],
    cnn_pool: int,
) -> int | None:
    """Validate the branch options; return the number of sensors (given or from the data)."""
    if branch not in BRANCHES:
        raise ValueError(f"deeponet: branch={branch!r} is not one of {list(BRANCHES)}")
    if n_sensors is not None and (
        isinstance(n_sensors, bool) or not isinstance(n_sensors, int) or n_sensors < 1
    ):
        raise ValueError(f"deeponet: n_sensors must be a positive integer, got {n_sensors!r}")
    _widths("cnn_channels", cnn_channels)
    if isinstance(cnn_pool, bool) or not isinstance(cnn_pool, int) or cnn_pool < 1:
        raise ValueError(f"deeponet: cnn_pool must be a positive integer, got {cnn_pool!r}")
    if spatial_shape is None:
        return n_sensors
    from_data = math.prod(spatial_shape)
    if n_sensors is not None and n_sensors != from_data:
        raise ValueError(
            f"deeponet: n_sensors={n_sensors} but the input grid {tuple(spatial_shape)} has "
            f"{from_data} points; leave n_sensors out to take it from the data"
        )
    return from_data


class _BranchInput:
    """Shape checks and flattening of ``x`` for the branch (shared by both DeepONet variants)."""

    def __init__(self, kind: str, in_channels: int, n_dims: int, n_sensors: int | None):
        self.kind, self.in_channels, self.n_dims, self.n_sensors = (
            kind,
            in_channels,
            n_dims,
            n_sensors,
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 3 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"deeponet expects x of shape (B, {self.in_channels}, *S), got {tuple(x.shape)}"
            )
        if self.kind == "cnn":
            if x.ndim != self.n_dims + 2:
                raise ValueError(
                    f"deeponet: the cnn branch expects x with {self.n_dims} spatial dims, "
                    f"got shape {tuple(x.shape)}"
                )
            return x
        if math.prod(x.shape[2:]) != self.n_sensors:
            raise ValueError(
                f"deeponet was built for n_sensors={self.n_sensors} input points, got x of shape "
                f"{tuple(x.shape)} ({math.prod(x.shape[2:])} points); DeepONet's branch is tied to "
                "its sensor grid"
            )
        return x.flatten(1)


class DeepONet(nn.Module):
    r"""DeepONet :math:`G(u)(y)_c = \sum_k b_{c,k}(u)\, t_{c,k}(y) + b_{0,c}` (Lu et al. 2021).

    Parameters
    ----------
    in_channels, out_channels, n_dims, spatial_shape:
        Filled in by the trainer from the data: input channels ``C_in``, output channels
        ``C_out``, the dimension ``d`` of the query coordinates and the grid ``S_in`` of the
        input field.
    n_sensors:
        Number of grid points of the input field (the sensors), ``prod(spatial_shape)`` by
        default; the MLP branch needs it (its input size is ``C_in * n_sensors``).
    branch_layers:
        Widths of the branch MLP after its input, the last one being the number of coefficients
        (DeepXDE's ``layer_sizes_branch`` without the input size), e.g. ``[40, 40]``.
    trunk_layers:
        Widths of the trunk MLP after its input (DeepXDE's ``layer_sizes_trunk`` without ``d``).
    activation:
        ``"relu"``, ``"tanh"``, ``"gelu"`` or ``"silu"``, used in both nets. As in the paper and
        DeepXDE, the trunk output is activated too, the branch output is not.
    branch:
        ``"mlp"`` (on the flattened sensor values) or ``"cnn"`` (on the grid, see
        :class:`CNNBranch`; ``cnn_channels`` and ``cnn_pool`` configure it).
    stacked:
        ``False``: unstacked DeepONet, one branch net with ``p`` outputs (default, the better
        one in Lu et al. 2021). ``True``: stacked, ``p`` branch nets with one output each.
    multi_output_strategy:
        How ``C_out > 1`` outputs share the nets (Lu et al. 2022, Sec. 3.1.6; DeepXDE's names):
        ``"independent"`` (default for ``C_out > 1``: one DeepONet per output),
        ``"split_both"`` (branch and trunk widths ``C_out·q``, split into ``C_out`` groups),
        ``"split_branch"`` (branch ``C_out·q``, shared trunk ``q``),
        ``"split_trunk"`` (shared branch ``q``, trunk ``C_out·q``).
    output_bias:
        Learnable scalar bias :math:`b_{0,c}` per output channel (initialized to 0).
    trunk_fourier_features, domain_length:
        Number of harmonics ``K`` of the trunk feature expansion (:class:`FourierFeatures`; 0
        disables it) and the period ``L`` per coordinate (one float or ``d`` floats).

    Notes
    -----
    Shapes: ``x`` ``(B, C_in, *S_in)``, ``coords`` ``(B, d, *S_out)`` → ``(B, C_out, *S_out)``.
    The branch is tied to the sensor grid, so the model is not resolution invariant in its
    input (``resolution_invariant = False``); its output can be queried anywhere.
    """

    input_keys: tuple[str, ...] = ("x", "coords")
    resolution_invariant: bool = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_dims: int,
        *,
        spatial_shape: Sequence[int] | None = None,
        n_sensors: int | None = None,
        branch_layers: Sequence[int] = (40, 40),
        trunk_layers: Sequence[int] = (40, 40),
        activation: str = "relu",
        branch: str = "mlp",
        stacked: bool = False,
        multi_output_strategy: str | None = None,
        output_bias: bool = True,
        trunk_fourier_features: int = 0,
        domain_length: float | Sequence[float] = 1.0,
        cnn_channels: Sequence[int] = (16, 32),
        cnn_pool: int = 4,
    ) -> None:
        super().__init__()
        n_sensors = _check_branch_options(branch, n_sensors, spatial_shape, cnn_channels, cnn_pool)
        branch_w = _widths("branch_layers", branch_layers)
        trunk_w = _widths("trunk_layers", trunk_layers)
        act = _activation(activation)
        strategy = multi_output_strategy or "independent"
        if strategy not in STRATEGIES:
            raise ValueError(
                f"deeponet: multi_output_strategy={multi_output_strategy!r} is not one of "
                f"{list(STRATEGIES)}"
            )
        self.in_channels, self.out_channels, self.n_dims = in_channels, out_channels, n_dims
        self.strategy = strategy
        # Output channels in the branch (Cb) and trunk (Ct) feature tensors (B, Cb, q), (N, Ct, q).
        self._cb, self._ct = _split_sizes(strategy, out_channels, branch_w[-1], trunk_w[-1])

        n_nets = out_channels if strategy == "independent" else 1
        branch_kwargs = dict(
            kind=branch,
            in_channels=in_channels,
            n_dims=n_dims,
            n_sensors=n_sensors,
            widths=branch_w,
            activation=act,
            stacked=stacked,
            cnn_channels=list(cnn_channels),
            cnn_pool=cnn_pool,
        )
        self.branches = nn.ModuleList(_build_branch(**branch_kwargs) for _ in range(n_nets))
        self.branch_input = _BranchInput(branch, in_channels, n_dims, n_sensors)

        if (
            isinstance(trunk_fourier_features, bool)
            or not isinstance(trunk_fourier_features, int)
            or trunk_fourier_features < 0
        ):
            raise ValueError(
                "deeponet: trunk_fourier_features must be a non-negative integer, "
                f"got {trunk_fourier_features!r}"
            )
        if trunk_fourier_features:
            lengths = (
                [float(domain_length)] * n_dims
                if isinstance(domain_length, (int, float))
                else [float(v) for v in domain_length]
            )
            if len(lengths) != n_dims or min(lengths) <= 0:
                raise ValueError(
                    f"deeponet: domain_length must be one positive float or {n_dims}, "
                    f"got {domain_length!r}"
                )
            self.features: nn.Module | None = FourierFeatures(
                n_dims, trunk_fourier_features, lengths
            )
            trunk_in = self.features.out_features
        else:
            self.features = None
            trunk_in = n_dims
        self.trunks = nn.ModuleList(MLP([trunk_in, *trunk_w], act) for _ in range(n_nets))
        self.trunk_activation = act
        self.bias = nn.Parameter(torch.zeros(out_channels)) if output_bias else None

    def branch_features(self, x: torch.Tensor) -> torch.Tensor:
        """Branch coefficients ``(B, Cb, q)`` of the input field ``x`` ``(B, C_in, *S_in)``."""
        u = self.branch_input(x)
        out = _stack([net(u) for net in self.branches], dim=1)  # (B, n_nets, width)
        return out.reshape(out.shape[0], self._cb, -1)

    def trunk_features(self, y: torch.Tensor) -> torch.Tensor:
        """Trunk basis ``(..., Ct, q)`` at query points ``y`` ``(..., d)``."""
        if self.features is not None:
            y = self.features(y)
        out = _stack([self.trunk_activation(net(y)) for net in self.trunks], dim=-2)
        return out.reshape(*out.shape[:-2], self._ct, -1)

    def forward(self, x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, C_in, *S_in)``, ``coords`` ``(B, d, *S_out)`` → ``(B, C_out, *S_out)``."""
        if coords.ndim < 3 or coords.shape[0] != x.shape[0] or coords.shape[1] != self.n_dims:
            raise ValueError(
                f"deeponet expects coords of shape (B={x.shape[0]}, d={self.n_dims}, *S), "
                f"got {tuple(coords.shape)}"
            )
        b = self.branch_features(x)
        points = coords.flatten(2).transpose(1, 2)  # (B, N, d)
        if _same_for_all_samples(points):
            out = torch.einsum("bcq,ncq->bcn", b, self.trunk_features(points[0]))
        else:
            out = torch.einsum("bcq,bncq->bcn", b, self.trunk_features(points))
        if self.bias is not None:
            out = out + self.bias[:, None]
        return out.reshape(out.shape[0], self.out_channels, *coords.shape[2:])


def _split_sizes(strategy: str, c_out: int, q_branch: int, q_trunk: int) -> tuple[int, int]:
    """Channel counts (Cb, Ct) of the branch/trunk features; checks the widths fit the strategy."""
    if strategy == "independent" or c_out == 1:
        if q_branch != q_trunk:
            raise ValueError(
                f"deeponet: the last branch width ({q_branch}) must equal the last trunk width "
                f"({q_trunk})"
            )
        return c_out, c_out
    if strategy == "split_both":
        if q_branch != q_trunk or q_branch % c_out:
            raise ValueError(
                f"deeponet: split_both needs equal last branch/trunk widths divisible by "
                f"out_channels={c_out}, got {q_branch} and {q_trunk}"
            )
        return c_out, c_out
    if strategy == "split_branch":
        if q_branch != c_out * q_trunk:
            raise ValueError(
                f"deeponet: split_branch needs last branch width = out_channels * last trunk "
                f"width = {c_out} * {q_trunk}, got {q_branch}"
            )
        return c_out, 1
    if q_trunk != c_out * q_branch:
        raise ValueError(
            f"deeponet: split_trunk needs last trunk width = out_channels * last branch width "
            f"= {c_out} * {q_branch}, got {q_trunk}"
        )
    return 1, c_out


def _stack(tensors: list[torch.Tensor], dim: int) -> torch.Tensor:
    # A view instead of a copy for the common single-net case (it is on the hot path).
    return tensors[0].unsqueeze(dim) if len(tensors) == 1 else torch.stack(tensors, dim=dim)


def _same_for_all_samples(points: torch.Tensor) -> bool:
    # One trunk pass on N points instead of B·N when all samples query the same points. The test
    # depends on the data, which torch.export / torch.compile cannot trace: they take the
    # per-sample path, which is right in every case.
    if points.shape[0] == 1:
        return True
    if torch.compiler.is_compiling():
        return False
    return bool(torch.equal(points, points[:1].expand_as(points)))


class PODDeepONet(nn.Module):
    r"""POD-DeepONet: :math:`G(u) = \bar y + \sum_{k=1}^{K} b_k(u)\, \phi_k` (Lu et al. 2022).

    The trunk net is replaced by the ``n_modes`` leading POD modes :math:`\phi_k` of the centred
    training outputs and the output is shifted by their mean :math:`\bar y`; only the branch is
    trained. Call :meth:`fit_pod` with the training outputs before training. The modes are
    stored as buffers (saved in ``state_dict``), scaled to unit mean square per grid point so
    that the branch coefficients have the size of the output fluctuations.

    Parameters
    ----------
    in_channels, out_channels, n_dims, spatial_shape:
        Filled in by the trainer from the data.
    n_modes:
        Number of POD modes ``K`` = width of the branch output.
    n_sensors, branch, stacked, activation, cnn_channels, cnn_pool:
        The branch net, as for :class:`DeepONet`.
    branch_layers:
        Hidden widths of the branch net; its output width is ``n_modes``.

    Notes
    -----
    Shapes: ``x`` ``(B, C_in, *S_in)`` → ``(B, C_out, *S_out)`` on the grid ``S_out`` of the
    training outputs; the modes exist only there, so the model takes no ``coords``.
    Multiple output channels share one POD of the stacked channels.
    """

    input_keys: tuple[str, ...] = ("x",)
    resolution_invariant: bool = False

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_dims: int,
        *,
        n_modes: int,
        spatial_shape: Sequence[int] | None = None,
        n_sensors: int | None = None,
        branch_layers: Sequence[int] = (128, 128),
        activation: str = "relu",
        branch: str = "mlp",
        stacked: bool = False,
        cnn_channels: Sequence[int] = (16, 32),
        cnn_pool: int = 4,
    ) -> None:
        super().__init__()
        if isinstance(n_modes, bool) or not isinstance(n_modes, int) or n_modes < 1:
            raise ValueError(f"pod_deeponet: n_modes must be a positive integer, got {n_modes!r}")
        n_sensors = _check_branch_options(branch, n_sensors, spatial_shape, cnn_channels, cnn_pool)
        self.in_channels, self.out_channels, self.n_dims = in_channels, out_channels, n_dims
        self.n_modes = n_modes
        self.branch = _build_branch(
            kind=branch,
            in_channels=in_channels,
            n_dims=n_dims,
            n_sensors=n_sensors,
            widths=[*_widths("branch_layers", branch_layers), n_modes],
            activation=_activation(activation),
            stacked=stacked,
            cnn_channels=list(cnn_channels),
            cnn_pool=cnn_pool,
        )
        self.branch_input = _BranchInput(branch, in_channels, n_dims, n_sensors)
        # Empty until fit_pod; _load_from_state_dict resizes them to a checkpoint's shapes.
        self.register_buffer("pod_modes", torch.empty(0, 0))  # (K, C_out * prod(S_out))
        self.register_buffer("pod_mean", torch.empty(0))  # (C_out * prod(S_out),)
        self.register_buffer("pod_shape", torch.empty(0, dtype=torch.long))  # S_out
        self._out_shape: tuple[int, ...] = ()  # pod_shape as ints: no device sync per forward

    @property
    def is_fitted(self) -> bool:
        return self.pod_modes.numel() > 0

    @torch.no_grad()
    def fit_pod(self, y_train: torch.Tensor, n_modes: int | None = None) -> torch.Tensor:
        r"""Compute the POD basis of the training outputs and store it.

        With the centred snapshot matrix :math:`Y - \bar y = U \Sigma V^\top` (samples × points),
        the modes are the first ``K`` rows of :math:`V^\top` times :math:`\sqrt{P}` (``P`` points
        × channels).

        Parameters
        ----------
        y_train:
            Training outputs ``(N, C_out, *S_out)``, ``N > n_modes``.
        n_modes:
            Optional check: must equal the ``n_modes`` the model was built with.

        Returns
        -------
        torch.Tensor
            The fraction of the training variance captured by each kept mode, ``(K,)``.
        """
        if n_modes is not None and n_modes != self.n_modes:
            raise ValueError(
                f"pod_deeponet was built with n_modes={self.n_modes} (the branch output width), "
                f"fit_pod got n_modes={n_modes}"
            )
        if y_train.ndim < 3 or y_train.shape[1] != self.out_channels:
            raise ValueError(
                f"pod_deeponet.fit_pod expects y_train of shape (N, {self.out_channels}, *S), "
                f"got {tuple(y_train.shape)}"
            )
        snapshots = y_train.flatten(1)
        n_samples, n_points = snapshots.shape
        if self.n_modes > min(n_samples - 1, n_points):
            raise ValueError(
                f"pod_deeponet: n_modes={self.n_modes} exceeds the rank available from "
                f"{n_samples} samples of {n_points} values (at most {min(n_samples - 1, n_points)})"
            )
        # The SVD runs in float64 for accurate trailing modes; buffers follow the model's dtype.
        snapshots = snapshots.double()
        mean = snapshots.mean(dim=0)
        _, s, vh = torch.linalg.svd(snapshots - mean, full_matrices=False)
        energy = s.square()
        ref = next(self.branch.parameters())
        self.pod_modes = (vh[: self.n_modes] * math.sqrt(n_points)).to(ref)
        self.pod_mean = mean.to(ref)
        self.pod_shape = torch.tensor(y_train.shape[2:], dtype=torch.long, device=ref.device)
        self._out_shape = tuple(y_train.shape[2:])
        return (energy[: self.n_modes] / energy.sum()).to(ref)

    def project(self, y: torch.Tensor) -> torch.Tensor:
        """POD coefficients ``(B, K)`` of fields ``y`` ``(B, C_out, *S_out)`` (least squares)."""
        self._require_fit()
        return (y.flatten(1) - self.pod_mean) @ self.pod_modes.T / self.pod_modes.shape[1]

    def reconstruct(self, coefficients: torch.Tensor) -> torch.Tensor:
        """Fields ``(B, C_out, *S_out)`` from POD coefficients ``(B, K)``."""
        self._require_fit()
        flat = coefficients @ self.pod_modes + self.pod_mean
        return flat.reshape(flat.shape[0], self.out_channels, *self._out_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, C_in, *S_in)`` → ``(B, C_out, *S_out)``."""
        return self.reconstruct(self.branch(self.branch_input(x)))

    def _require_fit(self) -> None:
        if not self.is_fitted:
            raise RuntimeError(
                "pod_deeponet has no POD basis yet: call model.fit_pod(y_train) with the training "
                "outputs (N, C_out, *S) before training or inference"
            )

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        # The POD buffers' shapes depend on the data, unknown when the model is built from its
        # spec; take them from the checkpoint so a saved model loads into a fresh one.
        for name in ("pod_modes", "pod_mean", "pod_shape"):
            saved = state_dict.get(prefix + name)
            if saved is not None:
                own = getattr(self, name)
                setattr(self, name, torch.empty_like(saved, device=own.device, dtype=own.dtype))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._out_shape = tuple(self.pod_shape.tolist())


MODELS.register("deeponet")(strict_config("deeponet")(DeepONet))
MODELS.register("pod_deeponet")(strict_config("pod_deeponet")(PODDeepONet))
