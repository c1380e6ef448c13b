"""The study layer: the glue between the step notebooks and the library.

One module per step notebook. Each function takes cohort tables or results, calls
``analysis.cohort`` / ``risk`` / ``causal`` / ``economics`` for the numbers, and returns a
result object or a tidy frame ready for :mod:`analysis.runs.artifacts`. Nothing here computes
an estimate itself: it chooses outcomes and covariates, runs the pre-declared estimators,
records failures as results (判定保留 with the reason) and suppresses small cells.

Modules
-------
effects
    Outcomes, covariates, the estimator runs and the effects table.
cohort_step, risk_step, exercise, costs, targeting
    Steps 01-05.
detectable
    What an effects row could detect: minimum detectable effect, participants needed.
reach, events
    Step 03's reach and equity by group, and the sports-community events.
"""
