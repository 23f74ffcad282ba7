"""Benchmarks behind `accord bench`: reproducible workloads and their measurements."""
