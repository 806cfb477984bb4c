"""Two coordinate studysets with a planted contrast, for ALE subtraction tests.

Built on NiMARE alone. A subtraction's p value comes from relabelling analyses, so at a
voxel that only some analyses of group 1 reach, it is set by how many reach it: with
``r`` such analyses out of ``n1`` in group 1 and ``n`` in all, the upper tail is about
``C(n1, r) / C(n, r)``, and NiMARE's two-sided p twice that. Group 1 is small and group 2
large, so that one analysis of group 1 alone is a significant difference
(``2 (n1 - 1) / (n - 1) < 0.05`` once another is removed) and none of group 2 is. Every
analysis reports one jittered focus at each region it is assigned to, and each analysis
of group 1 a uniform noise focus at least :data:`~helpers.planted.NOISE_MIN_DISTANCE_MM`
from every region (noise in a large group 2 would cover the brain, and group 1's absence
anywhere would be a significant difference):

- ``"group1_only"``: every analysis of group 1, none of group 2 (a true difference: one
  analysis of group 1 is enough, and a contrast keeps at least one);
- ``"two_analyses"``: exactly two analyses of group 1 (a difference that vanishes only
  when both are removed: fragility 2, those two);
- ``"both"``: two thirds of each group (no difference);
- ``"group2_rest"``: the rest of group 2 (so that each of its analyses has a focus).
"""

import numpy as np
from nimare.nimads import Studyset

from helpers.planted import NOISE_MIN_DISTANCE_MM, TRUE_JITTER_MM, _mask_world_coordinates

#: Region centres (MNI mm), >= 40 mm apart and >= 15 mm inside the brain mask.
CENTRES_MM = {
    "group1_only": (40.0, -20.0, 50.0),
    "two_analyses": (30.0, 10.0, 10.0),
    "both": (0.0, 40.0, 30.0),
    "group2_rest": (-40.0, -20.0, 50.0),
}
#: Share of each group reporting the ``"both"`` region.
BOTH_SHARE = 2 / 3
#: Noise foci per analysis of group 1.
NOISE_FOCI = 1


def planted_contrast(n_group1=3, n_group2=100, seed=0):
    """Build the two studysets of a planted contrast.

    Returns
    -------
    group1, group2 : :class:`~nimare.nimads.Studyset`
        Analysis ids ``"g1-00-analysis-0"``, ... and ``"g2-000-analysis-0"``, ..., one
        analysis per study, each with ``metadata["sample_sizes"]``.
    truth : dict
        Region name -> ``{"xyz": centre, "ids": ids of the analyses reporting it}``.
    """
    rng = np.random.default_rng(seed)
    group_ids = [
        [f"g{g}-{i:0{len(str(n))}d}" for i in range(n)] for g, n in ((1, n_group1), (2, n_group2))
    ]
    foci = {sid: [] for ids in group_ids for sid in ids}
    both = [
        list(rng.choice(ids, int(round(BOTH_SHARE * len(ids))), replace=False)) for ids in group_ids
    ]
    reporters = {
        "group1_only": group_ids[0],
        "two_analyses": list(rng.choice(group_ids[0], 2, replace=False)),
        "both": both[0] + both[1],
        "group2_rest": [sid for sid in group_ids[1] if sid not in both[1]],
    }
    for name, sids in reporters.items():
        for sid in sorted(sids):
            direction = rng.standard_normal(3)
            direction /= np.linalg.norm(direction)
            jitter = direction * rng.uniform(*TRUE_JITTER_MM)
            foci[sid].append(np.asarray(CENTRES_MM[name]) + jitter)
    mask_xyz = _mask_world_coordinates()
    centres = np.asarray(list(CENTRES_MM.values()))
    distance = np.linalg.norm(mask_xyz[:, None] - centres[None], axis=-1).min(axis=1)
    far = mask_xyz[distance >= NOISE_MIN_DISTANCE_MM]
    for sid in group_ids[0]:
        foci[sid].extend(far[rng.choice(len(far), NOISE_FOCI, replace=False)])
    studysets = [_studyset(ids, foci, rng) for ids in group_ids]
    truth = {
        name: {"xyz": CENTRES_MM[name], "ids": sorted(f"{s}-analysis-0" for s in sids)}
        for name, sids in reporters.items()
    }
    return *studysets, truth


def _studyset(study_ids, foci, rng):
    studies = [
        {
            "id": sid,
            "name": sid,
            "metadata": {},
            "analyses": [
                {
                    "id": "analysis-0",
                    "name": "analysis-0",
                    "metadata": {"sample_sizes": [int(rng.integers(15, 41))]},
                    "conditions": [],
                    "weights": [],
                    "images": [],
                    "texts": None,
                    "points": [
                        {"coordinates": [round(float(v), 2) for v in xyz], "space": "MNI"}
                        for xyz in foci[sid]
                    ],
                }
            ],
        }
        for sid in study_ids
    ]
    return Studyset({"id": study_ids[0][:2], "name": study_ids[0][:2], "studies": studies})
