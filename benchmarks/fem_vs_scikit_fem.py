"""sciml's finite elements against scikit-fem (and torch-fem) on the same meshes (issue 5).

Run from the repository root, on an otherwise idle machine (CPU only; GPUs are hidden)::

    .venv/bin/python benchmarks/fem_vs_scikit_fem.py --out docs/fem_bench.md   # default sizes
    .venv/bin/python benchmarks/fem_vs_scikit_fem.py --quick                   # smoke run, ~30 s
    .venv/bin/python benchmarks/fem_vs_scikit_fem.py --threads 1               # also report this
    .venv/bin/python benchmarks/fem_vs_scikit_fem.py --sizes 1e4,1e5 --threads 1  # 2D and 3D
    .venv/bin/python benchmarks/fem_vs_scikit_fem.py --sizes 1e6 --dims 2 --repeats 1 \\
        --no-darcy --solve-max-dofs 1e5                                     # 1e6 rows, one dim
                                                                            # at a time (memory)

Flags: ``--sizes`` / ``--sizes-3d`` (target DOF counts, comma separated, ``1e5`` style allowed;
``--sizes`` applies to 3D too unless ``--sizes-3d`` is given; default ``1e4,1e5`` in 2D and
``1e4,3e4`` in 3D; ``--dims 2`` or ``--dims 3`` to run one dimension only), ``--repeats R`` (median of R timed runs after one untimed warm-up run, default
3), ``--threads K`` (``torch.set_num_threads``, default all cores), ``--quad-degree Q`` (use the
same quadrature degree on both sides; default: each library's own default), ``--source one|sin``,
``--perturb A`` (interior nodes moved by up to ``A·h/2``, seeded; default 0.2; 0 = the
structured grid), ``--solve-max-dofs`` / ``--solve-max-dofs-3d`` (larger problems are assembled
but not solved: SuperLU's fill-in grows fast, in 3D especially; defaults 2e5 and 1.5e4),
``--darcy-n N`` (Darcy mesh, default 64), ``--darcy-batches 1,8,32``, ``--no-darcy``,
``--no-poisson`` / ``--no-stiffness`` (skip Part A / Part C), ``--elasticity-max-dofs`` /
``--elasticity-max-dofs-3d`` (largest elasticity rows of Part C; defaults 1e5 and 1.5e4: the
vector stiffness has 36 / 144 entries per cell and scikit-fem takes ~10 s at 1e4 nodes in 3D),
``--out FILE`` (also write the markdown there).

Run time (2-core box shared with other jobs, load average 5-7). ``--sizes 1e4,1e5 --threads 1``
(2D and 3D, 3D 1e5 assembled only, Darcy, Part C with elasticity up to 1e5 / 1e4 nodes): 12 min
wall, 2.0 GiB peak. The 1e6 rows are opt-in, one dimension per process: 2D with ``--repeats 1
--no-darcy --solve-max-dofs 1e5`` took 5.5 min and 3.7 GiB; 3D (5.8 M tetrahedra, assembled
only) took ~25 min and ~15 GiB peak (scikit-fem's basis and COO arrays, and ours kept alive
during the next timed call) -- mind the memory. Solving at 1e6 is possible in 2D
(``--solve-max-dofs 1e6``) but SuperLU's fill-in makes 3D solves beyond ~1e5 DOFs impractical.

What is timed, per mesh, one side after the other, in one process:

Part A -- P1 Poisson ``-Δu = f`` on the unit square (``unit_square(n)``, 2 n² right triangles)
and the unit cube (``unit_cube(n)``, 6 n³ Kuhn tetrahedra), interior nodes jittered by
``perturb_interior(mesh, --perturb)``, ``u = 0`` on the whole boundary, float64. The jitter
matters for the solve: on the exact structured grid a third of the off-diagonal stiffness entries
in 2D are exactly zero (cot 90° = 0), scikit-fem's COO → CSR drops them while our fixed pattern
keeps them, so its SuperLU sees a sparser matrix (less fill, ~2× faster at 1e5 DOFs) for a reason
that is specific to that mesh; the ``nnz`` column shows both counts. The scikit-fem mesh is
built from *our* points and cells (``skfem.MeshTri(points.T, cells.T)`` / ``MeshTet``), so both
sides solve the same discrete problem.

* assembly, first on a mesh -- ours: ``Assembler(FunctionSpace(mesh, 1))`` (dof map, sparsity
  pattern and element→nonzero map, computed once per mesh) + ``stiffness(1.0)`` + ``load(f)``
  (quadrature data computed on this first call); scikit-fem: ``Basis(mesh, ElementTriP1())``
  (its quadrature data) + ``asm(laplace, basis)`` + ``asm(load, basis)``.
* assembly, again on the same mesh -- ours: ``stiffness`` + ``load`` on the same ``Assembler``
  (pattern and quadrature data reused: one einsum and one ``index_add_`` each -- the point of the
  design); scikit-fem: ``asm`` + ``asm`` on the same ``Basis`` (it rebuilds a COO matrix and
  converts it to CSR every call).
* Dirichlet setup, once per mesh (own columns, not in the solve; one timed run, no warm-up, as
  it is a one-time cost and slow at 1e6 DOFs) -- ours:
  ``DirichletCondensation(pattern, space.boundary_dofs())`` (including the exterior-facet search,
  one sort of packed facet keys, done on the first call on a mesh and cached); scikit-fem:
  ``basis.get_dofs()`` (its first call on a mesh finds and caches the boundary facets).
* solve -- ours: ``reduce`` + ``SparseSolver("direct")`` (SciPy SuperLU, pattern → CSR/CSC
  conversion and residual check included) + ``expand``; scikit-fem: ``condense`` + ``solve``
  (``scipy.sparse.linalg.spsolve``: SuperLU as well unless scikit-umfpack is installed -- the
  header says which).

Ratios are scikit-fem time / our time (>= 1: ours is faster). The maximum absolute difference of
the two solutions is printed next to them: with ``--source one`` (f = 1, the default) both
quadratures integrate every term exactly, so it should be round-off (~1e-13); with
``--source sin`` (f = dπ² Π sin(πx_i), u = Π sin(πx_i)) it also contains the difference of two
quadrature rules for the load -- different points even at equal ``--quad-degree`` (8e-10 at 1e4
DOFs in 2D, far below the discretization error) -- and the nodal error against the exact
solution is printed for both sides (equal to 4 digits). Time per DOF shows whether each side scales linearly.

Part B -- batched Darcy throughput on one ``--darcy-n``² mesh: B piecewise-constant
permeabilities (12 / 3 per cell, random), f = 1, p = 0 on the boundary. Ours: one
``Darcy(mesh).solve(1.0, kappa=kappa)`` call with ``kappa`` of shape ``(B, n_cells)`` (B systems
assembled in one einsum and solved with one block-diagonal SuperLU); scikit-fem: a Python loop of
B × (``asm`` of ``κ ∇u·∇v`` with κ from an ``ElementTriP0`` field, ``condense``, ``solve``) with
the ``Basis``, the boundary dofs and the load vector built once outside the loop (as a user
would). Systems/s = B / median time; ratio = ours / scikit-fem (>= 1: ours is faster).

Part C -- the stiffness matrix alone, three codes on the same mesh: ours, scikit-fem and
torch-fem (column skipped, with the reason printed, when ``import torchfem`` fails). heat:
``∫ ∇u·∇v`` -- ours ``Assembler(FunctionSpace(mesh, 1)).stiffness(1.0)``; scikit-fem
``asm(laplace, Basis(mesh, P1))``; torch-fem ``PlanarHeat`` / ``SolidHeat`` with
``IsotropicConductivity2D/3D(kappa=1)``, ``model.assemble_matrix(model.k0(), [])`` (element
matrices + scatter into its CSR pattern, no constraint). elasticity: plane strain (2D) / solid
(3D), E = 1, ν = 0.3 -- ours ``elasticity_stiffness(Assembler(FunctionSpace(mesh, 1, d)), 1, 0.3)``;
scikit-fem ``asm(linear_elasticity(*lame_parameters(1, 0.3)), Basis(mesh, ElementVector(P1)))``;
torch-fem ``Planar`` / ``Solid`` with ``IsotropicElasticityPlaneStrain`` /
``IsotropicElasticity3D``. "1st" builds the object (sparsity pattern, quadrature data) and the
matrix; "again" only the matrix on the same object. All three use one quadrature point per cell
for these constant-coefficient P1 forms except scikit-fem (3 / 4 points, its default degree 2).
The max abs difference of each matrix to ours (same dof order) is printed (round-off).

Fairness caveats (repeat them next to the numbers): our tensors are torch (intra-op threads set
by ``--threads``), scikit-fem is NumPy (einsum is single-threaded); both solves are SciPy's
SuperLU, single-threaded, so solve ratios mostly measure the glue around it (our pattern →
CSR conversion and residual check vs scikit-fem's ``condense``); the default quadrature rules
differ (ours: the lowest degree exact for each form -- P1 stiffness with constant κ and load with
f = 1 on one point per cell; scikit-fem: degree 2·p for every form, 3 / 4 points -- the header
prints the points per cell; ``--quad-degree 2`` puts both on scikit-fem's rule), and our load
vector for f = 1 skips the evaluation of a function at the quadrature points while scikit-fem's
form still multiplies by 1.
"""

from __future__ import annotations

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import skfem  # noqa: E402
import torch  # noqa: E402
from _env import cpu_model, default_threads, version  # noqa: E402  (benchmarks/ is the script's folder)
from skfem.helpers import dot, grad  # noqa: E402
from skfem.models.elasticity import lame_parameters, linear_elasticity  # noqa: E402
from skfem.models.poisson import laplace  # noqa: E402
from torch import Tensor  # noqa: E402

from sciml.solvers.fem import (  # noqa: E402
    Assembler,
    Darcy,
    DirichletCondensation,
    FunctionSpace,
    Mesh,
    SparseSolver,
    elasticity_stiffness,
    perturb_interior,
    simplex_quadrature,
    unit_cube,
    unit_square,
)

DTYPE = torch.float64


# -- environment --------------------------------------------------------------------------------


def _has_umfpack() -> bool:
    try:
        import scikits.umfpack  # noqa: F401
    except ImportError:
        return False
    return True


def _median_time(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls after one untimed warm-up call, and the last result."""
    out = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _time_once(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# -- problem data -------------------------------------------------------------------------------
def _n_for_dofs(dofs: float, dim: int) -> int:
    """Cells per side so that the P1 mesh has about ``dofs`` nodes ((n+1)^dim)."""
    return max(1, round(dofs ** (1.0 / dim)) - 1)


def _source_torch(kind: str, dim: int):
    if kind == "one":
        return 1.0
    return lambda x: dim * math.pi**2 * torch.sin(math.pi * x).prod(dim=-1)


def _source_skfem(kind: str, dim: int) -> skfem.LinearForm:
    if kind == "one":

        @skfem.LinearForm
        def load(v, w):
            return 1.0 * v

    else:

        @skfem.LinearForm
        def load(v, w):
            s = np.sin(np.pi * w.x[0])
            for i in range(1, dim):
                s = s * np.sin(np.pi * w.x[i])
            return dim * np.pi**2 * s * v

    return load


def _exact(points: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * points).prod(axis=1)


def _mesh(dim: int, n: int, perturb: float) -> Mesh:
    """Unit square / cube with the interior nodes moved by up to ``perturb · h / 2`` (seeded)."""
    mesh = (unit_square if dim == 2 else unit_cube)(n, dtype=DTYPE)
    if perturb > 0:
        mesh = perturb_interior(mesh, perturb, generator=torch.Generator().manual_seed(n))
    return mesh


def _skfem_mesh(mesh: Mesh) -> skfem.Mesh:
    p = mesh.points.detach().cpu().numpy().T.copy()
    t = mesh.cells.cpu().numpy().T.copy()
    return skfem.MeshTri(p, t) if mesh.dim == 2 else skfem.MeshTet(p, t)


def _p1(dim: int) -> skfem.Element:
    return skfem.ElementTriP1() if dim == 2 else skfem.ElementTetP1()


def _p0(dim: int) -> skfem.Element:
    return skfem.ElementTriP0() if dim == 2 else skfem.ElementTetP0()


# -- Part A: Poisson ----------------------------------------------------------------------------
@dataclass
class PoissonRow:
    dim: int
    n: int
    dofs: int
    cells: int
    ours_first: float
    ours_again: float
    sk_first: float
    sk_again: float
    ours_solve: float | None = None
    sk_solve: float | None = None
    max_diff: float | None = None
    ours_err: float | None = None
    sk_err: float | None = None
    nnz: tuple[int, int] = (0, 0)
    ours_bc: float | None = None
    sk_bc: float | None = None


def poisson_case(dim: int, target: float, args: argparse.Namespace, solve: bool) -> PoissonRow:
    n = _n_for_dofs(target, dim)
    mesh = _mesh(dim, n, args.perturb)
    sk_mesh = _skfem_mesh(mesh)
    f_ours, f_sk = _source_torch(args.source, dim), _source_skfem(args.source, dim)
    q = args.quad_degree
    sk_kw = {} if q is None else {"intorder": q}
    reps = args.repeats

    # ours: first assembly on the mesh (dof map + pattern + quadrature data + values)
    def ours_first():
        asm = Assembler(FunctionSpace(mesh, 1), q)
        return asm, asm.stiffness(1.0), asm.load(f_ours)

    t_of, (asm, values, rhs) = _median_time(ours_first, reps)

    # ours: the same again on that Assembler (pattern and quadrature reused)
    t_oa, (values, rhs) = _median_time(lambda: (asm.stiffness(1.0), asm.load(f_ours)), reps)

    # scikit-fem: Basis (its quadrature data) + asm, then asm again on the same Basis
    def sk_first():
        basis = skfem.Basis(sk_mesh, _p1(dim), **sk_kw)
        return basis, skfem.asm(laplace, basis), skfem.asm(f_sk, basis)

    t_sf, (basis, a_sk, b_sk) = _median_time(sk_first, reps)
    t_sa, (a_sk, b_sk) = _median_time(
        lambda: (skfem.asm(laplace, basis), skfem.asm(f_sk, basis)), reps
    )
    row = PoissonRow(dim, n, mesh.n_points, mesh.n_cells, t_of, t_oa, t_sf, t_sa)
    row.nnz = (asm.pattern.nnz, int(a_sk.nnz))
    # Dirichlet setup, once per mesh on both sides (timed once, apart from the solves)
    row.ours_bc, cond = _time_once(
        lambda: DirichletCondensation(asm.pattern, asm.space.boundary_dofs())
    )
    row.sk_bc, dofs = _time_once(basis.get_dofs)
    if not solve:
        return row

    solver = SparseSolver("direct")

    def ours_solve():
        vals_ff, rhs_f = cond.reduce(values, rhs)
        return cond.expand(solver(cond.reduced, vals_ff, rhs_f))

    def sk_solve():
        return skfem.solve(*skfem.condense(a_sk, b_sk, D=dofs))

    with torch.no_grad():
        row.ours_solve, u_ours = _median_time(ours_solve, reps)
    row.sk_solve, u_sk = _median_time(sk_solve, reps)
    u_ours = u_ours[0].numpy()
    row.max_diff = float(np.abs(u_ours - u_sk).max())
    if args.source == "sin":
        exact = _exact(mesh.points.numpy())
        row.ours_err = float(np.abs(u_ours - exact).max())
        row.sk_err = float(np.abs(u_sk - exact).max())
    return row


# -- Part B: batched Darcy ----------------------------------------------------------------------
@dataclass
class DarcyRow:
    batch: int
    ours_time: float
    sk_time: float
    max_diff: float


def darcy_case(batch: int, args: argparse.Namespace) -> DarcyRow:
    mesh = _mesh(2, args.darcy_n, args.perturb)
    gen = torch.Generator().manual_seed(batch)
    kappa = torch.where(
        torch.rand(batch, mesh.n_cells, generator=gen, dtype=DTYPE) > 0.5, 12.0, 3.0
    )
    darcy = Darcy(mesh, solver=SparseSolver("direct"), quad_degree=args.quad_degree)
    with torch.no_grad():
        t_ours, u_ours = _median_time(lambda: darcy.solve(1.0, kappa=kappa), args.repeats)

    sk_mesh = _skfem_mesh(mesh)
    sk_kw = {} if args.quad_degree is None else {"intorder": args.quad_degree}
    basis = skfem.Basis(sk_mesh, _p1(2), **sk_kw)
    basis0 = basis.with_element(_p0(2))
    dofs = basis.get_dofs()
    b = skfem.asm(_source_skfem("one", 2), basis)
    kappa_np = kappa.numpy()

    @skfem.BilinearForm
    def weighted_laplace(u, v, w):
        return w.kappa * dot(grad(u), grad(v))

    def sk_loop():
        out = []
        for k in kappa_np:
            a = skfem.asm(weighted_laplace, basis, kappa=basis0.interpolate(k))
            out.append(skfem.solve(*skfem.condense(a, b, D=dofs)))
        return np.stack(out)

    t_sk, u_sk = _median_time(sk_loop, args.repeats)
    return DarcyRow(batch, t_ours, t_sk, float(np.abs(u_ours.numpy() - u_sk).max()))


# -- Part C: stiffness matrices against scikit-fem and torch-fem ------------------------------
@dataclass
class StiffnessRow:
    problem: str  # "heat" (scalar κ = 1) or "elasticity" (E = 1, ν = 0.3)
    dim: int
    dofs: int
    cells: int
    first: dict[str, float]  # library → seconds
    again: dict[str, float]
    max_diff: dict[str, float]  # library → max |K_ours - K_lib| (same dof order)


def _torchfem():
    """The torch-fem module, or ``None`` with the reason printed (the column is skipped)."""
    try:
        import torchfem
    except ImportError as err:
        print(f"  torch-fem column skipped: {err} (pip install torch-fem)", file=sys.stderr)
        return None
    return torchfem


def _torchfem_model(tf, problem: str, mesh: Mesh):
    from torchfem.materials import (
        IsotropicConductivity2D,
        IsotropicConductivity3D,
        IsotropicElasticity3D,
        IsotropicElasticityPlaneStrain,
    )

    nodes, cells = mesh.points, mesh.cells
    if problem == "heat":
        cls = tf.PlanarHeat if mesh.dim == 2 else tf.SolidHeat
        mat = (IsotropicConductivity2D if mesh.dim == 2 else IsotropicConductivity3D)(kappa=1.0)
    else:
        cls = tf.Planar if mesh.dim == 2 else tf.Solid
        mat = (IsotropicElasticityPlaneStrain if mesh.dim == 2 else IsotropicElasticity3D)(
            E=1.0, nu=0.3
        )
    return cls(nodes, cells, mat)


def _torchfem_matrix(model) -> Tensor:
    """torch-fem's global CSR matrix: element matrices (``k0``) + scatter, no constraint."""
    return model.assemble_matrix(model.k0(), torch.zeros(0, dtype=torch.long))


def _csr_diff(values: Tensor, pattern, other) -> float:
    """max |ours - other| over the union of both patterns (``other``: SciPy sparse, our order)."""
    ours = pattern.to_scipy(values)
    return float(abs(ours - other.tocsr()).max())


def stiffness_case(problem: str, dim: int, target: float, args: argparse.Namespace, tf):
    n = _n_for_dofs(target, dim)
    mesh = _mesh(dim, n, args.perturb)
    sk_mesh = _skfem_mesh(mesh)
    reps = args.repeats
    first: dict[str, float] = {}
    again: dict[str, float] = {}
    diff: dict[str, float] = {}
    if problem == "heat":

        def ours_first():
            asm = Assembler(FunctionSpace(mesh, 1), args.quad_degree)
            return asm, asm.stiffness(1.0)

        first["ours"], (asm, values) = _median_time(ours_first, reps)
        again["ours"], values = _median_time(lambda: asm.stiffness(1.0), reps)
        pattern = asm.pattern
        sk_elem, sk_form = _p1(dim), laplace
    else:

        def ours_first():
            asm = Assembler(FunctionSpace(mesh, 1, n_components=dim), args.quad_degree)
            return asm, elasticity_stiffness(asm, 1.0, 0.3)

        first["ours"], (asm, values) = _median_time(ours_first, reps)
        again["ours"], values = _median_time(lambda: elasticity_stiffness(asm, 1.0, 0.3), reps)
        pattern = asm.pattern
        sk_elem, sk_form = (
            skfem.ElementVector(_p1(dim)),
            linear_elasticity(*lame_parameters(1.0, 0.3)),
        )
    sk_kw = {} if args.quad_degree is None else {"intorder": args.quad_degree}

    def sk_first():
        basis = skfem.Basis(sk_mesh, sk_elem, **sk_kw)
        return basis, skfem.asm(sk_form, basis)

    first["skfem"], (basis, a_sk) = _median_time(sk_first, reps)
    again["skfem"], a_sk = _median_time(lambda: skfem.asm(sk_form, basis), reps)
    if problem == "elasticity":  # scikit-fem numbers vector dofs component-major
        perm = basis.nodal_dofs.T.reshape(-1)
        a_sk = a_sk[perm][:, perm]
    diff["skfem"] = _csr_diff(values, pattern, a_sk)
    if tf is not None:

        def tf_first():
            model = _torchfem_model(tf, problem, mesh)
            return model, _torchfem_matrix(model)

        first["torch-fem"], (model, k_tf) = _median_time(tf_first, reps)
        again["torch-fem"], k_tf = _median_time(lambda: _torchfem_matrix(model), reps)
        k_tf = k_tf.to_sparse_coo().coalesce()
        idx = k_tf.indices().numpy()
        k_sp = sp.coo_matrix((k_tf.values().numpy(), (idx[0], idx[1])), shape=k_tf.shape)
        diff["torch-fem"] = _csr_diff(values, pattern, k_sp)
    return StiffnessRow(problem, dim, mesh.n_points, mesh.n_cells, first, again, diff)


# -- report -------------------------------------------------------------------------------------
def _s(t: float | None) -> str:
    return "—" if t is None else f"{t:.4g}"


def _ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:.2f}"


def _us_per_dof(t: float | None, dofs: int) -> str:
    return "—" if t is None else f"{1e6 * t / dofs:.3g}"


def render(
    header: list[str],
    rows: list[PoissonRow],
    darcy: list[DarcyRow],
    stiff: list[StiffnessRow],
    args: argparse.Namespace,
) -> str:
    lines = list(header) + [""]
    if rows:
        lines += [
            "### P1 Poisson, zero Dirichlet (times: median seconds; ratio = scikit-fem / ours)",
            "",
            "| dim | n | DOFs | cells | nnz ours / skfem | ours asm 1st | skfem asm 1st "
            "| ratio 1st | ours asm again | skfem asm again | ratio again | ours solve "
            "| skfem solve | ratio solve | ours BC setup | skfem BC setup | max abs diff |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r.dim}D | {r.n} | {r.dofs} | {r.cells} | {r.nnz[0]} / {r.nnz[1]} | "
                f"{_s(r.ours_first)} | "
                f"{_s(r.sk_first)} | {_ratio(r.sk_first, r.ours_first)} | {_s(r.ours_again)} | "
                f"{_s(r.sk_again)} | {_ratio(r.sk_again, r.ours_again)} | {_s(r.ours_solve)} | "
                f"{_s(r.sk_solve)} | {_ratio(r.sk_solve, r.ours_solve)} | {_s(r.ours_bc)} | "
                f"{_s(r.sk_bc)} | "
                f"{'—' if r.max_diff is None else f'{r.max_diff:.2e}'} |"
            )
        if args.source == "sin":
            lines += [
                "",
                "| dim | DOFs | ours max nodal error | skfem max nodal error |",
                "|---|---|---|---|",
            ]
            for r in rows:
                if r.ours_err is not None:
                    lines.append(f"| {r.dim}D | {r.dofs} | {r.ours_err:.3e} | {r.sk_err:.3e} |")
        lines += [
            "",
            "### Scaling: microseconds per DOF (constant down a column = linear in DOFs)",
            "",
            "| dim | DOFs | ours asm 1st | ours asm again | skfem asm 1st | skfem asm again "
            "| ours solve | skfem solve |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            d = r.dofs
            lines.append(
                f"| {r.dim}D | {d} | {_us_per_dof(r.ours_first, d)} | "
                f"{_us_per_dof(r.ours_again, d)} | {_us_per_dof(r.sk_first, d)} | "
                f"{_us_per_dof(r.sk_again, d)} | {_us_per_dof(r.ours_solve, d)} | "
                f"{_us_per_dof(r.sk_solve, d)} |"
            )
    if darcy:
        n = args.darcy_n
        lines += [
            "",
            f"### Batched Darcy on {n}² ({(n + 1) ** 2} DOFs, {2 * n * n} cells): systems/s "
            "(ratio = ours / scikit-fem loop)",
            "",
            "| B | ours, one call (s) | ours systems/s | skfem loop (s) | skfem systems/s "
            "| ratio | max abs diff |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in darcy:
            lines.append(
                f"| {r.batch} | {r.ours_time:.4g} | {r.batch / r.ours_time:.4g} | "
                f"{r.sk_time:.4g} | {r.batch / r.sk_time:.4g} | "
                f"{r.sk_time / r.ours_time:.2f} | {r.max_diff:.2e} |"
            )
    if stiff:
        libs = ["ours", "skfem", "torch-fem"]
        lines += [
            "",
            "### Stiffness matrix only, P1, three codes on the same mesh (median seconds; "
            "ratio = other / ours)",
            "",
            "heat: `∫ ∇u·∇v` (κ = 1); elasticity: plane strain (2D) / solid (3D), E = 1, ν = 0.3. "
            "1st = pattern + quadrature data + matrix; again = the matrix on the same object.",
            "",
            "| problem | dim | nodes | cells | "
            + " | ".join(f"{lib} 1st" for lib in libs)
            + " | skfem/ours 1st | torch-fem/ours 1st | "
            + " | ".join(f"{lib} again" for lib in libs)
            + " | skfem/ours again | torch-fem/ours again | max diff skfem | max diff torch-fem |",
            "|" + "---|" * 18,
        ]
        for r in stiff:
            lines.append(
                f"| {r.problem} | {r.dim}D | {r.dofs} | {r.cells} | "
                + " | ".join(_s(r.first.get(lib)) for lib in libs)
                + f" | {_ratio(r.first.get('skfem'), r.first['ours'])} | "
                f"{_ratio(r.first.get('torch-fem'), r.first['ours'])} | "
                + " | ".join(_s(r.again.get(lib)) for lib in libs)
                + f" | {_ratio(r.again.get('skfem'), r.again['ours'])} | "
                f"{_ratio(r.again.get('torch-fem'), r.again['ours'])} | "
                + " | ".join(
                    "—" if lib not in r.max_diff else f"{r.max_diff[lib]:.1e}"
                    for lib in ("skfem", "torch-fem")
                )
                + " |"
            )
    return "\n".join(lines) + "\n"


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=_floats, default=None, help="2D target DOFs, e.g. 1e4,1e5")
    ap.add_argument("--sizes-3d", type=_floats, default=None, help="3D target DOFs")
    ap.add_argument("--dims", type=int, nargs="+", choices=[2, 3], default=[2, 3])
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (median)")
    ap.add_argument("--threads", type=int, default=default_threads(), help="torch threads")
    ap.add_argument("--quad-degree", type=int, default=None, help="same rule degree, both sides")
    ap.add_argument("--source", choices=["one", "sin"], default="one")
    ap.add_argument("--solve-max-dofs", type=float, default=2e5, help="2D: solve up to this")
    ap.add_argument("--solve-max-dofs-3d", type=float, default=1.5e4, help="3D: solve up to this")
    ap.add_argument(
        "--perturb", type=float, default=0.2, help="interior node jitter, fraction of h (0: none)"
    )
    ap.add_argument("--darcy-n", type=int, default=64, help="Darcy mesh: n x n squares")
    ap.add_argument("--darcy-batches", type=_floats, default=[1, 8, 32])
    ap.add_argument("--no-darcy", action="store_true")
    ap.add_argument(
        "--no-stiffness", action="store_true", help="skip the three-code stiffness table"
    )
    ap.add_argument(
        "--elasticity-max-dofs", type=float, default=1e5, help="2D elasticity rows up to this"
    )
    ap.add_argument(
        "--elasticity-max-dofs-3d", type=float, default=1.5e4, help="3D elasticity up to this"
    )
    ap.add_argument("--no-poisson", action="store_true", help="skip the Poisson table")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1e3, 1e4 DOFs, Darcy 16²")
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown here")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes = args.sizes or [1e3, 1e4]
        args.sizes_3d = args.sizes_3d or [1e3, 1e4]
        args.repeats = min(args.repeats, 2)
        args.darcy_n = 16 if args.darcy_n == 64 else args.darcy_n
    sizes = {2: args.sizes or [1e4, 1e5], 3: args.sizes_3d or args.sizes or [1e4, 3e4]}
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(DTYPE)

    def qpoints(dim: int) -> str:
        # ours: the lowest exact degree per form (P1 stiffness, κ = 1: 0; load, f = 1: 1)
        forms = (
            {"stiffness": 0, "load": 1} if args.quad_degree is None else {"all": args.quad_degree}
        )
        ours = ", ".join(
            f"{k} {simplex_quadrature(dim, q)[0].shape[0]} (degree {q})" for k, q in forms.items()
        )
        sk_q = args.quad_degree if args.quad_degree is not None else 2
        sk = skfem.Basis(_skfem_mesh(unit_square(1) if dim == 2 else unit_cube(1)), _p1(dim))
        if args.quad_degree is not None:
            sk = skfem.Basis(sk.mesh, _p1(dim), intorder=sk_q)
        return f"{dim}D ours {ours} / skfem {sk.X.shape[1]} (degree {sk_q})"

    umf = "installed (skfem's solve uses UMFPACK)" if _has_umfpack() else "absent (SuperLU)"
    load = os.getloadavg()
    header = [
        "## FE benchmark: sciml vs scikit-fem (P1 Poisson, batched Darcy)",
        "",
        f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; CPU: {cpu_model()} "
        f"({os.cpu_count()} logical cores); load average at start: "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"- torch {torch.__version__} ({torch.get_num_threads()} threads), numpy "
        f"{np.__version__}, scipy {version('scipy')}, scikit-fem {version('scikit-fem')}, "
        f"scikit-umfpack {umf}",
        f"- float64, CPU; median of {args.repeats} timed runs after one warm-up; source "
        f"f = {'1' if args.source == 'one' else 'dπ² Π sin(πx_i)'}; interior nodes perturbed "
        f"by up to {args.perturb}·h/2 (seeded; 0 = structured grid); quadrature points per cell: "
        + "; ".join(qpoints(d) for d in sorted(args.dims)),
    ]
    print("\n".join(header), flush=True)

    rows: list[PoissonRow] = []
    for dim in [] if args.no_poisson else sorted(args.dims):
        limit = args.solve_max_dofs if dim == 2 else args.solve_max_dofs_3d
        for target in sizes[dim]:
            solve = target <= limit * 1.05
            t0 = time.perf_counter()
            rows.append(poisson_case(dim, target, args, solve))
            r = rows[-1]
            print(
                f"  {dim}D {r.dofs} DOFs: asm 1st {r.ours_first:.3g}s vs {r.sk_first:.3g}s, "
                f"again {r.ours_again:.3g}s vs {r.sk_again:.3g}s, solve {_s(r.ours_solve)}s vs "
                f"{_s(r.sk_solve)}s ({time.perf_counter() - t0:.1f}s wall)",
                file=sys.stderr,
                flush=True,
            )

    darcy: list[DarcyRow] = []
    if not args.no_darcy:
        for batch in args.darcy_batches:
            darcy.append(darcy_case(int(batch), args))
            r = darcy[-1]
            print(
                f"  Darcy B={r.batch}: {r.ours_time:.3g}s vs {r.sk_time:.3g}s",
                file=sys.stderr,
                flush=True,
            )

    stiff: list[StiffnessRow] = []
    if not args.no_stiffness:
        tf = _torchfem()
        for problem in ("heat", "elasticity"):
            for dim in sorted(args.dims):
                for target in sizes[dim]:
                    limit = args.elasticity_max_dofs if dim == 2 else args.elasticity_max_dofs_3d
                    if problem == "elasticity" and target > limit * 1.05:
                        continue
                    stiff.append(stiffness_case(problem, dim, target, args, tf))
                    r = stiff[-1]
                    print(
                        f"  stiffness {problem} {dim}D {r.dofs} nodes: 1st "
                        + ", ".join(f"{k} {v:.3g}s" for k, v in r.first.items())
                        + "; again "
                        + ", ".join(f"{k} {v:.3g}s" for k, v in r.again.items()),
                        file=sys.stderr,
                        flush=True,
                    )

    text = render(header, rows, darcy, stiff, args)
    print()
    print(text)
    if args.out is not None:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
