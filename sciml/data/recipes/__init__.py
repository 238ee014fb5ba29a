"""Dataset recipes: one module per benchmark; importing this package registers them all."""

from sciml.data.recipes import advection1d as advection1d
from sciml.data.recipes import allen_cahn2d as allen_cahn2d
from sciml.data.recipes import antiderivative as antiderivative
from sciml.data.recipes import burgers1d as burgers1d
from sciml.data.recipes import burgers_dirichlet as burgers_dirichlet
from sciml.data.recipes import column_collapse as column_collapse
from sciml.data.recipes import dam_break as dam_break
from sciml.data.recipes import darcy2d as darcy2d
from sciml.data.recipes import darcy_unstructured as darcy_unstructured
from sciml.data.recipes import diffusion_sorption as diffusion_sorption
from sciml.data.recipes import elasticity_plate as elasticity_plate
from sciml.data.recipes import gpme as gpme
from sciml.data.recipes import heat2d as heat2d
from sciml.data.recipes import kdv1d as kdv1d
from sciml.data.recipes import kolmogorov2d as kolmogorov2d
from sciml.data.recipes import ks1d as ks1d
from sciml.data.recipes import mpm2d as mpm2d
from sciml.data.recipes import mpm3d as mpm3d
from sciml.data.recipes import mpm_large as mpm_large
from sciml.data.recipes import ns2d as ns2d
from sciml.data.recipes import ns_forced as ns_forced
from sciml.data.recipes import ns_gauss as ns_gauss
from sciml.data.recipes import ns_sines as ns_sines
from sciml.data.recipes import ns_tracer as ns_tracer
from sciml.data.recipes import poisson as poisson
from sciml.data.recipes import shear_layer as shear_layer
