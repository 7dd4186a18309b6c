"""Lyapunov exponents: the QR (Benettin) engine and what is derived from its spectrum."""
from .spectrum import kaplan_yorke_dimension as kaplan_yorke_dimension
from .spectrum import lyapunov_spectrum as lyapunov_spectrum
from .differentiable import lyapunov_exponents as lyapunov_exponents
from .covariant import covariant_lyapunov_vectors as covariant_lyapunov_vectors
