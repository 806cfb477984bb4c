"""The checks of one cluster's verdict, from the evidence the diagnostics gave."""

from typing import NamedTuple

import numpy as np

#: The singular of each unit a removal counts.
SINGULAR = {"analyses": "analysis", "groups": "group"}


class Thresholds(NamedTuple):
    """The thresholds of the checks (see :func:`~nimare_stability.robustness_table`)."""

    min_fragility: int
    max_contribution: float
    min_stability: float
    min_fsn_per_analysis: float


def meanings(thresholds):
    """Return what each verdict means under ``thresholds``: verdict -> one sentence."""
    fragility, contribution, stability, fsn = thresholds
    return {
        "fragile": (
            f"removing fewer than {fragility} analyses (or one alone) makes it vanish "
            "(Fragility, or ResampledStability's single removals)"
        ),
        "dominated": f"one analysis gives more than {contribution:.0%} of it (Jackknife)",
        "unstable": (
            f"significant in fewer than {stability:.0%} of the resampled meta-analyses "
            "(ResampledStability)"
        ),
        "file-drawer": (
            f"fewer than {fsn:g} unpublished null analyses per published one make it vanish "
            "(FailSafeN)"
        ),
        "undetermined": (
            "no check failed, but not every check was computed; the reason says what was "
            "shown and which diagnostic to add"
        ),
        "robust": (
            f"every check was computed and passed: no set of fewer than {fragility} analyses "
            f"sinks it, no analysis gives more than {contribution:.0%} of it, it is "
            f"significant in at least {stability:.0%} of the resampled meta-analyses and "
            f"withstands {fsn:g} null analyses per published one"
        ),
    }


class Checks:
    """The verdict of one cluster from its evidence row.

    Parameters
    ----------
    row : :obj:`dict`
        The cluster's evidence columns (see :func:`~nimare_stability.robustness_table`).
    units : :obj:`tuple`
        ``(word, count)`` of the units single removals left out ("analyses" or "groups").
    n_analyses : :obj:`int`
    thresholds : :class:`Thresholds`
    survived_k : :obj:`int` or None
        k when the stability run left out every set of k units.
    """

    def __init__(self, row, units, n_analyses, thresholds, survived_k):
        self.row = row
        self.units = units
        self.n_analyses = n_analyses
        self.thresholds = thresholds
        self.survived_k = survived_k

    def verdict(self):
        """Return ``(verdict, reason)``."""
        failed = [
            (verdict, reason)
            for verdict, reason in (
                ("fragile", self._fragile()),
                ("dominated", self._dominated()),
                ("unstable", self._unstable()),
                ("file-drawer", self._file_drawer()),
            )
            if reason
        ]
        if failed:
            return failed[0][0], "; ".join(reason for _, reason in failed)
        shown = "; ".join(self._strengths())
        missing = list(self._missing())
        if missing:
            return "undetermined", f"{shown or 'nothing shown'}; not computed: {'; '.join(missing)}"
        return "robust", shown

    def fragility_floor(self):
        """Return the fewest removals known to be needed to sink the cluster (1: unknown)."""
        floor = 1
        fragility = self.row.get("fragility")
        if isinstance(fragility, (int, np.integer)):
            floor = int(fragility)
        elif isinstance(fragility, str) and fragility.startswith(">"):
            floor = int(fragility[1:]) + 1
        if self.survived_k is not None and self._survives_any_k():
            floor = max(floor, self.survived_k + 1)
        return floor

    def _survives_any_k(self):
        if self.survived_k == 1:
            return self.row.get("vanishes_without") == ""
        return self.row.get("detection_rate") == 1

    def _missing(self):
        minimum = self.thresholds.min_fragility
        floor = self.fragility_floor()
        if floor < minimum:
            shown = f" (at least {floor} shown, {minimum} needed)" if floor > 1 else ""
            if "fragility" in self.row:
                yield f"fragility{shown}: rerun Fragility with max_removed >= {minimum - 1}"
            else:
                yield f"fragility{shown}: add Fragility"
        top = self.row.get("top_contribution")
        if top is None:
            yield "largest contribution: add Jackknife"
        elif not np.isfinite(top):
            yield "largest contribution: Jackknife found no cluster here"
        if self.row.get("mean_stability") is None:
            yield "stability: add ResampledStability"
        if self.row.get("fsn_per_analysis") is None:
            yield "fail-safe N: add FailSafeN"

    def _fragile(self):
        lone = self.row.get("vanishes_without")
        if lone:
            units = lone.split(";")
            which = units[0] if len(units) == 1 else f"any one of {', '.join(units)}"
            word, count = self.units
            return f"vanishes without {which} (1 of {count} {word})"
        fragility = self.row.get("fragility")
        if isinstance(fragility, (int, np.integer)) and fragility < self.thresholds.min_fragility:
            removed = self.row["fragility_removed"].replace(";", ", ")
            if fragility == 1:
                return f"vanishes without {removed} (1 of {self.n_analyses} analyses)"
            return (
                f"vanishes when {fragility} of {self.n_analyses} analyses are removed ({removed})"
            )
        return None

    def _dominated(self):
        top = self.row.get("top_contribution")
        maximum = self.thresholds.max_contribution
        if top is not None and np.isfinite(top) and top > maximum:
            return f"{self.row['top_analysis']} contributes {top:.2f} of it (> {maximum})"
        return None

    def _unstable(self):
        mean = self.row.get("mean_stability")
        minimum = self.thresholds.min_stability
        if mean is not None and mean < minimum:
            return f"mean stability {mean:.2f} (< {minimum})"
        return None

    def _file_drawer(self):
        minimum = self.thresholds.min_fsn_per_analysis
        per_analysis = self.row.get("fsn_per_analysis")
        if per_analysis is not None and per_analysis < minimum:
            return (
                f"vanishes after {self.row['fsn_mean']:.1f} null analyses on average "
                f"({per_analysis:.2f} per analysis, < {minimum})"
            )
        return None

    def _strengths(self):
        row = self.row
        if "fragility" in row:
            yield f"fragility {row['fragility']}"
        elif self.survived_k is not None and self._survives_any_k():
            word = self.units[0]
            if self.survived_k == 1:
                yield f"survives removing any one {SINGULAR[word]}"
            else:
                yield f"survives removing any {self.survived_k} {word}"
        if row.get("mean_stability") is not None:
            yield f"mean stability {row['mean_stability']:.2f}"
        if row.get("top_contribution") is not None and np.isfinite(row["top_contribution"]):
            yield f"top contribution {row['top_contribution']:.2f}"
        if row.get("fsn_mean") is not None:
            yield (
                f"fail-safe N {row['fsn_mean']:.1f} ({row['fsn_per_analysis']:.2f} per analysis"
                f"{', censored' if row['fsn_censored'] else ''})"
            )
