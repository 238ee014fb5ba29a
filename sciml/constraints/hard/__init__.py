"""Hard PDE constraints by differentiable nonlinear least squares (PI-HC, PI-HC-MoE).

Chalapathi, Du, Krishnapriyan, "Scaling physics-informed hard constraints with mixture-of-experts",
ICLR 2024. :mod:`.lm` batched Levenberg–Marquardt, :mod:`.system` the least-squares rows,
:mod:`.implicit` the implicit-function-theorem backward, :mod:`.pdes` the PDE residuals,
:mod:`.layer` the constraint layer (registered as ``hard_pde``).
"""

from sciml.constraints.hard.implicit import (
    BACKWARD_MODES,
    LMOptions,
    SingularSystemError,
    solve_least_squares,
)
from sciml.constraints.hard.layer import (
    HardPDEConstraint,
    NotConvergedError,
    NotExportableError,
    PDEAnsatzConstraint,
    expert_blocks,
)
from sciml.constraints.hard.lm import LMResult, NonFiniteResidualError, levenberg_marquardt
from sciml.constraints.hard.pdes import (
    PDES,
    DiffusionSorptionResidual,
    NavierStokesVorticityResidual,
    PDEResidual,
)
from sciml.constraints.hard.system import LeastSquaresSystem, ShiftedPointwise

__all__ = [
    "BACKWARD_MODES",
    "PDES",
    "DiffusionSorptionResidual",
    "HardPDEConstraint",
    "LMOptions",
    "LMResult",
    "LeastSquaresSystem",
    "NavierStokesVorticityResidual",
    "NonFiniteResidualError",
    "NotConvergedError",
    "NotExportableError",
    "PDEAnsatzConstraint",
    "PDEResidual",
    "ShiftedPointwise",
    "SingularSystemError",
    "expert_blocks",
    "levenberg_marquardt",
    "solve_least_squares",
]
