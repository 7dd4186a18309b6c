"""Pieces every analysis shares: option checks, driving inputs, trajectories, result building
and provenance. Private: the public API re-exports what users need."""
