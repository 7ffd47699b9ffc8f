"""Target-model adapters (placeholder while the foundation lands)."""
