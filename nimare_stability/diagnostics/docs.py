"""Docstring entries shared by the diagnostics: each shared parameter is described once.

A docstring line holding only ``%(name)s`` becomes the entry ``name`` of :data:`DOCDICT`,
indented as that line is (nilearn's ``fill_doc`` habit).
"""

import re
import textwrap

from nimare_stability.core import names

DOCDICT = {
    "target_image": f"""\
target_image : :obj:`str`, default={names.DEFAULT_TARGET!r}
    Map to judge.""",
    "alpha": """\
alpha : :obj:`float`, default=0.05
    Support threshold on the target's p values, in (0, 1).""",
    "target_threshold": """\
target_threshold : :obj:`float`, optional
    Replaces ``p < alpha`` by ``|z| > target_threshold`` on the target (NiMARE's
    workflows pass their ``voxel_thresh``, 1.65; on two-tailed maps that is p < .10).""",
    "cluster_threshold": """\
cluster_threshold : :obj:`int`, optional
    Drop support clusters smaller than this many voxels (face connectivity).""",
    "n_iters": """\
n_iters : :obj:`int`, optional
    Monte Carlo iterations per replicate; None uses the target's corrector's.""",
    "engine": """\
engine : {"auto", "refit", "fast", "pairwise", "chi2"}, default="auto"
    ``"refit"`` fits and corrects every replicate with NiMARE (any estimator).
    ``"fast"``: ALE, MKDADensity or KDA with an approximate null, from MA maps cached once
    and a compiled Monte Carlo null. ``"pairwise"``: ALESubtraction (uncorrected or Monte
    Carlo FWE targets of its difference), from both groups' MA maps cached once, each
    replicate's own permutations on a compiled loop. ``"chi2"``: MKDAChi2 with its MKDA
    kernel (any target; Monte Carlo FWE with its label-permutation null), from both
    groups' binary MA maps cached once, each replicate's own permutations on a compiled
    loop. ``"auto"``: fast, pairwise or chi2 where supported, else refit.""",
    "random_state": """\
random_state : :obj:`int` or None, default=None
    Fixes every random choice of the run. None draws one; the seed used is recorded in
    the new result's ``metadata``.""",
    "n_cores": """\
n_cores : :obj:`int`, default=1
    Parallel work (joblib); <= 0 uses every core. Results do not depend on it.""",
    "progress": """\
progress : :obj:`bool`, default=True
    Show progress bars.""",
    "checkpoint_dir": """\
checkpoint_dir : :obj:`str` or path-like, optional
    Keep each finished piece of work there, so that a run killed midway resumes where it
    stopped, with output identical to an uninterrupted run. The directory is refused when
    it holds the checkpoint of other data, another target or other parameters (``n_cores``
    and ``progress`` aside), or while another run uses it (it is locked). Needs an int
    ``random_state``.""",
    "generate_description": """\
generate_description : :obj:`bool`, default=True
    Append a description and references to the result's boilerplate.""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<name>\w+)\)s$", re.MULTILINE)


def fill_doc(obj):
    """Replace each ``%(name)s`` line of ``obj``'s docstring by ``DOCDICT[name]``; return obj."""

    def entry(match):
        return textwrap.indent(DOCDICT[match["name"]], match["indent"])

    obj.__doc__ = _PLACEHOLDER.sub(entry, obj.__doc__)
    return obj
