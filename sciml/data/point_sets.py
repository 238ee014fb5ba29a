"""Context/target point sets drawn from space-time grid files, for neural processes.

A neural process (ProbConserv's attentive neural process: Hansen et al., ICML 2023, arXiv
2302.11002, App. D) sees a function through a *context* set of points ``(t, x)`` with values
``u`` and predicts it at *target* points. This dataset draws both sets from the trajectories of a
grid file (e.g. the ``gpme_*`` recipes' ``u`` on a ``(t, x)`` grid), as the paper does: ``n_t``
times, one drawn uniformly from each of ``n_t`` equal blocks of the file's time indices
(stratified), times ``n_s`` distinct grid positions drawn uniformly and sorted, the same
positions at every time; ``n_t · n_s`` points. The draw of function ``i`` depends only on
``(seed, trajectory index)``, so the sets are fixed and identical on every machine.

Sample::

    context_x  (N_c, 1 + d)    points (t, x, ...) of the context set, physical units, time first
    context_y  (N_c, C)        the output fields there
    target_x   (N_t, 1 + d)    target points: a drawn set, or every grid point (t-major)
    y          (N_t, C)        the output fields there (the targets' values)
    <scalar>   ()              each per-trajectory scalar named in ``inputs`` (e.g. the PDE
                               parameter a conservation target needs; the model does not see it)
    coords     (1 + d, T, *S)  only with grid targets: the space-time grid, time first (as
                               :class:`~sciml.data.space_time.SpaceTimeDataset`), so the target
                               values reshape to ``(C, T, *S)`` fields

Targets: ``targets="sampled"`` (drawn like the context, independently), ``"grid"`` (every grid
point: evaluation on the full ``(t, x)`` grid, where a per-time-slice update such as ProbConserv
applies), or ``None``: sampled for the ``train``/``val`` splits, the grid for ``test``/``all``.

Sampling: ``sampling="grid"`` (default) draws the set's times and positions among the file's grid
points, as above. ``sampling="continuous"`` draws them in the continuous domain, as the paper's
code does (``deep_pdes/datasets``): ``n_t`` times, one uniform in each of ``n_t`` equal intervals
of ``[t0, t1]``, times ``n_s`` sorted uniform positions in ``[x0, x1]``
(:func:`sciml.data.recipes.gpme.space_time_points`), valued by the closed form that wrote the file
(the ``gpme_*`` recipes, :func:`sciml.data.recipes.gpme.file_problem`) at each function's stored
parameter; still a function of ``(seed, trajectory index)`` only. It applies to the context sets
and to sampled targets; grid targets stay the file's grid points and values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor

from sciml.data.format import DataFileError
from sciml.data.grid import GridDatasetBase
from sciml.data.recipes.base import block_generator
from sciml.data.recipes.gpme import file_problem, space_time_points
from sciml.registry import DATASETS

__all__ = ["SAMPLING", "SpaceTimePointSets", "TARGETS"]

TARGETS = ("sampled", "grid")
SAMPLING = ("grid", "continuous")


@DATASETS.register("space_time_points")
class SpaceTimePointSets(GridDatasetBase):
    """Context/target point sets of the trajectories of a grid file (module docstring).

    Parameters
    ----------
    path:
        Dataset file written by :mod:`sciml.data.format` (a cartesian grid).
    inputs:
        Per-trajectory scalars carried in each sample under their own names (may be empty).
    outputs:
        Time-varying fields whose values the points carry (``C`` channels in all).
    context_points, target_points:
        ``(n_t, n_s)``: times and grid positions of a drawn set (ProbConserv: 10 × 10 each);
        ``target_points`` is used (and checked) with sampled targets only.
    targets:
        ``"sampled"``, ``"grid"`` or ``None`` (by split; module docstring).
    sampling:
        ``"grid"`` (the file's grid points) or ``"continuous"`` (uniform in the domain, valued by
        the closed form of a ``gpme_*`` file; one output ``u``, one space dimension; module
        docstring).
    seed:
        Seed of the draws.
    split, test_fraction, n_train, n_test, n_val, subsample, in_memory, check_finite, dtype:
        As in :class:`~sciml.data.grid.GridPairDataset`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        inputs: Sequence[str],
        outputs: Sequence[str],
        *,
        split: str = "train",
        test_fraction: float | None = None,
        n_train: int | None = None,
        n_test: int | None = None,
        n_val: int = 0,
        context_points: Sequence[int] = (10, 10),
        target_points: Sequence[int] = (10, 10),
        targets: str | None = None,
        sampling: str = "grid",
        seed: int = 0,
        subsample: int | Sequence[int] = 1,
        in_memory: bool = False,
        check_finite: bool = True,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(
            path,
            split=split,
            test_fraction=test_fraction,
            n_train=n_train,
            n_test=n_test,
            n_val=n_val,
            subsample=subsample,
            in_memory=in_memory,
            check_finite=check_finite,
            dtype=dtype,
        )
        if self.file.grid_type == "unstructured":
            raise DataFileError(self.path, "space_time_points needs a cartesian grid", "grid_type")
        if targets not in (None, *TARGETS):
            raise ValueError(
                f"{self.path}: targets must be one of {list(TARGETS)} or None (by split), "
                f"got {targets!r}"
            )
        self.targets = targets or ("grid" if split in ("test", "all") else "sampled")
        scalars = [name for name in inputs if name not in self.file.scalars]
        if scalars:
            raise DataFileError(
                self.path,
                f"inputs {scalars} are not per-trajectory scalars; space_time_points carries "
                f"scalars only (the model sees the point sets); available: "
                f"{sorted(self.file.scalars)}",
                scalars[0],
            )
        self.inputs = list(inputs)
        self.outputs = self._check_names(outputs, "output", allow_scalars=False)
        self._require_time_varying(self.outputs, "output")
        if sampling not in SAMPLING:
            raise ValueError(
                f"{self.path}: sampling must be one of {list(SAMPLING)}, got {sampling!r}"
            )
        self.sampling = sampling
        n_times, n_space = len(self.time), int(self.coords[0].numel())
        limits = (n_times, n_space) if sampling == "grid" else None
        self.context_points = self._check_points(context_points, "context_points", limits)
        self.target_points = (
            self._check_points(target_points, "target_points", limits)
            if self.targets == "sampled"
            else None
        )
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"{self.path}: seed must be an integer, got {seed!r}")
        self.seed = seed
        self._drawn = self._draw_continuous() if sampling == "continuous" else {}
        # every point (t, x, ...) of the grid, t-major: (T, N_s, 1 + d)
        t = self.time.to(self.dtype)[:, None, None].expand(n_times, n_space, 1)
        space = self.coords.flatten(1).T[None].expand(n_times, n_space, -1)
        self._points = torch.cat([t, space], dim=-1)
        shape = (n_times, *self.spatial_shape)
        grid_t = self.time.to(self.dtype).reshape(1, n_times, *([1] * len(self.spatial_shape)))
        self.space_time_coords = torch.cat(
            [grid_t.expand(1, *shape), self.coords.unsqueeze(1).expand(-1, *shape)]
        ).contiguous()  # (1 + d, T, *S)

    def _check_points(
        self, points: Sequence[int], name: str, limits: tuple[int, int] | None
    ) -> tuple[int, int]:
        """``(n_t, n_s)`` of a drawn set; ``limits``: the file's times and positions (grid
        sampling), ``None`` for continuous sampling (any positive counts)."""
        ok = (
            isinstance(points, Sequence)
            and len(points) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in points)
        )
        if limits is None:
            if not ok:
                raise ValueError(
                    f"{self.path}: {name} must be [n_t, n_s], positive counts of times and "
                    f"positions, got {points!r}"
                )
        elif not ok or points[0] > limits[0] or points[1] > limits[1]:
            raise ValueError(
                f"{self.path}: {name} must be [n_t, n_s], 1 <= n_t <= {limits[0]} times and "
                f"1 <= n_s <= {limits[1]} grid positions of the file, got {points!r}"
            )
        return int(points[0]), int(points[1])

    def _draw_continuous(self) -> dict[str, Tensor]:
        """Continuous sets of every function, from the file's closed form (module docstring).

        Returns ``context_x (N, N_c, 2)``, ``context_y (N, N_c, 1)`` and, with sampled targets,
        ``target_x (N, N_t, 2)``, ``y (N, N_t, 1)``; points ``(t, x)`` in the file's units.
        """
        try:
            spec = file_problem(self.file.dataset_name)
        except ValueError as err:
            raise DataFileError(self.path, f"sampling 'continuous': {err}", "sampling") from None
        if self.outputs != ["u"]:
            raise DataFileError(
                self.path,
                f"sampling 'continuous' values the closed form u only; outputs must be ['u'], "
                f"got {self.outputs}",
                "outputs",
            )
        grid = (float(self.time[0]), float(self.time[-1]))
        space = (float(self.coords[0].min()), float(self.coords[0].max()))
        for name, have, want in (("time", grid, spec.t_range), ("x", space, spec.x_range)):
            if max(abs(h - w) for h, w in zip(have, want, strict=True)) > 1e-6 * (1 + want[1]):
                raise DataFileError(
                    self.path,
                    f"sampling 'continuous' draws in the {spec.name} domain {name} in {want}; "
                    f"the file's grid spans {have}",
                    name,
                )
        params = torch.as_tensor(self.file.scalars[spec.parameter], dtype=torch.float64)
        params = params.reshape(-1)[list(self.trajectories)][:, None, None]  # (N, 1, 1)
        kinds = {"context": self.context_points}
        if self.targets == "sampled":
            kinds["target"] = self.target_points
        points: dict[str, list[Tensor]] = {kind: [] for kind in kinds}
        for traj in self.trajectories:
            gen = block_generator(self.seed, traj)
            for kind, (n_t, n_s) in kinds.items():
                points[kind].append(space_time_points(spec, 1, n_t, n_s, generator=gen)[0])
        drawn: dict[str, Tensor] = {}
        for kind, names in (("context", ("context_x", "context_y")), ("target", ("target_x", "y"))):
            if kind in points:
                pts = torch.stack(points[kind])  # (N, P, 2) float64
                u = spec.solution(pts[..., :1], pts[..., 1:], params)  # (N, P, 1)
                drawn[names[0]], drawn[names[1]] = pts.to(self.dtype), u.to(self.dtype)
        return drawn

    def __len__(self) -> int:
        return len(self.trajectories)

    def _draw(self, n_t: int, n_s: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
        """Stratified time indices ``(n_t,)`` and sorted distinct flat space indices ``(n_s,)``."""
        n_times, n_space = self._points.shape[:2]
        edges = torch.linspace(0, n_times, n_t + 1, dtype=torch.float64)
        width = edges.diff()
        times = (edges[:-1] + width * torch.rand(n_t, generator=gen, dtype=torch.float64)).long()
        space = torch.randperm(n_space, generator=gen)[:n_s].sort().values
        return times.clamp_max(n_times - 1), space

    def __getitem__(self, i: int) -> dict[str, Tensor]:
        traj = self.trajectories[i]
        values = self._channels(self.outputs, traj, slice(None))  # (T, C, *S)
        values = values.flatten(2).transpose(1, 2)  # (T, N_s, C)
        gen = block_generator(self.seed, traj)
        sample: dict[str, Tensor] = {name: drawn[i] for name, drawn in self._drawn.items()}
        if self.sampling == "grid":
            times, space = self._draw(*self.context_points, gen)
            sample["context_x"] = self._points[times][:, space].reshape(-1, self._points.shape[-1])
            sample["context_y"] = values[times][:, space].reshape(-1, values.shape[-1])
        if self.targets == "grid":
            sample["target_x"] = self._points.reshape(-1, self._points.shape[-1])
            sample["y"] = values.reshape(-1, values.shape[-1])
            sample["coords"] = self.space_time_coords
        elif self.sampling == "grid":
            times, space = self._draw(*self.target_points, gen)
            sample["target_x"] = self._points[times][:, space].reshape(-1, self._points.shape[-1])
            sample["y"] = values[times][:, space].reshape(-1, values.shape[-1])
        for name in self.inputs:
            value = torch.as_tensor(self.file.scalars[name]).reshape(-1)
            sample[name] = (value[traj] if value.numel() > 1 else value[0]).to(self.dtype)
        return sample
