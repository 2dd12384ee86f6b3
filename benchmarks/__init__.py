"""Speed and scale measurements of mfcheck (run ``python -m benchmarks``; see benchmarks/README.md)."""
