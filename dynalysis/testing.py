"""Tools for testing step maps (filled in below)."""
