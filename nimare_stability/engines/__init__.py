"""Compiled engines: fast replicate statistics and Monte Carlo nulls for kernel CBMA."""
