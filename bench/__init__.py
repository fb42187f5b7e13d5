"""Benchmark scripts (not tests): build a synthetic clinic and print timings."""
