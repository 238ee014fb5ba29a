"""sciml: differentiable PDE solvers, neural operators and physics constraints on one data layer."""

__version__ = "0.1.0"
