"""Performance benchmarks of ``ceg`` (issue #6): run them with ``python benchmarks/run.py``."""
