"""Which analyses each replicate keeps: policies, the schedules they draw, and seeds.

A *replicate* is one set of retained analyses; a *schedule* is the replicates a policy
draws for one run (:mod:`~nimare_stability.resampling.schedule`). One ``random_state``
seeds the schedule, the Monte Carlo null and every replicate
(:mod:`~nimare_stability.resampling.seeds`). Imports only from ``core``.
"""
