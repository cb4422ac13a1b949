"""Benchmarks and soak test of the Compose stack (make bench, make soak)."""
