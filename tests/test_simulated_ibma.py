"""The simulated image studyset is something IBMA estimators can fit."""

import numpy as np
import pytest
from helpers.simulated import blob_masks, make_ibma_studyset
from nimare.correct import FDRCorrector
from nimare.meta import ibma

# Expected with 5 studies: pymare warns that cluster-robust inference over so few
# groups is anti-conservative.
pytestmark = pytest.mark.filterwarnings("ignore:.*(Cluster-robust|Satterthwaite).*:UserWarning")

N_ANALYSES = 12
N_STUDIES = 5


@pytest.fixture(scope="module")
def studyset(tmp_path_factory):
    return make_ibma_studyset(
        tmp_path_factory.mktemp("ibma"), n_analyses=N_ANALYSES, n_studies=N_STUDIES, seed=0
    )


def _study_of(studyset):
    """``{analysis id: study id}``, read from the public analysis table."""
    meta = studyset.metadata
    return dict(zip(meta["id"], meta["study_id"]))


def test_ids_and_studies(studyset):
    assert len(studyset.ids) == N_ANALYSES
    assert len(studyset) == N_ANALYSES
    study_of = _study_of(studyset)
    assert len(set(study_of.values())) == N_STUDIES
    assert list(studyset.study_ids) == sorted(set(study_of.values()))
    # Every accessor agrees on which study each analysis belongs to.
    for analysis in studyset.analyses:
        assert study_of[analysis.full_id] == analysis.study.id
        assert analysis.full_id == f"{analysis.study.id}-{analysis.id}"
    images = studyset.images
    assert dict(zip(images["id"], images["study_id"])) == study_of
    for imtype in ("z", "beta", "varcope", "t"):
        assert images[imtype].notna().all()
    assert len(studyset.sample_sizes()) == N_ANALYSES


def test_default_grid(studyset):
    from nimare.utils import get_template

    template = get_template(space="mni152_2mm", mask="brain")
    mask_img = studyset.masker.mask_img_
    assert mask_img.shape == template.shape
    np.testing.assert_allclose(mask_img.affine, template.affine)
    np.testing.assert_array_equal(
        np.asarray(mask_img.dataobj) > 0, np.asarray(template.dataobj) > 0
    )


def test_one_study_per_analysis_by_default(tmp_path):
    small = make_ibma_studyset(tmp_path, n_analyses=3, imtypes=("z",))
    assert len(small.ids) == 3
    assert len(small.study_ids) == 3


@pytest.mark.parametrize(
    "estimator",
    [ibma.Stouffers, ibma.Fishers, ibma.DerSimonianLaird, ibma.WeightedLeastSquares],
)
def test_estimators_fit_and_correct(studyset, estimator):
    meta = estimator()
    result = meta.fit(studyset)
    assert sorted(map(str, meta.inputs_["id"])) == sorted(studyset.ids)

    corrected = FDRCorrector(method="indep", alpha=0.05).transform(result)
    name = next(m for m in corrected.maps if m.startswith("z_") and "corr-FDR" in m)
    z = corrected.get_map(name, return_type="image").get_fdata()
    p = corrected.get_map(name.replace("z_", "p_", 1), return_type="image").get_fdata()
    positive, negative = blob_masks()
    significant = p < 0.05
    # Every estimator here (Fishers included) is two-sided in NiMARE 0.22.1.
    assert (significant & positive & (z > 0)).any()
    assert (significant & negative & (z < 0)).any()
    # By default analyses of one study are treated as dependent: contrast_names holds
    # one integer group code per input, one code per study.
    study_of = _study_of(studyset)
    codes = dict(zip(map(str, meta.inputs_["id"]), meta.inputs_["contrast_names"]))
    assert len(set(codes.values())) == N_STUDIES
    for a, b in zip(studyset.ids, studyset.ids[1:]):
        assert (codes[a] == codes[b]) == (study_of[a] == study_of[b])
