"""NiMARE's ``FWECorrector``, with the Monte Carlo null drawn by the compiled engine.

:class:`FWECorrector` subclasses :class:`nimare.correct.FWECorrector`. On a fitted ALE,
MKDADensity or KDA with an approximate null it runs ``method="montecarlo"`` on the engine
of :mod:`nimare_stability.engines.montecarlo`, on an MKDAChi2 its label permutations on
:mod:`nimare_stability.engines.chi2`, and writes what NiMARE's corrector writes;
everything else is NiMARE's own code.
"""

import inspect
import logging

import numpy as np
from nimare import correct
from nimare.meta.cbma.mkda import MKDAChi2
from nimare.utils import DEFAULT_FLOAT_DTYPE

from nimare_stability.core import _nimare_private as private
from nimare_stability.core import names
from nimare_stability.core.validation import check_bool, check_number
from nimare_stability.engines import chi2
from nimare_stability.engines.corrected import montecarlo_maps
from nimare_stability.engines.families import unsupported_estimator
from nimare_stability.engines.montecarlo import build_layout, null_maxima

LGR = logging.getLogger(__name__)

#: The ``method`` the engine runs.
METHOD = "montecarlo"
#: The estimator method NiMARE's corrector calls for it (and whose defaults apply).
ESTIMATOR_METHOD = f"correct_fwe_{METHOD}"
#: What NiMARE logs when ``vfwe_only`` cannot use a Monte Carlo null of the fit.
VFWE_FROM_SCRATCH = (
    "In order to run this method with the 'vfwe_only' option, the Estimator must use the "
    "'montecarlo' null_method. Running permutations from scratch."
)


class FWECorrector(correct.FWECorrector):
    """NiMARE's family-wise error corrector, its Monte Carlo null drawn by a compiled engine.

    A drop-in replacement for :class:`nimare.correct.FWECorrector`: the same parameters,
    and for ``method="montecarlo"`` on a fitted :class:`~nimare.meta.cbma.ale.ALE`,
    :class:`~nimare.meta.cbma.mkda.MKDADensity` or :class:`~nimare.meta.cbma.mkda.KDA`
    (each with its own kernel and ``null_method="approximate"``) the same maps (names,
    float32 values), the same ``null_distributions_`` on the result's estimator, the same
    description and references, the same ``result.corrector``: only the speed differs.
    On a fitted :class:`~nimare.meta.cbma.mkda.MKDAChi2` (MKDA kernel, its default
    ``fwe_null_method="label-permutation"``, no analysis in both groups) it runs NiMARE's
    own label permutations (the estimator's ``random_state``) on a compiled loop
    (:mod:`nimare_stability.engines.chi2`): the same maps and null distributions as
    NiMARE's correction, value for value. Every other case (``method="bonferroni"``,
    other estimators, a Monte Carlo ``null_method``, other pairwise estimators) runs
    NiMARE's own code, unchanged.

    In Python it is opt-in: NiMARE's workflows and correctors are untouched; pass an
    instance where a corrector is accepted (``CBMAWorkflow(corrector=FWECorrector(...))``).
    The ``nimare-stability`` command uses it unless told ``--nimare-corrector``.

    Parameters
    ----------
    method : {"bonferroni", "montecarlo", "predictive"}, default="bonferroni"
        The FWE correction to use.
    voxel_thresh : :obj:`float`, optional
        ``method="montecarlo"`` only: the cluster-forming uncorrected p (the estimator's
        default: 0.001), read through the fit's null histogram as NiMARE reads it.
    n_iters : :obj:`int`, optional
        Monte Carlo iterations (the estimator's default: 5000).
    n_cores : :obj:`int`, default=1
        Threads for the Monte Carlo null (``<= 0``: every core; under joblib's Dask
        backend, the cluster's workers). Results do not depend on it.
    **kwargs
        Further keywords of the correction (``vfwe_only``), checked as NiMARE checks them.

    Notes
    -----
    Each Monte Carlo iteration redraws every focus uniformly from the estimator's null
    voxels and keeps the largest statistic and, above the cluster-forming threshold, the
    largest face-connected cluster size and mass, as NiMARE does. Fed the same foci, the
    engine's maxima and maps are NiMARE's. Its foci come from its own streams, seeded by one
    integer drawn from the generator NiMARE's correction draws from (the estimator's
    ``random_state``; None: fresh entropy), so one ``random_state`` fixes the result, for
    any ``n_cores``, but the same seed gives other draws than NiMARE's: equal in
    distribution, not iteration by iteration.

    The caller's result and estimator are never modified.

    See Also
    --------
    nimare.correct.FWECorrector : The corrector this one replaces.

    Examples
    --------
    >>> from nimare.meta.cbma import ALE
    >>> from nimare_stability import FWECorrector
    >>> from nimare_stability.datasets import load_pain
    >>> result = ALE(random_state=0).fit(load_pain())
    >>> corrected = FWECorrector(method="montecarlo", n_iters=1000).transform(result)
    """

    def transform(self, result):
        """Correct a MetaResult for multiple comparisons, as NiMARE's ``FWECorrector`` does.

        Parameters
        ----------
        result : :class:`~nimare.results.MetaResult`
            Made by an estimator; not modified.

        Returns
        -------
        :class:`~nimare.results.MetaResult`
            A copy with the corrected maps, the correction's description and, on the
            copy's estimator, its null distributions; ``corrector`` is this corrector.
        """
        if self._permutes_labels(result):
            _montecarlo_options(self, result.estimator, result)
            n_cores = private.corrector_parameter(self, "n_cores", 1)
            return chi2.corrected_result(result, self, n_cores=n_cores)
        if not self._runs_on_engine(result):
            return super().transform(result)
        result = result.copy()
        estimator = result.estimator
        options = _montecarlo_options(self, estimator, result)
        LGR.info(
            f"Drawing the Monte Carlo null of {type(estimator).__name__} with the compiled "
            "engine of nimare_stability."
        )
        stat = result.get_map(names.STAT, return_type="array")
        maps = _montecarlo(estimator, stat, **options)
        suffix = private.corrector_suffix(self)
        result.maps.update({name + suffix: values for name, values in maps.items()})
        result.description_ += " " + _description(**options)
        result.corrector = self
        return result

    def _permutes_labels(self, result):
        """Whether ``result`` is an ``MKDAChi2`` fit whose label permutations run compiled."""
        estimator = getattr(result, "estimator", None)
        return (
            self.method == METHOD
            and isinstance(estimator, MKDAChi2)
            and hasattr(estimator, "inputs_")
            and chi2.Chi2Engine.unsupported(estimator, self) is None
        )

    def _runs_on_engine(self, result):
        """Whether the engine corrects ``result``: Monte Carlo on a supported fitted estimator."""
        estimator = getattr(result, "estimator", None)
        return (
            self.method == METHOD
            and unsupported_estimator(estimator) is None
            and hasattr(estimator, "inputs_")
        )


def _montecarlo_options(corrector, estimator, result):
    """``voxel_thresh``, ``n_iters``, ``n_cores`` and ``vfwe_only``, defaults the estimator's.

    The keywords are checked by NiMARE first, as its ``transform`` checks them.
    """
    method = getattr(estimator, ESTIMATOR_METHOD)
    kwargs = private.estimator_correction_kwargs(corrector, method)
    bound = inspect.signature(method).bind(result, **kwargs)
    bound.apply_defaults()
    options = dict(list(bound.arguments.items())[1:])
    check_number("voxel_thresh", options["voxel_thresh"], 0, 1, bounds="()", optional=False)
    check_number("n_iters", options["n_iters"], 1, integer=True, optional=False)
    check_number("n_cores", options["n_cores"], integer=True, optional=False)
    if "vfwe_only" in options:  # MKDAChi2's correction has none
        check_bool("vfwe_only", options["vfwe_only"])
    return options


def _montecarlo(estimator, stat, voxel_thresh, n_iters, n_cores, vfwe_only):
    """Draw the null on the engine, store it in ``estimator`` and return the maps.

    Parameters
    ----------
    estimator : ALE, MKDADensity or KDA
        The result's (copied) fitted estimator; its ``null_distributions_`` gain the nulls.
    stat : ndarray of shape (n_voxels,)
        The result's ``stat`` map.
    voxel_thresh, n_iters, n_cores, vfwe_only
        As ``correct_fwe_montecarlo`` takes them.

    Returns
    -------
    dict of str to float32 ndarray
        The corrected maps, named without the corrector's suffix, in NiMARE's order.
    """
    if vfwe_only:
        LGR.warning(VFWE_FROM_SCRATCH)
    threshold = private.p_to_stat(estimator, voxel_thresh, None)
    seeds = np.random.SeedSequence(int(private.correction_rng(estimator).integers(2**63)))
    layout = build_layout(estimator)
    everyone = np.ones((1, layout.n_analyses), dtype=bool)
    maxima = null_maxima(
        layout, everyone, threshold, n_iters, seeds, n_cores=n_cores, progress=True
    )
    voxel, *cluster = (
        (key, values[0].astype(DEFAULT_FLOAT_DTYPE))
        for key, values in zip(names.MONTECARLO_NULLS, maxima)
    )
    # NiMARE's order: the cluster nulls (none when voxel-level only), then the voxel null.
    nulls = dict([voxel] if vfwe_only else [*cluster, voxel])
    private.add_null_distributions(estimator, nulls)
    mask = private.mask_to_bool(estimator.masker.mask_img)
    return montecarlo_maps(
        stat, threshold, *(nulls.get(key) for key in names.MONTECARLO_NULLS), mask
    )


def _description(voxel_thresh, n_iters, n_cores, vfwe_only):
    """NiMARE's description of its Monte Carlo FWE correction, word for word."""
    if vfwe_only:
        return (
            "Family-wise error correction was performed using a voxel-level Monte Carlo "
            "procedure. "
            "In this procedure, null datasets are generated in which dataset coordinates are "
            "substituted with coordinates randomly drawn from the meta-analysis mask, and "
            "the maximum summary statistic is retained. "
            f"This procedure was repeated {n_iters} times to build a null distribution of "
            "summary statistics."
        )
    return (
        "Family-wise error rate correction was performed using a Monte Carlo procedure. "
        "In this procedure, null datasets are generated in which dataset coordinates are "
        "substituted with coordinates randomly drawn from the meta-analysis mask, and "
        "maximum values are retained. "
        f"This procedure was repeated {n_iters} times to build null distributions of "
        "summary statistics, cluster sizes, and cluster masses. "
        "Clusters for cluster-level correction were defined using edge-wise connectivity "
        f"and a voxel-level threshold of p < {voxel_thresh} from the uncorrected null "
        "distribution."
    )
