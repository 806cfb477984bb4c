"""Every map, table and metadata key the package writes or reads: the one place they are built.

NiMARE names maps ``<kind>[_desc-…][_level-…][_corr-<TYPE>_method-<method>]`` with ``kind``
one of ``z``, ``p`` or ``logp`` (−log10 p). A diagnostic's outputs on a target ``T`` start
with the *stem* ``T_diag-<Name>``: tables ``<stem>_tab-<what>`` (``_tail-<tail>`` added to
per-analysis tables when a target has two tails), maps ``<stem>`` and ``<stem>_stat-<what>``,
metadata ``<stem>_<what>``. NiMARE's diagnostics add label maps ``label<rest of T>_tail-<tail>``
and the cluster table ``T_tab-clust``; the verdict writes ``T_tab-robustness``.
"""

import re

KINDS = ("z", "p", "logp")
Z, P, LOGP = KINDS
#: The summary statistic map of NiMARE's coordinate-based estimators.
STAT = "stat"
#: Tails of a target: the sign of its support -> the word NiMARE's tables use.
TAILS = {1: "positive", -1: "negative"}
#: Jackknife's ``_tab-counts`` column prefix per tail (``"PositiveTail 1"``).
TAIL_LABELS = {"positive": "PositiveTail", "negative": "NegativeTail"}

#: The ``<Name>`` of each diagnostic's ``_diag-<Name>`` outputs.
STABILITY = "ResampledStability"
FRAGILITY = "Fragility"
FAILSAFE = "FailSafeN"
JACKKNIFE = "Jackknife"
ROBUSTNESS = "Robustness"

#: The ``<what>`` of ``<stem>_tab-<what>``.
SUMMARY = "summary"
CLUSTERS = "clusters"
REPLICATES = "replicates"
INFLUENCE = "influence"
#: The influence table's column of a contrast: the group(s) each row left out.
CONTRAST_GROUP = "contrast_group"
DRAWERS = "drawers"
COUNTS = "counts"
#: The ``<what>`` of ``<stem>_stat-<what>``: the stability map's sampling error.
STANDARD_ERROR = "se"
#: The ``<what>`` of ``result.metadata[<stem>_<what>]``: the seed used and the run time.
RANDOM_STATE = "random_state"
SECONDS = "seconds"

#: The Monte Carlo FWE suffix and the three maps ``FWECorrector(method="montecarlo")`` makes.
MONTECARLO = "_corr-FWE_method-montecarlo"
MONTECARLO_LEVELS = ("level-voxel", "desc-size_level-cluster", "desc-mass_level-cluster")
#: The estimator's ``null_distributions_`` keys of the three Monte Carlo FWE nulls (per
#: iteration: the maximum statistic, cluster size and cluster mass), in level order.
MONTECARLO_NULLS = tuple(
    f"values_{level}_corr-fwe_method-montecarlo" for level in MONTECARLO_LEVELS
)
#: A subtraction's statistic map: group 1's ALE minus group 2's.
SUBTRACTION_STAT = "stat_desc-group1MinusGroup2"
#: Its z map (two-tailed permutation p values, signed by the difference's tail).
SUBTRACTION_Z = "z_desc-group1MinusGroup2"
#: The cluster-forming threshold of a subtraction's cluster-level null (its
#: ``null_distributions_`` key).
CLUSTER_FORMING_THRESHOLD = "summary_stat_thresh_level-voxel_corr-fwe_method-montecarlo"
#: The estimator's ``null_distributions_`` keys of an approximate-null histogram: its bin
#: centres and weights.
HISTOGRAM_BINS = "histogram_bins"
APPROXIMATE_HISTOGRAM = "histweights_corr-none_method-approximate"
#: The target every diagnostic judges by default (NiMARE's workflows' default target).
DEFAULT_TARGET = f"z_desc-size_level-cluster{MONTECARLO}"
#: The main z map each corrector makes (``"none"``: the uncorrected one).
CORRECTOR_TARGETS = {
    "montecarlo": DEFAULT_TARGET,
    "fdr": "z_corr-FDR_method-indep",
    "bonferroni": "z_corr-FWE_method-bonferroni",
    "none": "z",
}

#: The command line's default target of a contrast (an ALE subtraction), by corrector;
#: ``"montecarlo"`` with ``vfwe_only`` true is voxel-level.
CONTRAST_TARGETS = {
    "montecarlo": "z_desc-group1MinusGroup2Size_level-cluster_corr-FWE_method-montecarlo",
    "montecarlo_voxel": "z_desc-group1MinusGroup2_level-voxel_corr-FWE_method-montecarlo",
    "none": SUBTRACTION_Z,
}

_CORRECTION = re.compile(r"_corr-(?P<type>[A-Za-z]+)_method-(?P<method>[A-Za-z]+)")
_NULL_VALUES = re.compile(r"^values_.*_method-montecarlo$")


def split_kind(target_image):
    """Split a map name into its kind (``z``, ``p``, ``logp``) and the rest of the name."""
    kind, _, rest = target_image.partition("_")
    if kind not in KINDS:
        raise ValueError(
            f"target_image={target_image!r} is not a z, p or logp map; accepted: a map name "
            f"starting with 'z', 'p' or 'logp' (e.g. {CORRECTOR_TARGETS['fdr']!r})."
        )
    return kind, (f"_{rest}" if rest else "")


def sibling(target_image, kind):
    """Return the name of ``target_image``'s map of another ``kind``."""
    return kind + split_kind(target_image)[1]


def correction(target_image):
    """Return ``(type, method)`` of the target's correction, or None when uncorrected."""
    match = _CORRECTION.search(target_image)
    return (match["type"], match["method"]) if match else None


def correction_suffix(target_image):
    """Return the ``_corr-…_method-…`` part of a map name ("" when uncorrected)."""
    corr = correction(target_image)
    return "" if corr is None else "_corr-{}_method-{}".format(*corr)


def peak_map_name(target_image):
    """Return the uncorrected map a corrected target derives from (``z`` for most)."""
    name = _CORRECTION.sub("", target_image)
    name = name.replace("_level-cluster", "").replace("_level-voxel", "")
    name = re.sub(r"_desc-(size|mass)(?=_|$)", "", name)
    return re.sub(r"(_desc-\w+?)(Size|Mass)(?=_|$)", r"\1", name)


def montecarlo_level(target_image):
    """Return which of :data:`MONTECARLO_LEVELS` a Monte Carlo target is (None: another map)."""
    level = split_kind(target_image)[1].removeprefix("_").removesuffix(MONTECARLO)
    return level if level in MONTECARLO_LEVELS else None


def level_map(kind, level, suffix=""):
    """``<kind>_<level><suffix>``: a corrected map of one level (``z_level-voxel``)."""
    return f"{kind}_{level}{suffix}"


def is_montecarlo_null(key):
    """Whether ``key`` names a Monte Carlo null in an estimator's ``null_distributions_``."""
    return bool(_NULL_VALUES.match(key))


def label_map_name(target_image, tail):
    """NiMARE's diagnostics' label map of ``target_image``'s clusters in one tail."""
    return f"label{split_kind(target_image)[1]}_tail-{tail}"


def diagnostic_stem(target_image, diagnostic):
    """``<target>_diag-<diagnostic>``: the prefix of a diagnostic's maps and tables."""
    return f"{target_image}_diag-{diagnostic}"


def table_key(target_image, diagnostic, what):
    """``<target>_diag-<diagnostic>_tab-<what>``: one of a diagnostic's tables."""
    return f"{diagnostic_stem(target_image, diagnostic)}_tab-{what}"


def counts_key(target_image, diagnostic, tail=None):
    """Return a per-analysis (heatmap) table's key: ``…_tab-counts[_tail-<tail>]``."""
    key = table_key(target_image, diagnostic, COUNTS)
    return key if tail is None else f"{key}_tail-{tail}"


def stat_map_key(target_image, diagnostic, what):
    """``<target>_diag-<diagnostic>_stat-<what>``: a map beside a diagnostic's main map."""
    return f"{diagnostic_stem(target_image, diagnostic)}_stat-{what}"


def metadata_key(target_image, diagnostic, what):
    """``<target>_diag-<diagnostic>_<what>``: a run's entry in ``result.metadata``."""
    return f"{diagnostic_stem(target_image, diagnostic)}_{what}"


def clust_key(target_image):
    """``<target>_tab-clust``: the cluster table NiMARE's diagnostics write."""
    return f"{target_image}_tab-clust"


def robustness_key(target_image):
    """``<target>_tab-robustness``: the per-cluster verdict table."""
    return f"{target_image}_tab-robustness"


def cluster_column(tail, cluster_id):
    """Return the column Jackknife's ``_tab-counts`` give a cluster (``"PositiveTail 1"``)."""
    return f"{TAIL_LABELS[tail]} {cluster_id}"


def tail_of_label(label):
    """Return the tail (``"positive"``, ``"negative"``) of a Jackknife column prefix."""
    return {prefix: tail for tail, prefix in TAIL_LABELS.items()}[label]


def has_tables(keys, target_image, diagnostic):
    """Whether ``keys`` (a result's table names) hold any of a diagnostic's tables."""
    prefix = table_key(target_image, diagnostic, "")
    return any(key.startswith(prefix) for key in keys)


def diagnosed_targets(keys, diagnostic):
    """Return the targets whose ``diagnostic`` tables are among ``keys``, sorted."""
    marker = diagnostic_stem("", diagnostic) + "_"
    return sorted({key.split(marker)[0] for key in keys if marker in key})
