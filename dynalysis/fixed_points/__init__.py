"""Fixed and slow points at constant input (Sussillo & Barak 2013): where the search starts and
how it converges."""
from .search import find_fixed_points as find_fixed_points
