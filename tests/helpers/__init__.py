"""Tools the tests share: planted and simulated data, a reference engine, output checks."""
