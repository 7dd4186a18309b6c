"""Spectra of linearisations: Jacobian eigen- and singular values along trajectories."""
from .jacobian import jacobian_eigenvalues as jacobian_eigenvalues
from .jacobian import matrix_spectrum as matrix_spectrum
