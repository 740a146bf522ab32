"""The machinery behind the top-level scripts: training, evaluation, export, benchmarks."""
