"""Benchmarks (`make bench`): measured here, never asserted by timing inside a test."""
