"""Benchmarks: each prints one JSON line with its figures and the ratio to a baseline measured
in the same process, interleaved, median of several repeats."""
