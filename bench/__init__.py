"""Benchmarks: run on demand, print ratios against raw baselines measured in the same run."""
