"""Fixed and slow points at constant inputs (Sussillo & Barak 2013): `search` (the verb), `conditions`
(which constant inputs), `starts` (where the search starts), `solver` (Levenberg–Marquardt),
`classify` (fixed / slow / unconverged, de-duplication, stability, unstable directions),
`crosscheck` (forward simulation: attractors the search missed), `schema` (what the result holds)."""
from .search import find_fixed_points as find_fixed_points
