"""Benchmarks (`make bench`): each measurement runs in its own process so peak memory is its own."""
