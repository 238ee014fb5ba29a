"""Elasticity stiffness, first assembly on a fresh mesh: sciml vs torch-fem (P1, plane strain / 3D).

Run from the repository root (CPU; GPUs hidden; one torch / BLAS thread on both sides)::

    .venv/bin/pip install -e '.[bench]'          # torch-fem (benchmark only)
    .venv/bin/python benchmarks/fem_elasticity_vs_torchfem.py                 # 2D 1e5 nodes
    .venv/bin/python benchmarks/fem_elasticity_vs_torchfem.py --cases 2:1e4,2:1e5,3:1e4

Problem: linear elasticity stiffness with ``E = 1``, ``ν = 0.3`` on the jittered unit square
(``unit_square(n)``, 2 n² triangles) or cube (``unit_cube(n)``, 6 n³ tetrahedra), interior nodes
moved by ``perturb_interior(mesh, 0.2)`` (seeded), float64, the same points and cells on both
sides. ``dim:nodes`` sets the mesh size (``d`` displacement DOFs per node).

One timed call = everything from the node and cell tensors to the matrix values on the
sparsity pattern, no boundary condition:

* ours: ``Assembler(FunctionSpace(mesh, 1, n_components=d))`` + ``elasticity_stiffness(asm,
  1.0, 0.3)`` (pattern, element → nonzero map, quadrature data, element matrices, scatter);
* torch-fem: ``Planar`` / ``Solid`` (``IsotropicElasticityPlaneStrain`` /
  ``IsotropicElasticity3D(E=1, nu=0.3)``; its constructor builds the pattern and ``k_map``) +
  ``assemble_matrix(k0(), [])``.

The sides alternate (ours, torch-fem, ours, ...) after one untimed warm-up each, so load from
other processes hits both alike. Reported: median wall and process CPU time of ``--repeats``
calls (default 5), their ratios torch-fem / ours (> 1: ours faster), and the largest difference
of the two matrices.
"""

from __future__ import annotations

import os

os.environ["CUDA_VISIBLE_DEVICES"] = ""
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402
from _env import cpu_model, version  # noqa: E402  (benchmarks/ is the script's folder)
from torchfem import Planar, Solid  # noqa: E402
from torchfem.materials import IsotropicElasticity3D, IsotropicElasticityPlaneStrain  # noqa: E402

from sciml.solvers.fem import (  # noqa: E402
    Assembler,
    FunctionSpace,
    Mesh,
    elasticity_stiffness,
    perturb_interior,
    unit_cube,
    unit_square,
)

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)  # torch-fem allocates in the default dtype


def _mesh(dim: int, nodes: float) -> Mesh:
    n = max(1, round(nodes ** (1.0 / dim)) - 1)
    mesh = (unit_square if dim == 2 else unit_cube)(n, dtype=torch.float64)
    return perturb_interior(mesh, 0.2, generator=torch.Generator().manual_seed(n))


def ours(points: torch.Tensor, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rows·n + cols, values)`` of our matrix."""
    mesh = Mesh(points, cells, name="bench", check=False)
    asm = Assembler(FunctionSpace(mesh, 1, n_components=mesh.dim))
    values = elasticity_stiffness(asm, 1.0, 0.3)[0]
    return asm.pattern.rows * asm.pattern.n + asm.pattern.cols, values


def torch_fem(points: torch.Tensor, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """torch-fem's CSR matrix as ``(rows·n + cols, values)``."""
    if points.shape[1] == 2:
        model = Planar(points, cells, IsotropicElasticityPlaneStrain(E=1.0, nu=0.3))
    else:
        model = Solid(points, cells, IsotropicElasticity3D(E=1.0, nu=0.3))
    k = model.assemble_matrix(model.k0(), torch.zeros(0, dtype=torch.long))
    rows = torch.repeat_interleave(torch.arange(k.shape[0]), k.crow_indices().diff())
    return rows * k.shape[0] + k.col_indices(), k.values()


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def run_case(dim: int, nodes: float, repeats: int) -> str:
    mesh = _mesh(dim, nodes)
    points, cells = mesh.points, mesh.cells
    runs: dict[str, list[tuple[float, float]]] = {"ours": [], "tf": []}
    with torch.no_grad():
        for k in range(repeats + 1):  # run 0 is the warm-up
            for name, fn in (("ours", ours), ("tf", torch_fem)):
                t = timed(lambda fn=fn: fn(points, cells))
                if k:
                    runs[name].append(t)
        (ko, vo), (kt, vt) = ours(points, cells), torch_fem(points, cells)
    # the same matrix: torch-fem's CSR is sorted row-major like our pattern (entries may differ
    # by explicit zeros, so compare on the union)
    keys, inv = torch.unique(torch.cat([ko, kt]), return_inverse=True)
    diff = torch.zeros(len(keys)).index_add_(0, inv[: len(ko)], vo)
    diff.index_add_(0, inv[len(ko) :], -vt)
    med = {s: [statistics.median(r[i] for r in runs[s]) for i in (0, 1)] for s in runs}
    return (
        f"| {dim}D | {mesh.n_points:,} | {dim * mesh.n_points:,} | {mesh.n_cells:,} | "
        f"{med['ours'][0]:.3f} | {med['tf'][0]:.3f} | **{med['tf'][0] / med['ours'][0]:.2f}** | "
        f"{med['ours'][1]:.3f} | {med['tf'][1]:.3f} | {med['tf'][1] / med['ours'][1]:.2f} | "
        f"{float(diff.abs().max()):.1e} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="2:1e5", help="dim:nodes, comma separated")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(
        f"CPU: {cpu_model()}; 1 thread each; torch {version('torch')}, torch-fem "
        f"{version('torch-fem')}; load average {os.getloadavg()[0]:.1f} at start; median of "
        f"{args.repeats} alternating runs; float64"
    )
    print(
        "| dim | nodes | DOFs | cells | ours [s] | torch-fem [s] | ratio (wall) | ours CPU [s] | "
        "torch-fem CPU [s] | ratio (CPU) | max diff |"
    )
    print("|---" * 11 + "|")
    for case in args.cases.split(","):
        dim, nodes = case.split(":")
        print(run_case(int(dim), float(nodes), args.repeats), flush=True)


if __name__ == "__main__":
    main()
