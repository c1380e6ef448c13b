"""Simulated designs with planted effects for the design-based estimators.

``mvm-eval bench causal`` checks ``estimate_effect`` on ``plasmode.simulate_confounded``;
this module does the same for the other estimators, each on data whose true effect is
known by construction:

- ``did``: staggered adoption (months 3 and 5, plus never treated) over 8 months; the
  effect ``e + 1`` at ``e`` months since the start, in both cohorts; a covariate raises
  both early adoption and the outcome trend, so parallel trends hold only given it.
  Checked: one group-time cell ``ATT(3, 5)``, the event-study effect at ``e = 1`` and the
  overall ATT (cohort-share weighted mean of the post-start cells).
- ``did_costs``: monthly medical costs over 12 months before and 12 after a single start
  month, with rare hospital stays (about 1.3% of person-months, two thirds of a million
  yen on average, a third of all cost, as in the synthetic city) and a few people with
  a chronic cost every month (dialysis, 400,000 yen); healthier people take
  part more often (1 in 10); taking part lowers every post-start cost by 5%. Parallel
  trends hold (frailty is constant; the season is shared). The overall ATT is estimated
  with both base periods of ``did_effect``: the month before the start and the mean of
  the 12 months before it; the truth is each sample's own mean effect on the
  participants' post-start months.
- ``rd_sharp`` / ``rd_fuzzy``: a curved outcome in a risk score with a jump at the cutoff;
  in the fuzzy design 20% below and 80% above take part, nudged by an unobserved trait
  that also raises the outcome; the effect of taking part is constant (LATE = jump).
- ``iv``: a randomised letter; the motivated join anyway and walk more; compliers gain
  500 steps and always-takers 200 (LATE = 500, while the naive comparison is biased).
- ``skewed_costs``: a binary program, heavy-tailed costs (``exp(linear)`` times gamma
  noise) with an effect proportional to the expected cost, and confounding
  (``analysis.causal.plasmode.simulate_skewed_costs``); AIPW with the two-part cost model
  and DML, ATE and ATT; truths are those of each drawn sample, and ``scale`` (the mean
  cost) lets the bias be read as a share of it.
- ``survival_hr`` / ``survival_rmst``: potential event times share one frailty draw, so the
  marginal hazard ratio is exactly 0.6 (checked on the log scale, where the Cox SE lives)
  and the RMST difference has a closed form; frail people, flagged by a noisy risk score,
  take part more often.

``run_designs`` returns one row per estimator with the columns of
``analysis.causal.plasmode.run_replicates`` (bias, RMSE, 95% CI coverage, mean SE ...).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import rdrobust  # noqa: F401  (imported here so that its import time is not timed)

from analysis.causal.did import did_effect
from analysis.causal.iv import iv_effect
from analysis.causal.plasmode import summarise_replicates
from analysis.causal.rd import rd_effect
from analysis.causal.survival import rmst_difference, weighted_cox
from analysis.seeds import int_seed, rng

DID_START_EARLY, DID_START_LATE, DID_MONTHS = 3, 5, 8
DID_COSTS_MONTHS, DID_COSTS_EFFECT = 24, -0.05
"""``did_costs``: 12 months before and 12 after the start; the effect on cost (a share)."""
DID_COSTS_QUANTITIES = {"did costs overall (base: month before)": "last",
                        "did costs overall (base: pre-start mean)": "pre_mean"}  # fmt: skip
DID_EARLY_SHARE, DID_LATE_SHARE = 0.25, 0.3
"""Population cohort shares: ``E[0.5 expit(x)] = 0.25`` early; 40% of the rest start late."""
RD_CUTOFF, RD_JUMP = 0.3, 1.0
IV_LATE = 500.0
SURV_RATE, SURV_HR, SURV_TAU = 0.10, 0.6, 8.0
SURV_SELECTION = 0.8
"""Log-odds of taking part per unit of the frailty score in ``simulate_event_times``:
moderate overlap (largest weights about 10). At 1.5 a few frail non-participants carry
weights in the hundreds and every standard error of the weighted estimators (robust or
bootstrap) misstates the spread; the overlap gates exist for that case."""


@dataclass(frozen=True)
class Draw:
    """One replication's estimates: point, SE and 95% CI per reported quantity, and the
    replication's own true values where the truth depends on the drawn sample."""

    estimates: dict[str, tuple[float, float, float, float]]
    truths: dict[str, float] | None = None


@dataclass(frozen=True)
class BenchDesign:
    """A simulated design: its default size, truths and one-replication runner.

    Attributes
    ----------
    name : str
    n : int
        People (or units) per replication by default.
    truths : dict of str to float
        True value of every quantity the runner reports.
    run : callable
        ``run(n, seed) -> Draw``.
    """

    name: str
    n: int
    truths: dict[str, float]
    run: Callable[[int, int], Draw]


# ----------------------------------------------------------------------------- did
def simulate_staggered(n: int, seed: int) -> pd.DataFrame:
    """Person-month panel with staggered starts; see the module docstring."""
    g = rng(seed, "bench", "did")
    x = g.normal(size=n)
    early = g.uniform(size=n) < 0.5 / (1 + np.exp(-x))
    late = g.uniform(size=n) < DID_LATE_SHARE / (1 - DID_EARLY_SHARE)
    start = np.where(early, DID_START_EARLY, np.where(late, DID_START_LATE, np.nan))
    month = np.tile(np.arange(DID_MONTHS), n)
    first = np.repeat(start, DID_MONTHS)
    e = month - first
    y = (
        np.repeat(g.normal(size=n), DID_MONTHS)
        + 0.3 * month * (1 + np.repeat(x, DID_MONTHS))
        + np.where(e >= 0, e + 1, 0.0)
        + g.normal(size=n * DID_MONTHS)
    )
    return pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), DID_MONTHS),
            "month": month,
            "start": first,
            "x": np.repeat(x, DID_MONTHS),
            "cost": y,
        }
    )


def _did_truths() -> dict[str, float]:
    post_early = np.arange(DID_MONTHS - DID_START_EARLY) + 1.0  # effects e + 1, e = 0..4
    post_late = np.arange(DID_MONTHS - DID_START_LATE) + 1.0
    num = DID_EARLY_SHARE * post_early.sum() + DID_LATE_SHARE * post_late.sum()
    den = DID_EARLY_SHARE * len(post_early) + DID_LATE_SHARE * len(post_late)
    return {
        "did ATT(3,5)": float(DID_START_LATE - DID_START_EARLY + 1),
        "did event e=1": 2.0,
        "did overall": float(num / den),
    }


def _run_did(n: int, seed: int) -> Draw:
    res = did_effect(
        simulate_staggered(n, seed),
        unit="id",
        time="month",
        outcome="cost",
        first_treated="start",
        covariates=["x"],
        seed=seed,
    )
    gt = res.group_time.set_index(["group", "time"]).loc[(DID_START_EARLY, DID_START_LATE)]
    es = res.event_study.set_index("event_time").loc[1]
    return Draw(
        {
            "did ATT(3,5)": (gt.estimate, gt.se, gt.ci_low, gt.ci_high),
            "did event e=1": (es.estimate, es.se, es.ci_low, es.ci_high),
            "did overall": (res.estimate, res.se, res.ci_low, res.ci_high),
        }
    )


def simulate_monthly_costs(n: int, seed: int) -> tuple[pd.DataFrame, float]:
    """Person-month costs with rare hospital stays; see the module docstring.

    Returns the panel (``id, month, start, cost``; ``start`` is NaN for non-participants)
    and the sample's true ATT: the mean effect over the participants' post-start months.
    """
    g = rng(seed, "bench", "did_costs")
    months, start = DID_COSTS_MONTHS, DID_COSTS_MONTHS // 2
    frailty = g.normal(size=n)
    joins = g.uniform(size=n) < 1 / (1 + np.exp(2.4 + 0.6 * frailty))
    level = np.exp(0.6 * frailty)[:, None]
    season = 2_000 * np.sin(2 * np.pi * np.arange(months) / 12)[None, :]
    visits = g.uniform(size=(n, months)) < 0.7
    outpatient = visits * g.gamma(1.0, 18_000, size=(n, months)) * level
    stay = g.uniform(size=(n, months)) < 0.011 * level
    hospital = stay * g.lognormal(np.log(400_000), 1.0, size=(n, months))
    chronic = (g.uniform(size=n) < 0.004 * level[:, 0])[:, None] * 400_000.0  # e.g. dialysis
    y0 = np.maximum(outpatient + hospital + chronic + season, 0.0)
    post = joins[:, None] & (np.arange(months)[None, :] >= start)
    effect = DID_COSTS_EFFECT * y0 * post
    truth = float(effect[post].mean()) if post.any() else float("nan")
    panel = pd.DataFrame(
        {
            "id": np.repeat(np.arange(n), months),
            "month": np.tile(np.arange(months), n),
            "start": np.repeat(np.where(joins, float(start), np.nan), months),
            "cost": (y0 + effect).ravel(),
        }
    )
    return panel, truth


def _run_did_costs(n: int, seed: int) -> Draw:
    df, truth = simulate_monthly_costs(n, seed)
    est = {}
    for q, base in DID_COSTS_QUANTITIES.items():
        r = did_effect(df, unit="id", time="month", outcome="cost", first_treated="start",
                       seed=seed, n_bootstrap=199, base=base)  # fmt: skip
        est[q] = (r.estimate, r.se, r.ci_low, r.ci_high)
    return Draw(est, dict.fromkeys(DID_COSTS_QUANTITIES, truth))


# ----------------------------------------------------------------------------- rd
def simulate_discontinuity(n: int, seed: int, fuzzy: bool = False) -> pd.DataFrame:
    """Risk score in [-1, 1) with a cutoff at 0.3; see the module docstring."""
    g = rng(seed, "bench", "rd", "fuzzy" if fuzzy else "sharp")
    x = g.uniform(-1, 1, n)
    above = x >= RD_CUTOFF
    u = g.normal(size=n)
    if fuzzy:
        share = np.where(above, 0.8, 0.2) + 0.15 * np.tanh(u)
        t = (g.uniform(size=n) < share).astype(int)
    else:
        t = above.astype(int)
    y = 2 + 1.5 * x - 0.8 * x**2 + 0.5 * u + RD_JUMP * t + g.normal(0, 1, n)
    return pd.DataFrame({"score": x, "joined": t, "cost": y})


def _run_rd(fuzzy: bool) -> Callable[[int, int], Draw]:
    def run(n: int, seed: int) -> Draw:
        df = simulate_discontinuity(n, seed, fuzzy=fuzzy)
        res = rd_effect(
            df,
            running="score",
            outcome="cost",
            cutoff=RD_CUTOFF,
            treatment="joined" if fuzzy else None,
        )
        name = "rd fuzzy" if fuzzy else "rd sharp"
        return Draw({name: (res.estimate, res.se, res.ci_low, res.ci_high)})

    return run


# ----------------------------------------------------------------------------- iv
def simulate_letter(n: int, seed: int) -> pd.DataFrame:
    """Randomised letter, participation and steps; see the module docstring."""
    g = rng(seed, "bench", "iv")
    z = g.integers(0, 2, n)
    kind = g.uniform(size=n)
    always = kind < 0.1
    complier = (kind >= 0.1) & (kind < 0.6)
    u = g.normal(size=n) + 4.0 * always
    d = (always | (complier & (z == 1))).astype(int)
    age = g.integers(40, 75, n)
    effect = np.where(complier, IV_LATE, 200.0)
    y = 3000 + 400 * u - 10 * (age - 60) + effect * d + g.normal(0, 300, n)
    return pd.DataFrame({"letter": z, "joined": d, "steps": y, "age": age})


def _run_iv(n: int, seed: int) -> Draw:
    res = iv_effect(
        simulate_letter(n, seed),
        instrument="letter",
        treatment="joined",
        outcome="steps",
        covariates=["age"],
    )
    return Draw({"iv LATE": (res.estimate, res.se, res.ci_low, res.ci_high)})


# ----------------------------------------------------------------------------- survival
def simulate_event_times(
    n: int, seed: int, hr: float = SURV_HR, selection: float = SURV_SELECTION
) -> pd.DataFrame:
    """Frailty-confounded event times with a marginal hazard ratio of exactly ``hr``.

    Potential event times share one uniform draw U: ``T(0) ~ Exp(0.10)``, ``T(1) ~
    Exp(0.10 hr)``, so the population hazard ratio is ``hr``. Frail people (small U) have
    a high ``risk`` score and take part more often, so the naive comparison is biased;
    treatment depends on ``risk`` only (log-odds ``selection`` per unit of risk), so
    weighting on it removes the bias.
    """
    g = rng(seed, "bench", "survival")
    u = g.uniform(size=n)
    risk = -np.log(u) + g.normal(0, 0.3, n)
    t = (g.uniform(size=n) < 1 / (1 + np.exp(-(risk - 1.0) * selection))).astype(int)
    lam = np.where(t == 1, SURV_RATE * hr, SURV_RATE)
    event_time = -np.log(u) / lam
    censor = g.uniform(5, 30, n)
    return pd.DataFrame(
        {
            "days": np.minimum(event_time, censor),
            "event": (event_time <= censor).astype(int),
            "t": t,
            "risk": risk,
        }
    )


def _rmst_truth() -> float:
    def rmst_exp(rate: float) -> float:
        return (1 - np.exp(-rate * SURV_TAU)) / rate

    return float(rmst_exp(SURV_RATE * SURV_HR) - rmst_exp(SURV_RATE))


def _run_cox(n: int, seed: int) -> Draw:
    res = weighted_cox(
        simulate_event_times(n, seed),
        duration="days",
        event="event",
        treatment="t",
        weights="ipw",
        covariates=["risk"],
        seed=seed,
    )
    log_ci = (float(np.log(res.ci_low)), float(np.log(res.ci_high)))
    return Draw({"survival log HR (IPTW Cox)": (float(np.log(res.estimate)), res.se, *log_ci)})


SURV_BOOTSTRAP = 199
"""Bootstrap resamples of each RMST difference in the bench."""


def _run_rmst(n: int, seed: int) -> Draw:
    res = rmst_difference(
        simulate_event_times(n, seed),
        duration="days",
        event="event",
        treatment="t",
        tau=SURV_TAU,
        weights="ipw",
        covariates=["risk"],
        seed=seed,
        n_bootstrap=SURV_BOOTSTRAP,
    )
    return Draw({"survival RMST diff (IPTW)": (res.estimate, res.se, res.ci_low, res.ci_high)})


SKEWED_COST_N = 3000
SKEWED_QUANTITIES = tuple(f"skewed cost {m} {e}" for m in ("aipw", "dml") for e in ("ATE", "ATT"))


def _run_skewed(n: int, seed: int) -> Draw:
    from analysis.causal.estimate import estimate_effect
    from analysis.causal.plasmode import simulate_skewed_costs

    df, truth = simulate_skewed_costs(n, seed=seed)
    est, truths = {}, {}
    for q in SKEWED_QUANTITIES:
        method, estimand = q.split()[-2:]
        kw = {"outcome_model": "two_part"} if method == "aipw" else {}
        r = estimate_effect(df, treatment="t", outcome="y", covariates=["x0", "x1", "x2", "chronic"],
                            method=method, estimand=estimand, seed=seed, n_jobs=1, **kw)  # fmt: skip
        est[q] = (r.estimate, r.se, r.ci_low, r.ci_high)
        truths[q] = truth[estimand]
    return Draw(est, truths | {"scale": truth["mean_cost"]})


DESIGNS = {
    "did": BenchDesign("did", 600, _did_truths(), _run_did),
    "did_costs": BenchDesign(
        "did_costs", 2700, dict.fromkeys(DID_COSTS_QUANTITIES, float("nan")), _run_did_costs
    ),
    "rd_sharp": BenchDesign("rd_sharp", 3000, {"rd sharp": RD_JUMP}, _run_rd(False)),
    "rd_fuzzy": BenchDesign("rd_fuzzy", 3000, {"rd fuzzy": RD_JUMP}, _run_rd(True)),
    "iv": BenchDesign("iv", 3000, {"iv LATE": IV_LATE}, _run_iv),
    "skewed_costs": BenchDesign(
        "skewed_costs",
        SKEWED_COST_N,
        dict.fromkeys(SKEWED_QUANTITIES, float("nan")),
        _run_skewed,
    ),
    "survival_hr": BenchDesign(
        "survival_hr", 2000, {"survival log HR (IPTW Cox)": float(np.log(SURV_HR))}, _run_cox
    ),
    "survival_rmst": BenchDesign(
        "survival_rmst", 2000, {"survival RMST diff (IPTW)": _rmst_truth()}, _run_rmst
    ),
}
"""Every design ``run_designs`` knows, by name."""


def run_designs(
    names, n_rep: int, seed: int = 0, sizes: dict[str, int] | None = None
) -> pd.DataFrame:
    """Replicate each named design ``n_rep`` times; one summary row per reported quantity.

    Parameters
    ----------
    names : iterable of str
        Keys of ``DESIGNS``.
    n_rep : int
        Replications per design (at least 2).
    seed : int
        Run seed; replication ``b`` of every design draws from ``int_seed(seed, name, b)``.
    sizes : dict, optional
        People (units for ``did``) per replication, by design name; defaults ``DESIGNS[..].n``.

    Returns
    -------
    pandas.DataFrame
        ``method``, ``design``, ``n``, ``true_effect``, ``n_rep``, ``n_failed``,
        ``mean_estimate``, ``bias``, ``rmse``, ``coverage``, ``mean_se``, ``empirical_sd``,
        ``seconds`` (total over the design's replications, shared by its rows) and
        ``scale`` (the mean cost of ``skewed_costs``, else NaN).
    """
    names = list(names)
    unknown = [d for d in names if d not in DESIGNS]
    if unknown:
        raise ValueError(f"unknown design(s) {unknown}; choose from {list(DESIGNS)}")
    if n_rep < 2:
        raise ValueError(f"n_rep must be at least 2, got {n_rep}")
    rows = []
    for name in names:
        design = DESIGNS[name]
        n = (sizes or {}).get(name, design.n)
        draws: dict[str, list] = {q: [] for q in design.truths}
        truths: dict[str, list] = {q: [] for q in (*design.truths, "scale")}
        start = time.perf_counter()
        for b in range(n_rep):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    draw = design.run(n, int_seed(seed, name, b))
                got, own = draw.estimates, draw.truths or {}
            except ValueError:
                got, own = {q: (np.nan,) * 4 for q in design.truths}, {}
            for q in design.truths:
                draws[q].append(got[q])
                truths[q].append(own.get(q, design.truths[q]))
            truths["scale"].append(own.get("scale", np.nan))
        seconds = time.perf_counter() - start
        scale = float(np.nanmean(truths["scale"])) if np.isfinite(truths["scale"]).any() else np.nan
        for q in design.truths:
            est, se, lo, hi = (list(col) for col in zip(*draws[q], strict=True))
            row = summarise_replicates(q, est, se, lo, hi, np.asarray(truths[q]), seconds)
            rows.append({"design": name, "n": n, **row, "scale": scale})
    return pd.DataFrame(rows)
