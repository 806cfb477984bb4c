"""Fragility's search: removal units, and the smallest sinking set of each cluster."""

import itertools

import numpy as np
from tqdm.auto import tqdm

from nimare_stability.core.progress import tqdm_disable

#: Candidate sets, per cluster and size, confirmed with the exact judge in one batch.
CONFIRM_BATCH = 2
#: The same, when the exact judge draws every replicate's null from common random numbers:
#: a set more in a batch then costs little next to another batch's pass of random foci.
CONFIRM_BATCH_COMMON_NULLS = 4


class Units:
    """Removal units: analyses, or groups of them.

    ``membership`` (``"group1"``/``"group2"`` per analysis of a contrast, or None) gives
    ``group_sizes``, each unit's analyses per group (one column without it).
    """

    def __init__(self, labels, membership=None):
        self.labels = np.asarray(labels, dtype=object)
        self.names, self.of_analysis = np.unique(self.labels.astype(str), return_inverse=True)
        self.sizes = np.bincount(self.of_analysis, minlength=len(self.names))
        groups = np.zeros(self.labels.size, int) if membership is None else membership
        self.groups, of_group = np.unique(groups, return_inverse=True)
        self.group_sizes = np.zeros((len(self.names), len(self.groups)), int)
        np.add.at(self.group_sizes, (self.of_analysis, of_group), 1)

    def groups_of(self, units):
        """Each unit's groups (``"group1"``, ``"group1+group2"``), ``;``-joined."""
        return ";".join(
            "+".join(self.groups[self.group_sizes[unit] > 0].astype(str)) for unit in units
        )

    def sum(self, per_analysis):
        """Sum (n_analyses, n_clusters) values per unit: (n_units, n_clusters)."""
        out = np.zeros((len(self.names), per_analysis.shape[1]))
        np.add.at(out, self.of_analysis, per_analysis)
        return out

    def retained(self, removed):
        """Sorted positions of the analyses kept when the units ``removed`` are left out."""
        keep = ~np.isin(self.of_analysis, removed)
        return np.flatnonzero(keep).astype(np.intp)


class Search:
    """Search, cluster by cluster, the smallest set of units whose removal sinks it.

    ``confirm_batch`` sets per cluster are confirmed per pass of the exact judge. With
    ``ahead`` (for an exact judge whose replicates share their random foci, where a set
    more in a pass costs little next to another pass), the screen judges every greedy
    size at once, and each pass confirms, beside a cluster's last sets of one size, the
    first set of the next size the screen sinks it at: the same sets are found, in fewer
    passes.
    """

    def __init__(
        self,
        units,
        clusters,
        contributions,
        max_analyses_removed,
        confirm_batch=CONFIRM_BATCH,
        ahead=False,
    ):
        self.units = units
        self.confirm_batch = confirm_batch
        self.ahead = ahead
        self.clusters = clusters
        self.max_analyses_removed = max_analyses_removed  # per group
        self.contributors = []
        for column in contributions.T:
            order = np.lexsort((units.names, -column))
            self.contributors.append([int(u) for u in order if column[u] > 0])
        self.contribution = contributions
        self.found = {}
        self._screened = {}  # (cluster, set) -> whether the screen sinks the cluster

    def candidates(self, index, size, max_exact):
        """Return the sets of ``size`` contributors to try for cluster ``index``, best first."""
        contributors = self.contributors[index]
        if size > len(contributors):
            return []
        if size <= max_exact:
            sets = itertools.combinations(contributors, size)
            column = self.contribution[:, index]
            sets = sorted(sets, key=lambda s: -column[list(s)].sum())
        else:
            sets = [tuple(contributors[:size])]
        return [
            tuple(sorted(s))
            for s in sets
            if np.all(self.units.group_sizes[list(s)].sum(0) <= self.max_analyses_removed)
        ]

    def run(self, screen, exact, max_exact, max_removed, progress):
        """Find each cluster's smallest sinking set, up to ``max_removed`` units.

        Sets are screened size by size; each cluster's first sinking sets are then
        confirmed with the exact judge, all clusters in one batch. A cluster none of
        whose screened sets is confirmed is screened again from the next size.
        """
        start = dict.fromkeys(range(len(self.clusters)), 1)
        with tqdm(total=len(start), desc="Fragility", disable=tqdm_disable(progress)) as bar:
            while start:
                screened = self._screen(screen, start, max_exact, max_removed)
                if screen is exact:
                    confirmed = screened
                else:
                    after = self._next_sizes(screen, screened, max_exact, max_removed)
                    confirmed = self._confirm(exact, screened, after)
                start = {}
                for index, (size, sets) in confirmed.items():
                    if sets:
                        self.found[index] = (size, sets[0])
                    elif screened[index][1] and size < max_removed:
                        start[index] = size + 1
                bar.update(len(screened) - len(start))

    def _sinking(self, judge, tried):
        """``judge.sinking(tried)``, each (cluster, set) judged once over the search."""
        todo = {
            index: [s for s in sets if (index, s) not in self._screened]
            for index, sets in tried.items()
        }
        for index, sets in judge.sinking({i: sets for i, sets in todo.items() if sets}).items():
            sinking = set(sets)
            self._screened.update({(index, s): s in sinking for s in todo[index]})
        return {
            index: [s for s in sets if self._screened[index, s]] for index, sets in tried.items()
        }

    def _screen(self, judge, start, max_exact, max_removed):
        """Return ``{cluster: (size, sinking sets)}``, sizes from ``start`` upward.

        ``size`` is the first at which some set sinks the cluster (no set: ``max_removed``
        and an empty list). With ``ahead``, the greedy sizes (above ``max_exact``) of every
        cluster in ``start`` are judged in one call.
        """
        screened, size = {}, min(start.values())
        while size <= max_removed and len(screened) < len(start):
            last = max_removed if self.ahead and size > max_exact else size
            tried = {
                index: [
                    s
                    for k in range(max(size, first), last + 1)
                    for s in self.candidates(index, k, max_exact)
                ]
                for index, first in start.items()
                if first <= last
                and (index not in screened or (last > size and screened[index][0] >= max_exact))
            }
            sinking = self._sinking(judge, tried)
            for k in range(size, last + 1):
                for index in tried:
                    sets = [s for s in sinking[index] if len(s) == k]
                    if index not in screened and start[index] <= k and (sets or k == max_removed):
                        screened[index] = (k, sets)
            size = last + 1
        return screened

    def _next_sizes(self, judge, screened, max_exact, max_removed):
        """Return, with ``ahead``, ``{cluster: (size, set)}`` for screened clusters.

        The next size at which the screen sinks the cluster and its set, when the sizes
        after the screened one are greedy (above ``max_exact``: one set each).
        """
        if not self.ahead:
            return {}
        tried = {
            index: [
                s
                for k in range(size + 1, max_removed + 1)
                for s in self.candidates(index, k, max_exact)
            ]
            for index, (size, sets) in screened.items()
            if sets and size >= max_exact
        }
        return {
            index: (len(sets[0]), sets[0])
            for index, sets in self._sinking(judge, tried).items()
            if sets
        }

    def _confirm(self, judge, screened, after=None):
        """Return ``{cluster: (size, confirmed sets)}``, the first confirmed set first.

        ``size`` is the last size whose sets were all tried. Confirms ``confirm_batch`` sets
        per cluster per pass, all clusters together; a cluster's last pass of one size
        also confirms its set of ``after`` (see :meth:`_next_sizes`), taken when none of
        that size's is. The first confirmed set is the same whatever the batch (each set's
        judgement is).
        """
        after = after or {}
        confirmed = {index: (size, []) for index, (size, _) in screened.items()}
        pending = {index: list(sets) for index, (_, sets) in screened.items() if sets}
        while pending:
            batch = {index: sets[: self.confirm_batch] for index, sets in pending.items()}
            for index, sets in batch.items():
                if len(pending[index]) <= self.confirm_batch and index in after:
                    sets.append(after[index][1])
            for index, sets in judge.sinking(batch).items():
                rest = pending.pop(index)[self.confirm_batch :]
                ahead = [s for s in sets if index in after and s == after[index][1]]
                sets = [s for s in sets if s not in ahead]
                if sets:
                    confirmed[index] = (confirmed[index][0], sets)
                elif rest:
                    pending[index] = rest
                elif index in after:
                    confirmed[index] = (after[index][0], ahead)
        return confirmed

    def removed_matrix(self):
        """(n_analyses, n_clusters) array: 1 for the analyses of each cluster's sinking set."""
        removed = np.zeros((self.units.of_analysis.size, len(self.clusters)))
        for index, (_, units) in self.found.items():
            removed[np.isin(self.units.of_analysis, units), index] = 1
        return removed

    def outcome(self, index, max_removed, max_exact):
        """``(fragility, exact, removed, removed_groups)`` of cluster ``index``."""
        if index not in self.found:
            return f"> {max_removed}", False, "", ""
        size, removed = self.found[index]
        names = ";".join(self.units.names[list(removed)])
        return size, size <= max_exact, names, self.units.groups_of(removed)
