"""Pseudo-spectral solver throughput: sciml vs exponax (JAX) vs plain NumPy/SciPy (issue 4).

Run from the repository root, on an otherwise idle machine (CPU only; GPUs are hidden)::

    .venv/bin/pip install -e ".[bench]"        # exponax + jax/jaxlib (CPU), benchmark-only extra
    .venv/bin/python benchmarks/spectral_vs_peers.py --out docs/spectral_bench.md
    .venv/bin/python benchmarks/spectral_vs_peers.py --threads 1 --out docs/spectral_bench_t1.md
    .venv/bin/python benchmarks/spectral_vs_peers.py --quick           # smoke run, < 1 min

Flags: ``--quick`` (small batch/grid/step counts, to prove the script runs), ``--threads K``
(default: all cores the process may use; sets the CPU affinity to K cores, ``OMP_NUM_THREADS``
and friends and, for K = 1, XLA's single-thread flags *before* jax is imported, and
``torch.set_num_threads(K)`` / ``scipy.fft(workers=K)``), ``--repeats R`` (interleaved rounds of
one timed rollout per side, the medians are reported; default 5), ``--dtypes float64,float32`` (which precisions to run),
``--out FILE`` (also write the markdown report there).

Cases (the same initial data, time step, step count and scheme for every implementation):

(i) 1D viscous Burgers ``u_t + u u_x = nu u_xx`` on [0, 2 pi), nu = 0.1, ETDRK4, batch 256 x
    N = 1024, dt = 0.01, 100 steps to t_end = 1. Initial condition: the Cole-Hopf solution
    ``u = 2 nu e^{-nu t} sin x / (a + e^{-nu t} cos x)``, a = 2, at t = 0, replicated over the
    batch; error = max |u - u_exact(t_end)| over batch and grid
    (:func:`sciml.solvers.exact.burgers_cole_hopf`).

    * sciml: ``SpectralSolver(Burgers(Grid(N), nu), dt, "etdrk4")`` and
      ``rollout(u0, n_steps, save_every=n_steps)`` (conservative form ``-1/2 ik (u^2)^``, 2/3
      dealiasing, 32 contour points) under ``torch.inference_mode``.
    * exponax: ``exponax.stepper.Burgers(1, domain_extent=2 pi, num_points=N, dt,
      diffusivity=nu, convection_scale=1, conservative=True, order=4, num_circle_points=32)``.
      exponax writes ``u_t + b (1/2)(u^2)_x = nu u_xx`` (conservative=True), so b = 1 and
      diffusivity = nu is our equation term for term; the Cole-Hopf error column verifies it.
      ``dealiasing_fraction`` is set so that exponax keeps exactly our 2/3-rule modes (its
      default 2/3 keeps one mode fewer per axis; see ``exponax_dealiasing_fraction``).
      Batched with ``jax.vmap``, ``exponax.repeat(..., n_steps)`` (final state only, like ours)
      and ``jax.jit``.
    * numpy: ETDRK4 written below (Cox-Matthews, Kassam-Trefethen contour coefficients as in
      their ``kursiv.m``, M = 32), ``scipy.fft.rfft/irfft`` with ``workers=threads``.

(ii) 2D Navier-Stokes in vorticity form, 256^2, batch 8, nu = 1e-2, no forcing/drag, ETDRK4,
    dt = 0.01, 100 steps to t_end = 1. Initial condition: Taylor-Green vortex
    ``omega = 2 cos x cos y`` (exact solution ``omega e^{-2 nu t}``,
    :func:`sciml.solvers.exact.taylor_green_vorticity`), replicated over the batch. The
    Taylor-Green advection term vanishes analytically, but every implementation still evaluates
    the full dealiased nonlinear term (4 or 5 FFTs per stage), so the timing is that of a
    general flow; the error column therefore tests the linear part and round-off only. A second check runs a
    random band-limited vorticity field through sciml and exponax and reports their difference,
    which does exercise the nonlinear term.

    * exponax: ``exponax.stepper.NavierStokesVorticity(2, 2 pi, N, dt, diffusivity=nu, drag=0,
      vorticity_convection_scale=-1, order=4)`` (same ``dealiasing_fraction`` adjustment). exponax's convection term is
      ``b ([1, -1] . grad(Lap^{-1} w)) . grad w`` with ``u = +d_y(Lap^{-1} w)``,
      ``v = -d_x(Lap^{-1} w)``; our stream function is ``psi = -Lap^{-1} w`` with
      ``u = d_y psi``, ``v = -d_x psi``, so exponax's b = 1 is our equation with the advection
      sign flipped (equivalently, for -w). b = -1 is our equation exactly; the mapping check
      prints the difference for b = -1 (should be round-off) and b = +1 (should not).
    * numpy: the same ETDRK4 with ``scipy.fft.rfft2/irfft2``.

Timing: for each case and dtype every side first runs one untimed warm-up rollout of the full
length with the same shapes (for jax this is the jit compilation, excluded from the timing;
``block_until_ready`` marks the end of each jax run). The timed rollouts are then interleaved:
``--repeats`` rounds of one rollout per side (round ``r`` starts with side ``r mod 3``, so no
side always runs first), and each side's median wall time and median process CPU time over its
rounds are reported. A change of machine load thus hits all sides alike instead of the one that
happened to run during it. Throughput = batch * n_steps / time in *trajectory-steps/s*.
``ours/this`` = sciml's throughput (same dtype) / this row's throughput: >= 1 means sciml is
faster. ``ours/this (CPU time)`` is the same ratio from the median *process CPU time* (this
row's / ours): CPU time, unlike wall time, does not count the time slices other processes take
(it still counts their cache pollution). With ``--threads 1`` both are the single-core cost.

Precision: JAX computes in float32 unless ``jax_enable_x64`` is set; this script enables x64 (so
the float64 rows really are float64) and builds exponax's float32 steppers by casting all of the
stepper's arrays to float32/complex64. The dtype column is read from the result array of each
run. Compare like with like: each ratio is against sciml at the same dtype.
"""

from __future__ import annotations

import os
import sys

from _env import cpu_model, version  # noqa: E402  (benchmarks/ is the script's folder)


def _early_threads(argv: list[str]) -> int:
    """Parse ``--threads`` before torch/jax are imported and pin the process to that many cores."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        allowed = list(range(os.cpu_count() or 1))
    threads = len(allowed)
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
        elif arg.startswith("--threads="):
            threads = int(arg.split("=", 1)[1])
    threads = max(1, min(threads, len(allowed)))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, allowed[:threads])
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    if threads == 1:
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + flags).strip()
    os.environ["JAX_PLATFORMS"] = "cpu"
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    return threads


THREADS = _early_threads(sys.argv[1:])

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.fft  # noqa: E402
import torch  # noqa: E402

from sciml.solvers import exact  # noqa: E402
from sciml.solvers.spectral import Burgers, Grid, NavierStokes2D, SpectralSolver  # noqa: E402

TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}
COMPLEX = {"float64": np.complex128, "float32": np.complex64}
N_CIRCLE = 32  # Kassam-Trefethen contour points, all implementations


# ------------------------------------------------------------------------------------------------
# configuration and results


@dataclass
class Case:
    name: str
    batch: int
    n: int  # points per axis
    n_steps: int
    dt: float
    nu: float

    @property
    def t_end(self) -> float:
        return self.n_steps * self.dt


@dataclass
class Result:
    case: str
    impl: str
    dtype: str
    seconds: float | None = None
    steps_per_s: float | None = None
    cpu_seconds: float | None = None  # median process CPU time of the timed runs
    error: float | None = None
    note: str = ""


OURS, EXPONAX, NUMPY = "sciml (torch)", "exponax (JAX)", "NumPy/SciPy ETDRK4"


def burgers_case(quick: bool) -> Case:
    if quick:
        return Case("Burgers 1D", batch=16, n=256, n_steps=20, dt=0.05, nu=0.1)
    return Case("Burgers 1D", batch=256, n=1024, n_steps=100, dt=0.01, nu=0.1)


def ns_case(quick: bool) -> Case:
    if quick:
        return Case("NS 2D (Taylor-Green)", batch=2, n=64, n_steps=10, dt=0.01, nu=1e-2)
    return Case("NS 2D (Taylor-Green)", batch=8, n=256, n_steps=100, dt=0.01, nu=1e-2)


def grid_1d(n: int) -> np.ndarray:
    return 2 * np.pi * np.arange(n) / n


def burgers_exact(case: Case, t: float) -> np.ndarray:
    """Cole-Hopf solution (B, 1, N), float64, from sciml's closed form."""
    x = torch.as_tensor(grid_1d(case.n), dtype=torch.float64)
    u = exact.burgers_cole_hopf(x, t, case.nu)
    return np.broadcast_to(u.numpy(), (case.batch, 1, case.n)).copy()


def tg_exact(case: Case, t: float) -> np.ndarray:
    """Taylor-Green vorticity (B, 1, N, N), float64, axis -2 = x, axis -1 = y."""
    x = torch.as_tensor(grid_1d(case.n), dtype=torch.float64)
    w = exact.taylor_green_vorticity(x[:, None], x[None, :], t, case.nu)
    return np.broadcast_to(w.numpy(), (case.batch, 1, case.n, case.n)).copy()


def max_error(u: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(u, dtype=np.float64) - ref)))


@dataclass
class Side:
    """One implementation of one case and dtype: its prepared rollout and its timings."""

    impl: str
    run: Callable[[], np.ndarray] | None  # None: not available or failed (see ``note``)
    note: str = ""
    warmup: float = 0.0  # s, the untimed first rollout (jit compilation for jax)
    times: list[float] = field(default_factory=list)  # wall s per timed rollout
    cpu_times: list[float] = field(default_factory=list)  # process CPU s per timed rollout
    out: np.ndarray | None = None  # the last rollout's final state


def prepare(impl: str, build: Callable[[], Callable[[], np.ndarray]]) -> Side:
    """Build a side's rollout and run its untimed warm-up; failures become the side's note."""
    try:
        run = build()
        t0 = time.perf_counter()
        out = run()
        return Side(impl, run, warmup=time.perf_counter() - t0, out=out)
    except Exception as exc:  # noqa: BLE001 -- report and go on with the others
        return Side(impl, None, note=f"failed: {exc!r}"[:200])


def interleave(sides: list[Side], rounds: int) -> None:
    """``rounds`` rounds of one timed rollout per runnable side; round r starts at side r mod n."""
    for r in range(rounds):
        for side in sides[r % len(sides) :] + sides[: r % len(sides)]:
            if side.run is None:
                continue
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                side.out = side.run()
                side.times.append(time.perf_counter() - t0)
                side.cpu_times.append(time.process_time() - c0)
            except Exception as exc:  # noqa: BLE001
                side.run, side.note = None, f"failed: {exc!r}"[:200]


def result(case: Case, dtype: str, side: Side) -> Result:
    """The side's row: median wall and CPU time over its timed rollouts, dtype of its output."""
    res = Result(case.name, side.impl, dtype, note=side.note)
    if side.run is None or not side.times:
        return res
    res.dtype = str(side.out.dtype)
    res.seconds = statistics.median(side.times)
    res.cpu_seconds = statistics.median(side.cpu_times)
    res.steps_per_s = case.batch * case.n_steps / res.seconds
    if side.impl == EXPONAX:
        res.note = f"warm-up incl. jit {side.warmup:.1f} s (excluded)"
    return res


# ------------------------------------------------------------------------------------------------
# sciml (torch)


def ours(case: Case, kind: str, dtype: str, u0: np.ndarray) -> Callable[[], np.ndarray]:
    tdt = TORCH_DTYPES[dtype]
    if kind == "burgers":
        grid = Grid(case.n, length=2 * math.pi, dtype=tdt)
        eq = Burgers(grid, nu=case.nu)
    else:
        grid = Grid((case.n, case.n), length=2 * math.pi, dtype=tdt)
        eq = NavierStokes2D(grid, nu=case.nu, drag=0.0, forcing="none")
    solver = SpectralSolver(eq, case.dt, "etdrk4", n_circle_points=N_CIRCLE)
    state = torch.as_tensor(u0, dtype=tdt).contiguous()

    def run() -> np.ndarray:
        with torch.inference_mode():
            traj = solver.rollout(state, case.n_steps, save_every=case.n_steps)
        return traj[:, -1].numpy()

    return run


# ------------------------------------------------------------------------------------------------
# plain NumPy/SciPy ETDRK4


class NumpyETDRK4:
    """ETDRK4 (Cox & Matthews 2002) for u_hat' = L u_hat + N(u_hat) with diagonal real ``L``.

    Coefficients by the Kassam-Trefethen contour mean (``kursiv.m``: M points on the unit circle
    around each ``dt*L``), computed in complex128 and cast to ``dtype``.
    """

    def __init__(self, lin: np.ndarray, dt: float, nonlinear, dtype: str) -> None:
        lin = np.asarray(lin, dtype=np.float64)
        m = np.arange(1, N_CIRCLE + 1)
        roots = np.exp(1j * np.pi * (m - 0.5) / N_CIRCLE)
        lr = dt * lin[..., None] + roots  # contour points around every dt*L
        real = np.float64 if dtype == "float64" else np.float32
        self.e = np.exp(dt * lin).astype(real)
        self.e2 = np.exp(dt * lin / 2).astype(real)
        self.q = (dt * np.mean((np.exp(lr / 2) - 1) / lr, axis=-1).real).astype(real)
        ex = np.exp(lr)
        self.f1 = (
            dt * np.mean((-4 - lr + ex * (4 - 3 * lr + lr**2)) / lr**3, axis=-1).real
        ).astype(real)
        self.f2 = (dt * np.mean((2 + lr + ex * (lr - 2)) / lr**3, axis=-1).real).astype(real)
        self.f3 = (
            dt * np.mean((-4 - 3 * lr - lr**2 + ex * (4 - lr)) / lr**3, axis=-1).real
        ).astype(real)
        self.nonlinear = nonlinear

    def step(self, v: np.ndarray) -> np.ndarray:
        nl = self.nonlinear
        nv = nl(v)
        a = self.e2 * v + self.q * nv
        na = nl(a)
        b = self.e2 * v + self.q * na
        nb = nl(b)
        c = self.e2 * a + self.q * (2 * nb - nv)
        nc = nl(c)
        return self.e * v + self.f1 * nv + 2 * self.f2 * (na + nb) + self.f3 * nc


def _mask(modes: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    """2/3-rule mask: |m_i| < (2/3) N_i/2 on every axis (our convention)."""
    out = np.ones([len(m) for m in modes], dtype=bool)
    for axis, (m, n) in enumerate(zip(modes, shape)):
        view = [1] * len(modes)
        view[axis] = len(m)
        out = out & (np.abs(m) < (2 / 3) * n / 2).reshape(view)
    return out


def numpy_burgers(case: Case, dtype: str, u0: np.ndarray, threads: int):
    n = case.n
    m = np.arange(n // 2 + 1, dtype=np.float64)
    k = m.copy()  # L = 2 pi: k = m
    k_odd = np.where(m == n // 2, 0.0, k)
    mask = _mask([m], (n,))
    g = (-0.5j * k_odd).astype(COMPLEX[dtype])

    def nonlinear(v: np.ndarray) -> np.ndarray:
        u = scipy.fft.irfft(v * mask, n=n, axis=-1, workers=threads)
        return g * (scipy.fft.rfft(u * u, axis=-1, workers=threads) * mask)

    scheme = NumpyETDRK4(-case.nu * k**2, case.dt, nonlinear, dtype)
    real = np.float64 if dtype == "float64" else np.float32
    state = u0.astype(real)

    def run() -> np.ndarray:
        v = scipy.fft.rfft(state, axis=-1, workers=threads)
        for _ in range(case.n_steps):
            v = scheme.step(v)
        return scipy.fft.irfft(v, n=n, axis=-1, workers=threads)

    return run


def numpy_ns(case: Case, dtype: str, u0: np.ndarray, threads: int):
    n = case.n
    axes = (-2, -1)
    mx = np.fft.fftfreq(n, 1.0 / n)[:, None]
    my = np.arange(n // 2 + 1, dtype=np.float64)[None, :]
    kx, ky = mx, my  # L = 2 pi
    kx_odd = np.where(np.abs(mx) == n // 2, 0.0, kx)
    ky_odd = np.where(my == n // 2, 0.0, ky)
    k2 = kx**2 + ky**2
    inv_k2 = np.where(k2 > 0, 1 / np.where(k2 > 0, k2, 1), 0.0)
    mask = _mask([mx[:, 0], my[0]], (n, n))
    cplx = COMPLEX[dtype]
    ikx, iky = (1j * kx_odd).astype(cplx), (1j * ky_odd).astype(cplx)
    inv_k2 = inv_k2.astype(np.float64 if dtype == "float64" else np.float32)

    def irfft2(a: np.ndarray) -> np.ndarray:
        return scipy.fft.irfft2(a * mask, s=(n, n), axes=axes, workers=threads)

    def nonlinear(w: np.ndarray) -> np.ndarray:
        psi = w * inv_k2
        u, v = irfft2(iky * psi), irfft2(-ikx * psi)
        wx, wy = irfft2(ikx * w), irfft2(iky * w)
        return -(scipy.fft.rfft2(u * wx + v * wy, axes=axes, workers=threads) * mask)

    scheme = NumpyETDRK4(-case.nu * k2, case.dt, nonlinear, dtype)
    real = np.float64 if dtype == "float64" else np.float32
    state = u0.astype(real)

    def run() -> np.ndarray:
        w = scipy.fft.rfft2(state, axes=axes, workers=threads)
        for _ in range(case.n_steps):
            w = scheme.step(w)
        return scipy.fft.irfft2(w, s=(n, n), axes=axes, workers=threads)

    return run


# ------------------------------------------------------------------------------------------------
# exponax (JAX)


def load_exponax():
    """(jax, jnp, exponax) with x64 enabled, or the reason they are not available."""
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import exponax
        import jax.numpy as jnp
    except Exception as exc:  # noqa: BLE001 -- any import failure means "not available"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return jax, jnp, exponax


def _cast_stepper(jax, jnp, stepper, dtype: str):
    """The stepper with every float/complex array cast to ``dtype`` (x64 builds float64 ones)."""
    if dtype == "float64":
        return stepper
    real, cplx = jnp.float32, jnp.complex64

    def cast(leaf):
        if isinstance(leaf, jax.Array):
            if jnp.iscomplexobj(leaf):
                return leaf.astype(cplx)
            if jnp.issubdtype(leaf.dtype, jnp.floating):
                return leaf.astype(real)
        return leaf

    return jax.tree_util.tree_map(cast, stepper)


def exponax_dealiasing_fraction(n: int) -> float:
    """exponax's ``dealiasing_fraction`` that keeps exactly our 2/3-rule modes.

    We keep ``|m| < (2/3)(N/2)``, i.e. ``|m| <= M``; exponax keeps ``|m| <= fraction*(N/2) - 1``
    (inclusive cutoff), one mode fewer per axis with fraction = 2/3 (e.g. 340 vs 341 at N = 1024).
    ``fraction = (M + 1.5)/(N/2)`` puts its cutoff at ``M + 0.5``: the same modes, the same cost.
    """
    half = n // 2
    m_max = math.ceil(2 / 3 * half) - 1
    return (m_max + 1.5) / half


def exponax_stepper(mods, case: Case, kind: str, dtype: str, convection: float = 1.0):
    jax, jnp, ex = mods
    frac = exponax_dealiasing_fraction(case.n)
    if kind == "burgers":
        stepper = ex.stepper.Burgers(
            1,
            2 * math.pi,
            case.n,
            case.dt,
            diffusivity=case.nu,
            convection_scale=convection,
            conservative=True,
            order=4,
            dealiasing_fraction=frac,
            num_circle_points=N_CIRCLE,
        )
    else:
        stepper = ex.stepper.NavierStokesVorticity(
            2,
            2 * math.pi,
            case.n,
            case.dt,
            diffusivity=case.nu,
            vorticity_convection_scale=convection,
            drag=0.0,
            order=4,
            dealiasing_fraction=frac,
            num_circle_points=N_CIRCLE,
        )
    return _cast_stepper(jax, jnp, stepper, dtype)


def exponax_run(mods, stepper, n_steps: int, u0: np.ndarray, dtype: str):
    jax, jnp, ex = mods
    fn = jax.jit(ex.repeat(jax.vmap(stepper), n_steps))
    state = jnp.asarray(u0, dtype=jnp.float64 if dtype == "float64" else jnp.float32)

    def run() -> np.ndarray:
        return np.asarray(fn(state).block_until_ready())

    return run


def exponax_side(mods, case: Case, kind: str, dtype: str, u0: np.ndarray):
    """exponax's jitted, vmapped rollout (the jit compiles in the warm-up run)."""
    # Burgers: b = +1 is our equation; NS: b = -1 is (see the module docstring)
    stepper = exponax_stepper(
        mods, case, kind, dtype, convection=1.0 if kind == "burgers" else -1.0
    )
    return exponax_run(mods, stepper, case.n_steps, u0, dtype)


def ns_mapping_check(mods, quick: bool) -> str:
    """sciml vs exponax on a random band-limited vorticity field (float64), b = -1 and b = +1."""
    if isinstance(mods, str):
        return f"exponax NS mapping check: not available: {mods}"
    case = Case("NS mapping check", batch=2, n=64, n_steps=10 if quick else 50, dt=0.01, nu=1e-2)
    rng = np.random.default_rng(0)
    n = case.n
    spec = np.zeros((case.batch, 1, n, n // 2 + 1), dtype=np.complex128)
    lo = 6  # modes |m| <= 5 on both axes, random amplitudes
    spec[..., :lo, :lo] = rng.normal(size=(case.batch, 1, lo, lo)) + 1j * rng.normal(
        size=(case.batch, 1, lo, lo)
    )
    spec[..., -lo + 1 :, :lo] = rng.normal(size=(case.batch, 1, lo - 1, lo)) + 1j * rng.normal(
        size=(case.batch, 1, lo - 1, lo)
    )
    spec[..., 0, 0] = 0
    w0 = np.fft.irfft2(spec, s=(n, n), axes=(-2, -1))
    w0 = w0 / np.abs(w0).max() * 2.0  # |w| <= 2, like the Taylor-Green case
    grid = Grid((n, n), length=2 * math.pi, dtype=torch.float64)
    solver = SpectralSolver(NavierStokes2D(grid, nu=case.nu), case.dt, "etdrk4")
    with torch.inference_mode():
        ref = solver.rollout(torch.as_tensor(w0), case.n_steps, save_every=case.n_steps)
    ref = ref[:, -1].numpy()
    change = np.abs(ref - w0).max()
    parts = []
    for b in (-1.0, 1.0):
        stepper = exponax_stepper(mods, case, "ns", "float64", convection=b)
        out = exponax_run(mods, stepper, case.n_steps, w0, "float64")()
        parts.append(f"b={b:+g}: {np.abs(out - ref).max():.2e}")
    return (
        f"exponax NS mapping check (random band-limited w, 64^2, {case.n_steps} steps, float64; "
        f"max |sciml - exponax|, field changed by {change:.2e}): " + ", ".join(parts)
    )


# ------------------------------------------------------------------------------------------------
# report


def header(args: argparse.Namespace) -> list[str]:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    versions = ", ".join(
        f"{d} {version(d)}"
        for d in ("sciml", "torch", "numpy", "scipy", "jax", "jaxlib", "exponax", "equinox")
    )
    return [
        "# Pseudo-spectral solvers: sciml vs exponax vs NumPy/SciPy",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- date (UTC): {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M')}",
        f"- CPU: {cpu_model()}; {os.cpu_count()} logical cores; threads used: {THREADS} "
        f"(affinity {sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'})",
        f"- load average (1, 5, 15 min) at start: {load}",
        f"- python {platform.python_version()}; {versions}",
        f"- XLA_FLAGS=`{os.environ.get('XLA_FLAGS', '')}`; "
        f"OMP_WAIT_POLICY=`{os.environ.get('OMP_WAIT_POLICY', '')}`; "
        f"torch threads {torch.get_num_threads()}",
        f"- repeats: {args.repeats} interleaved rounds of one rollout per side (median); "
        f"quick: {args.quick}",
        "",
    ]


def table(results: list[Result], cases: list[Case]) -> list[str]:
    by_case = {c.name: c for c in cases}
    ours = {(r.case, r.dtype): r for r in results if r.impl == OURS and r.steps_per_s}
    lines = [
        "| case | implementation | dtype | batch x grid | steps x dt (t_end) | median s "
        "| trajectory-steps/s | max abs err vs exact | ours/this | ours/this (CPU time) | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        c = by_case[r.case]
        grid = f"{c.n}" if "1D" in c.name else f"{c.n}^2"
        base = ours.get((r.case, r.dtype))
        ratio = cpu_ratio = "-"
        if base is not None and r.steps_per_s and r.impl != OURS:
            ratio = f"{base.steps_per_s / r.steps_per_s:.2f}"
            if base.cpu_seconds and r.cpu_seconds:
                cpu_ratio = f"{r.cpu_seconds / base.cpu_seconds:.2f}"
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        lines.append(
            f"| {r.case} | {r.impl} | {r.dtype} | {c.batch} x {grid} "
            f"| {c.n_steps} x {c.dt:g} ({c.t_end:g}) | {fmt(r.seconds, '.3f')} "
            f"| {fmt(r.steps_per_s, ',.0f')} | {fmt(r.error, '.2e')} | {ratio} | {cpu_ratio} "
            f"| {r.note} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--threads", type=int, default=THREADS, help="CPU threads, all sides")
    parser.add_argument("--repeats", type=int, default=5, help="timed rollouts (median)")
    parser.add_argument("--dtypes", default="float64,float32", help="comma-separated")
    parser.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = parser.parse_args()
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    for d in dtypes:
        if d not in TORCH_DTYPES:
            parser.error(f"unknown dtype {d!r}; valid: {', '.join(TORCH_DTYPES)}")
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    torch.set_num_threads(THREADS)
    warnings.simplefilter("ignore", UserWarning)  # e.g. jax/equinox chatter
    mods = load_exponax()
    lines = header(args)
    if isinstance(mods, str):
        lines.append(f"- exponax: not available: {mods}")
        lines.append("")

    cases = [burgers_case(args.quick), ns_case(args.quick)]
    results: list[Result] = []
    for kind, case in zip(("burgers", "ns"), cases):
        exact_fn = burgers_exact if kind == "burgers" else tg_exact
        u0, ref = exact_fn(case, 0.0), exact_fn(case, case.t_end)
        for dtype in dtypes:
            numpy_build = numpy_burgers if kind == "burgers" else numpy_ns
            sides = [prepare(OURS, partial(ours, case, kind, dtype, u0))]
            if isinstance(mods, str):
                sides.append(Side(EXPONAX, None, note=f"not available: {mods}"))
            else:
                sides.append(prepare(EXPONAX, partial(exponax_side, mods, case, kind, dtype, u0)))
            sides.append(prepare(NUMPY, partial(numpy_build, case, dtype, u0, THREADS)))
            interleave(sides, args.repeats)
            for side in sides:
                res = result(case, dtype, side)
                if side.run is not None and side.out is not None:
                    res.error = max_error(side.out, ref)
                results.append(res)
                print(
                    f"  {res.case} | {res.impl} | {res.dtype}: {res.steps_per_s} steps/s, "
                    f"err {res.error}",
                    file=sys.stderr,
                    flush=True,
                )

    lines += table(results, cases)
    lines.append("")
    try:
        lines.append("- " + ns_mapping_check(mods, args.quick))
    except Exception as exc:  # noqa: BLE001
        lines.append(f"- exponax NS mapping check failed: {exc!r}")
    lines.append(
        "- error = max |u - u_exact(t_end)| over batch and grid (Cole-Hopf for Burgers, "
        "Taylor-Green for NS); float32 rows are limited by float32 round-off."
    )
    lines.append(f"- load average at end: {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out is not None:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
