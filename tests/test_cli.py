"""The ``nimare-stability demo`` command writes maps and tables and prints the tables."""

import nibabel as nib
import pandas as pd

from nimare_stability import cli


def test_demo_writes_nifti_maps_and_tsv_tables(tmp_path, capsys, n_iters):
    code = cli.main(
        [
            "demo",
            "--output-dir",
            str(tmp_path),
            "--n-iters",
            str(n_iters),
            "--policy",
            "subsample",
            "--target-n",
            "0.8",
            "--n-resamples",
            "2",
        ]
    )
    assert code == 0
    stem = tmp_path / f"{cli.TARGET}_diag-ResampledStability"
    stability = nib.load(f"{stem}.nii.gz").get_fdata()
    assert stability.shape == (91, 109, 91) and 0 < stability.max() <= 1
    summary = pd.read_csv(f"{stem}_tab-summary.tsv", sep="\t")
    assert (summary.loc[0, "n_resamples"], summary.loc[0, "target_n"]) == (2, 17)
    clusters = pd.read_csv(f"{stem}_tab-clusters.tsv", sep="\t")
    printed = capsys.readouterr().out
    assert "Summary" in printed and "Clusters" in printed
    assert len(clusters) > 0 and "detection_rate" in printed
