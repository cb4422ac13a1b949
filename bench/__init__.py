"""Benchmarks and soak test of the native stack (make bench, make soak)."""
