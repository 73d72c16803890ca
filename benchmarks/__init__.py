"""Benchmarks of the course's models against published reference configurations."""
