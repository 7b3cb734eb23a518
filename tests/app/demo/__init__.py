"""The code under test: one module per view so coverage per view is checkable."""
