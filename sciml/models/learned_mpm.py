"""A differentiable MPM simulator whose constitutive law is a network, trained on trajectories.

NCLaw (Ma et al., ICML 2023) learns the law by simulating with it and matching particle positions
of one ground-truth trajectory at every step. :class:`LearnedMPM` is that training setup as a model
for the common :class:`~sciml.training.Trainer`:

* input: a batch of whole trajectories with their MPM state (keys of
  :data:`sciml.data.particle_states.STATE_KEYS`: ``position``/``velocity`` ``(B, T, P, d)``,
  ``affine``/``deformation`` ``(B, T, P, d, d)``, ``mass``/``volume`` ``(B, P)``);
* output: simulated positions of frames ``1 … T−1``, ``(B, T − 1, P, d)`` (m), compared with the
  ground truth by the spec's loss (``mse``: NCLaw's position MSE).

**Teacher forcing.** In training mode the simulated state is reset to the ground truth every
``λ`` frames, and backpropagation runs through each segment of ``λ`` frames. ``λ`` grows from
``teacher_forcing[0]`` to ``teacher_forcing[1]`` frames on a cosine schedule over training (NCLaw:
25 → 200 steps); the trainer reports progress through :meth:`set_training_progress`. The
``T − 1`` frames are cut into segments that all start from ground-truth states, so they are
simulated **as one batch** of ``B · ⌈(T − 1)/λ⌉`` scenes: the same loss and gradient as running
them one after the other, in one pass. In eval mode there is no reset: a free rollout from
frame 0, the quantity NCLaw reports.

**Diverged segments.** Early in training a freshly updated law can make some segments blow up
(a stiff law overshoots the stable time step; NCLaw's plasticine and sand at lr 1.0). With
``diverged_segments="stop"`` (the default) the loss is then NaN and the trainer stops, keeping
the last good checkpoint. With ``"skip"`` the segments that stay finite are simulated again and
trained on, and the diverged ones contribute nothing to that step's loss (their predicted frames
are the ground truth, with no gradient); :meth:`training_statistics` reports how many were
skipped, which the trainer logs as the ``skipped_segments`` column of ``metrics.csv``. If every
segment diverges the loss is NaN and the run stops as before. (NCLaw's code instead passes
gradients through ``nan_to_num``.)

**Optimizer groups.** :meth:`parameter_groups` gives the plastic network ``plastic_lr_scale`` times
the learning rate of the elastic one (NCLaw: Adam with 1.0 and 0.1).

The simulation settings (dimension, grid, time step, steps per saved frame, walls, gravity) are
those the dataset was generated with, read from the file by the workflow; only the law is learned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from sciml.data.particle_states import STATE_KEYS
from sciml.models.config import strict_config
from sciml.registry import MODELS
from sciml.solvers.mpm import Grid, MPMSimulator, MPMState, NonFiniteStateError, Walls

__all__ = ["DIVERGED_SEGMENTS", "LearnedMPM", "simulation_settings"]

#: what a training step may do with teacher-forced segments that blow up
DIVERGED_SEGMENTS = ("stop", "skip")


def simulation_settings(config: Mapping[str, Any], dim: int) -> dict[str, Any]:
    """The MPM setup recorded by the ``mpm2d``/``mpm3d`` recipes in a file's ``config``.

    Returns ``dim``, ``grid_n``, ``dt`` (s), ``substeps`` (steps per saved frame), ``walls`` and
    ``gravity`` (m/s², ``(d,)``, or ``None`` for −9.8 along the last axis): a plain dict, so it
    round-trips through a run's ``model.json``.
    """
    try:
        return {
            "dim": int(dim),
            "grid_n": int(config["grid_n"]),
            "dt": float(config["dt"]),
            "substeps": int(config.get("save_every", 1)),
            "walls": str(config.get("walls", "separate")),
            "gravity": config.get("gravity"),
        }
    except KeyError as err:
        raise ValueError(
            f"the dataset does not record the MPM setting {err.args[0]!r} in its config; "
            "was it written by the mpm2d/mpm3d recipe?"
        ) from None


class LearnedMPM(nn.Module):
    """MLS-MPM with a learned constitutive law, trained through rollouts (module docstring).

    Parameters
    ----------
    law:
        The constitutive-law module (``stress(F)``, ``project(F)``), e.g. :class:`~sciml.models.
        nclaw.NCLaw`.
    simulation:
        :func:`simulation_settings` of the training data.
    teacher_forcing:
        ``(λ_start, λ_end)`` reset interval in frames, cosine-scheduled over training.
    checkpoint_every:
        Steps per ``torch.utils.checkpoint`` segment of the rollout (bounded memory); ``None``
        stores the whole graph.
    plastic_lr_scale:
        Learning-rate ratio of the plastic to the elastic network.
    diverged_segments:
        ``"stop"`` or ``"skip"``: what a training step does with teacher-forced segments whose
        simulation blows up (module docstring).
    """

    input_keys = STATE_KEYS
    resolution_invariant = False

    def __init__(
        self,
        law: nn.Module,
        simulation: Mapping[str, Any],
        *,
        teacher_forcing: Sequence[int] = (25, 200),
        checkpoint_every: int | None = None,
        plastic_lr_scale: float = 0.1,
        diverged_segments: str = "stop",
    ) -> None:
        super().__init__()
        settings = dict(simulation)
        lo, hi = (int(v) for v in teacher_forcing)
        if not 1 <= lo <= hi:
            raise ValueError(
                f"teacher_forcing must be [start, end] with 1 <= start <= end, got {list(teacher_forcing)}"
            )
        if not plastic_lr_scale > 0:
            raise ValueError(f"plastic_lr_scale must be positive, got {plastic_lr_scale}")
        if diverged_segments not in DIVERGED_SEGMENTS:
            raise ValueError(
                f"diverged_segments must be one of {list(DIVERGED_SEGMENTS)}, "
                f"got {diverged_segments!r}"
            )
        self.settings = settings
        self.teacher_forcing = (lo, hi)
        self.checkpoint_every = checkpoint_every
        self.plastic_lr_scale = plastic_lr_scale
        self.diverged_segments = diverged_segments
        self._skipped_segments = 0
        self.law = law
        self.simulator = MPMSimulator(
            Grid(int(settings["dim"]), int(settings["grid_n"])),
            law,
            gravity=settings.get("gravity"),
            walls=Walls(str(settings.get("walls", "separate"))),
        )
        self.dt = float(settings["dt"])
        self.substeps = int(settings["substeps"])
        self.reset_interval = lo

    # --------------------------------------------------------------------------- training hooks
    def set_training_progress(self, fraction: float) -> None:
        """Set the reset interval for training progress ``fraction`` ∈ [0, 1] (cosine 25 → 200)."""
        lo, hi = self.teacher_forcing
        ramp = 0.5 * (1.0 - math.cos(math.pi * min(1.0, max(0.0, fraction))))
        self.reset_interval = int(round(lo + (hi - lo) * ramp))

    def training_statistics(self) -> dict[str, float]:
        """Counts since the last call, logged by the trainer: ``skipped_segments``."""
        stats = {"skipped_segments": float(self._skipped_segments)}
        self._skipped_segments = 0
        return stats

    def parameter_groups(self, lr: float) -> list[dict[str, Any]]:
        """Optimizer groups: the plastic network (if any) at ``plastic_lr_scale · lr``."""
        plastic = getattr(self.law, "plastic", None)
        plastic_params = list(plastic.parameters()) if isinstance(plastic, nn.Module) else []
        ids = {id(p) for p in plastic_params}
        groups = [{"params": [p for p in self.parameters() if id(p) not in ids], "lr": lr}]
        if plastic_params:
            groups.append({"params": plastic_params, "lr": lr * self.plastic_lr_scale})
        return groups

    # ---------------------------------------------------------------------------------- rollout
    def initial_state(
        self,
        position: torch.Tensor,
        velocity: torch.Tensor,
        affine: torch.Tensor,
        deformation: torch.Tensor,
        mass: torch.Tensor,
        volume: torch.Tensor,
    ) -> MPMState:
        """The :class:`MPMState` of ``(B, P, …)`` arrays of one frame (time 0)."""
        return MPMState(
            x=position,
            v=velocity,
            C=affine,
            F=deformation,
            mass=mass,
            volume=volume,
            time=position.new_zeros(position.shape[0]),
        )

    def simulate(self, state: MPMState, n_frames: int) -> torch.Tensor:
        """Positions ``(B, n_frames, P, d)`` of the ``n_frames`` frames after ``state``.

        A law can make the simulation blow up (early in training, or far beyond the trained
        horizon). The frames from the first non-finite step on are then NaN — in every scene of
        the batch, which is stepped as one — so the loss is NaN: the trainer stops with its
        non-finite-loss error (keeping the last good checkpoint), and an evaluation reports the
        divergence instead of a number.
        """
        try:
            traj = self.simulator.rollout(
                state,
                n_frames * self.substeps,
                dt=self.dt,
                save_every=self.substeps,
                checkpoint_every=self.checkpoint_every if torch.is_grad_enabled() else None,
            )
        except NonFiniteStateError as err:
            valid = err.trajectory.x[:, 1:]
            missing = valid.new_full(
                (valid.shape[0], n_frames - valid.shape[1], *valid.shape[2:]), math.nan
            )
            return torch.cat([valid, missing], 1)
        return traj.x[:, 1:]

    def forward(
        self,
        position: torch.Tensor,
        velocity: torch.Tensor,
        affine: torch.Tensor,
        deformation: torch.Tensor,
        mass: torch.Tensor,
        volume: torch.Tensor,
    ) -> torch.Tensor:
        """Simulated positions of frames ``1 … T−1``, ``(B, T − 1, P, d)`` (module docstring)."""
        b, t = position.shape[:2]
        n_out = t - 1
        if n_out < 1:
            raise ValueError(f"a trajectory needs at least 2 frames, got {t}")
        if not self.training:
            state = self.initial_state(
                position[:, 0], velocity[:, 0], affine[:, 0], deformation[:, 0], mass, volume
            )
            return self.simulate(state, n_out)
        lam = min(self.reset_interval, n_out)
        starts = torch.arange(0, n_out, lam, device=position.device)
        if affine.shape[1] < t:
            raise ValueError(
                "teacher forcing resets the simulation to ground-truth states, but the data holds "
                "the MPM state (affine C, deformation F) of the first frame only; regenerate it "
                "with `--set save_state=true`"
            )
        s = len(starts)

        def at_starts(a: torch.Tensor) -> torch.Tensor:  # (B, T, ...) → (B·S, ...)
            return a[:, starts].flatten(0, 1)

        def per_segment(a: torch.Tensor) -> torch.Tensor:  # (B, ...) → (B·S, ...)
            return a.repeat_interleave(s, dim=0)

        state = self.initial_state(
            at_starts(position),
            at_starts(velocity),
            at_starts(affine),
            at_starts(deformation),
            per_segment(mass),
            per_segment(volume),
        )
        x = self.simulate(state, lam)  # (B·S, λ, P, d)
        if self.diverged_segments == "skip" and not bool(torch.isfinite(x).all()):
            finite = self.simulator.finite_scenes(state, lam * self.substeps, dt=self.dt)
            if bool(finite.any()):  # otherwise the NaN frames stop the run
                self._skipped_segments += int((~finite).sum())
                kept = finite.nonzero().squeeze(1)
                # ground-truth frames of every segment, (B·S, λ, P, d) like x
                steps = torch.arange(1, lam + 1, device=starts.device)
                frames = (starts[:, None] + steps).clamp(max=n_out)
                target = position[:, frames].flatten(0, 1).detach()
                x = target.index_put((kept,), self.simulate(state.select(kept), lam))
        return x.unflatten(0, (b, s)).flatten(1, 2)[:, :n_out]

    def extra_repr(self) -> str:
        s = self.settings
        return (
            f"dim={s['dim']}, grid_n={s['grid_n']}, dt={s['dt']:g}, substeps={s['substeps']}, "
            f"teacher_forcing={list(self.teacher_forcing)}"
        )


@MODELS.register("learned_mpm")
@strict_config("learned_mpm")
def build_learned_mpm(
    simulation: Mapping[str, Any],
    law: str = "nclaw",
    law_options: Mapping[str, Any] | None = None,
    teacher_forcing: Sequence[int] = (25, 200),
    checkpoint_every: int | None = None,
    plastic_lr_scale: float = 0.1,
    diverged_segments: str = "stop",
) -> LearnedMPM:
    """A :class:`LearnedMPM` with the registered law ``law`` (``nclaw``, ``mlp_law``, …) built
    with ``law_options`` and the data's dimension. ``simulation`` is filled in from the dataset."""
    options = dict(law_options or {})
    options.setdefault("dim", int(simulation["dim"]))
    return LearnedMPM(
        MODELS.get(law)(**options),
        simulation,
        teacher_forcing=teacher_forcing,
        checkpoint_every=checkpoint_every,
        plastic_lr_scale=plastic_lr_scale,
        diverged_segments=diverged_segments,
    )
