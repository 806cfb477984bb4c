"""NiMARE's Jackknife and this package's on one target: refused, not silently overwritten.

Both write the target's cluster table, label maps and contribution tables under the same
keys, so the later would replace the earlier without a word. Our
:class:`~nimare_stability.diagnostics.jackknife.Jackknife` refuses to run on a result that
holds NiMARE's for its target; :func:`~nimare_stability.workflows.enable_workflows` makes
NiMARE's workflows refuse the pair before anything runs.
"""

from nimare.diagnostics import Jackknife as NiMAREJackknife

from nimare_stability.core._nimare_private import JackknifeHooks

#: Workflow names of NiMARE's Jackknife and of this package's (its entry point).
NIMARE_NAME, OUR_NAME = "jackknife", "fastjackknife"


def workflow_name(diagnostic):
    """Return ``diagnostic``'s workflow name if it is one of the two Jackknifes, else None."""
    if isinstance(diagnostic, JackknifeHooks):  # ours: NiMARE's with cached leave-one-out
        return OUR_NAME
    if isinstance(diagnostic, NiMAREJackknife):
        return NIMARE_NAME
    return None


def check_one_jackknife(diagnostics):
    """Refuse NiMARE's Jackknife and this package's among ``diagnostics`` of one target.

    Parameters
    ----------
    diagnostics : iterable of :class:`~nimare.diagnostics.Diagnostics`
        In the order they run, all on one target image.

    Raises
    ------
    ValueError
        When both are there: they write the same tables and label maps.
    """
    found = [name for name in map(workflow_name, diagnostics) if name is not None]
    if NIMARE_NAME in found and OUR_NAME in found:
        raise ValueError(
            f"diagnostics={list(dict.fromkeys(found))!r} is not accepted on one target; run "
            "one of them: they write the same tables and label maps, the later silently "
            "overwriting the earlier."
        )
