"""A ResampledStability run's own maps and tables, and an exact comparison of two runs."""

import numpy as np
import pandas as pd


def stability_outputs(result, target):
    """Return (maps, tables): those ResampledStability added for ``target``."""
    stem = f"{target}_diag-ResampledStability"
    maps = {name: values for name, values in result.maps.items() if name.startswith(stem)}
    tables = {name: table for name, table in result.tables.items() if name.startswith(stem)}
    return maps, tables


def assert_same_outputs(got, expected):
    """Assert two :func:`stability_outputs` are identical, bit for bit, and not empty.

    The stability map must have a nonzero voxel: two all-zero maps are equal whatever the
    runs did.
    """
    assert got[0].keys() == expected[0].keys() and got[1].keys() == expected[1].keys()
    stability = [name for name in expected[0] if name.endswith("_diag-ResampledStability")]
    assert stability, "no stability map to compare"
    for name in stability:
        assert np.any(expected[0][name] != 0), f"{name} is all zero: equality proves nothing"
    for name, values in expected[0].items():
        np.testing.assert_array_equal(got[0][name], values, err_msg=name)
    for name, table in expected[1].items():
        pd.testing.assert_frame_equal(got[1][name], table, obj=name)
