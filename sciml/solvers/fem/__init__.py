"""Differentiable finite elements in torch: P1/P2 Lagrange on triangles and tetrahedra.

* :mod:`.mesh` — the :class:`Mesh` (points, cells, boundary tags) and its quality checks;
  :mod:`.meshes` — structured generators; :mod:`.gmsh_meshes` — unstructured ones through
  Gmsh (optional ``pip install gmsh``); :mod:`.mesh_io` — meshio import / export;
* :mod:`.quadrature`, :mod:`.elements`, :mod:`.space` — rules, shape functions, dof maps;
* :mod:`.assembly` — pattern-once, ``index_add_`` assembly batched over coefficient fields;
* :mod:`.boundary` — Dirichlet elimination / lifting, Neumann and Robin facet terms;
* :mod:`.linear_solve` — sparse solve with a one-adjoint-solve backward (SuperLU or batched CG);
* PDEs: :mod:`.poisson`, :mod:`.darcy`, :mod:`.heat`, :mod:`.elasticity`,
  :mod:`.nonlinear_diffusion` (Newton, implicit-function-theorem gradients).
"""

from sciml.solvers.fem.assembly import Assembler, h1_seminorm_error, l2_error
from sciml.solvers.fem.boundary import DirichletCondensation, FacetIntegrator
from sciml.solvers.fem.darcy import Darcy, PermeabilityError
from sciml.solvers.fem.elasticity import LinearElasticity, elasticity_stiffness
from sciml.solvers.fem.elements import LagrangeElement, lagrange
from sciml.solvers.fem.gmsh_meshes import gmsh_l_shape, gmsh_plate_with_holes
from sciml.solvers.fem.heat import HeatEquation
from sciml.solvers.fem.linear_solve import (
    ConvergenceError,
    SingularSystemError,
    SolveInfo,
    SparsePattern,
    SparseSolver,
)
from sciml.solvers.fem.mesh import Mesh, MeshError
from sciml.solvers.fem.mesh_io import from_meshio, read_mesh, to_meshio, write_mesh
from sciml.solvers.fem.meshes import (
    box,
    grid_to_nodes,
    l_shape,
    nodes_to_grid,
    perturb_interior,
    plate_with_holes,
    rectangle,
    unit_cube,
    unit_square,
)
from sciml.solvers.fem.nonlinear_diffusion import NonlinearDiffusion
from sciml.solvers.fem.poisson import Poisson
from sciml.solvers.fem.quadrature import simplex_quadrature
from sciml.solvers.fem.space import FieldSizeError, FunctionSpace

__all__ = [
    "Assembler",
    "ConvergenceError",
    "Darcy",
    "DirichletCondensation",
    "FacetIntegrator",
    "FieldSizeError",
    "FunctionSpace",
    "HeatEquation",
    "LagrangeElement",
    "LinearElasticity",
    "Mesh",
    "MeshError",
    "NonlinearDiffusion",
    "PermeabilityError",
    "Poisson",
    "SingularSystemError",
    "SolveInfo",
    "SparsePattern",
    "SparseSolver",
    "box",
    "elasticity_stiffness",
    "from_meshio",
    "gmsh_l_shape",
    "gmsh_plate_with_holes",
    "grid_to_nodes",
    "h1_seminorm_error",
    "l2_error",
    "l_shape",
    "lagrange",
    "nodes_to_grid",
    "perturb_interior",
    "plate_with_holes",
    "read_mesh",
    "rectangle",
    "simplex_quadrature",
    "to_meshio",
    "unit_cube",
    "unit_square",
    "write_mesh",
]
