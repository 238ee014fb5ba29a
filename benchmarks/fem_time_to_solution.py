"""FEM time to solution, sciml vs scikit-fem: P1 Poisson from a mesh to the nodal solution.

Run from the repository root (CPU; GPUs hidden; one BLAS/torch thread on both sides)::

    .venv/bin/python benchmarks/fem_time_to_solution.py                      # 2D 1e5, 3D 1e5
    .venv/bin/python benchmarks/fem_time_to_solution.py --cases 2:1e6         # 2D 1e6
    .venv/bin/python benchmarks/fem_time_to_solution.py --cases 2:1e4 --repeats 3   # smoke run

Problem: ``-Δu = 1`` on the unit square (``unit_square(n)``, 2 n² triangles) or cube
(``unit_cube(n)``, 6 n³ tetrahedra) with the interior nodes jittered by ``perturb_interior(mesh,
0.2)`` (seeded; on the exact structured grid scikit-fem's CSR drops the exactly-zero entries of
right angles, see ``benchmarks/fem_vs_scikit_fem.py``), ``u = 0`` on the whole boundary, float64.
Both sides get the same points and cells.

One timed call = everything from a fresh mesh object (built outside the timer, so no cached
boundary facets or quadrature data survive between calls) to the nodal solution:

* ours: ``Assembler(FunctionSpace(mesh, 1))`` + ``stiffness(1.0)`` + ``load(1.0)`` +
  ``DirichletCondensation(pattern, boundary_dofs())`` + ``reduce`` + ``SparseSolver(method,
  tol)`` + ``expand`` (``--method auto``: AMG-preconditioned CG above 2e4 rows, relative residual
  ``--tol``, default 1e-10);
* scikit-fem: ``Basis(mesh, P1)`` + ``asm(laplace)`` + ``asm(load)`` + ``get_dofs()`` +
  ``condense`` + ``solve`` (``scipy.sparse.linalg.spsolve``: SuperLU, or UMFPACK when
  scikit-umfpack is installed; the header says which).

The two sides alternate (ours, scikit-fem, ours, ...) after one untimed warm-up each, so load from
other processes hits both alike. Reported: median wall time and median process CPU time of
``--repeats`` calls (default 5), their ratios (scikit-fem / ours: > 1 means ours is faster), the
first-assembly times alone (``Assembler`` + stiffness + load vs ``Basis`` + two ``asm``) and the
max abs difference of the two solutions (the iterative solve stops at ``‖r‖ ≤ tol‖b‖``).
"""

from __future__ import annotations

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy/SciPy load: one thread on both sides

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import skfem  # noqa: E402
import torch  # noqa: E402
from _env import cpu_model, version  # noqa: E402  (benchmarks/ is the script's folder)
from skfem.models.poisson import laplace, unit_load  # noqa: E402

from sciml.solvers.fem import (  # noqa: E402
    Assembler,
    DirichletCondensation,
    FunctionSpace,
    Mesh,
    SparseSolver,
    perturb_interior,
    unit_cube,
    unit_square,
)

torch.set_num_threads(1)
DTYPE = torch.float64


def _mesh(dim: int, dofs: float) -> Mesh:
    n = max(1, round(dofs ** (1.0 / dim)) - 1)
    mesh = (unit_square if dim == 2 else unit_cube)(n, dtype=DTYPE)
    return perturb_interior(mesh, 0.2, generator=torch.Generator().manual_seed(n))


def ours(mesh: Mesh, solver: SparseSolver) -> tuple[np.ndarray, float]:
    """Nodal solution and the time of the first assembly (Assembler + stiffness + load)."""
    t0 = time.perf_counter()
    asm = Assembler(FunctionSpace(mesh, 1))
    values, rhs = asm.stiffness(1.0), asm.load(1.0)
    t_asm = time.perf_counter() - t0
    cond = DirichletCondensation(asm.pattern, asm.space.boundary_dofs())
    vals_ff, rhs_f = cond.reduce(values, rhs)
    return cond.expand(solver(cond.reduced, vals_ff, rhs_f))[0].numpy(), t_asm


def scikit_fem(mesh: skfem.Mesh, dim: int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    basis = skfem.Basis(mesh, skfem.ElementTriP1() if dim == 2 else skfem.ElementTetP1())
    a, b = skfem.asm(laplace, basis), skfem.asm(unit_load, basis)
    t_asm = time.perf_counter() - t0
    return skfem.solve(*skfem.condense(a, b, D=basis.get_dofs())), t_asm


def timed(fn: Callable[[], tuple[np.ndarray, float]]) -> tuple[float, float, float, np.ndarray]:
    w, c = time.perf_counter(), time.process_time()
    u, t_asm = fn()
    return time.perf_counter() - w, time.process_time() - c, t_asm, u


def run_case(dim: int, dofs: float, args: argparse.Namespace) -> str:
    mesh = _mesh(dim, dofs)
    points, cells = mesh.points, mesh.cells
    p_np, t_np = points.numpy().T.copy(), cells.numpy().T.copy()
    sk_cls = skfem.MeshTri if dim == 2 else skfem.MeshTet
    solver = SparseSolver(args.method, tol=args.tol)
    ours_runs, sk_runs = [], []
    for k in range(args.repeats + 1):  # run 0 is the warm-up
        fresh = Mesh(points, cells, boundaries=dict(mesh.boundaries), name="bench", check=False)
        with torch.no_grad():
            o = timed(lambda fresh=fresh: ours(fresh, solver))
        s = timed(lambda: scikit_fem(sk_cls(p_np, t_np), dim))
        if k:
            ours_runs.append(o)
            sk_runs.append(s)
    med = lambda runs, i: statistics.median(r[i] for r in runs)  # noqa: E731
    diff = float(np.abs(ours_runs[-1][3] - sk_runs[-1][3]).max())
    info = solver.last_info
    return (
        f"| {dim}D | {mesh.n_points:,} | {mesh.n_cells:,} | {med(ours_runs, 0):.3f} | "
        f"{med(sk_runs, 0):.3f} | **{med(sk_runs, 0) / med(ours_runs, 0):.2f}** | "
        f"{med(sk_runs, 1) / med(ours_runs, 1):.2f} | {med(ours_runs, 2):.3f} | "
        f"{med(sk_runs, 2):.3f} | {med(sk_runs, 2) / med(ours_runs, 2):.2f} | "
        f"{info.method} ({info.iterations} it., residual {float(info.residual.max()):.1e}) | "
        f"{diff:.1e} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="2:1e5,3:1e5", help="dim:dofs, comma separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--method", default="auto")
    parser.add_argument("--tol", type=float, default=1e-10)
    args = parser.parse_args()
    try:
        import scikits.umfpack  # noqa: F401

        backend = "UMFPACK"
    except ImportError:
        backend = "SuperLU"
    print(
        f"CPU: {cpu_model()}; 1 thread each; torch {version('torch')}, scikit-fem "
        f"{version('scikit-fem')} ({backend}), pyamg {version('pyamg')}, scipy {version('scipy')}; "
        f"median of {args.repeats} alternating runs; method={args.method}, tol={args.tol:g}"
    )
    print(
        "| dim | DOFs | cells | ours [s] | scikit-fem [s] | ratio (wall) | ratio (CPU) | "
        "ours 1st assembly [s] | skfem 1st assembly [s] | assembly ratio | our solver | "
        "max diff |"
    )
    print("|---" * 12 + "|")
    for case in args.cases.split(","):
        dim, dofs = case.split(":")
        print(run_case(int(dim), float(dofs), args), flush=True)


if __name__ == "__main__":
    main()
