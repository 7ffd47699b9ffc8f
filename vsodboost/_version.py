"""The package version, in a leaf module so that modules of any layer can record it (provenance, exports)."""

__version__ = "0.1.0"
