"""Dataset recipes: one module per benchmark; importing this package registers them all."""

from sciml.data.recipes import antiderivative as antiderivative
from sciml.data.recipes import poisson as poisson
from sciml.data.recipes import mpm2d as mpm2d
