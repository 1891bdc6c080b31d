"""Benchmarks and the tools that build large MLflow stores for them (not part of the test suite)."""
