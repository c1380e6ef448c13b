"""The people of one chunk of residents: who is in NHI, their households and their traits.

A chunk of ``residents`` holds the NHI enrollees on the first day of the window (about
22% of residents, ages skewed to 60-74) and the people who join during the window
(retirement from employee insurance at 60-65, job changes, births into NHI households,
moving in). Each person carries a latent health motivation ``u`` (standard normal,
shared in part within a household) that the data never shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.data.synthetic.calendar import fy_end, fy_start

NHI_SHARE = 0.22
"""NHI enrollees per resident at the window start (calibration.md §5: about 19-22%)."""

INFLOW_PER_RESIDENT = 0.0155
"""New NHI entrants per resident and year (keeps enrollment falling about 2-3% a year)."""

MALE_SHARE = 0.48

# Age distribution of the NHI stock by 5-year band 0-4 ... 70-74 (relative weights):
# 65-74 is about 45% of enrollees and the mean age about 54 (calibration.md §5).
_STOCK_BANDS = np.array(
    [1.5, 2.0, 2.3, 2.7, 3.0, 3.0, 3.2, 3.7, 4.3, 5.3, 5.5, 6.0, 10.0, 18.0, 26.0]
)
# Age at entry of new enrollees: births, job changes, retirement at 60-64.
_INFLOW_BANDS = np.array(
    [6.0, 1.5, 1.5, 2.5, 6.0, 6.0, 5.5, 5.0, 4.5, 4.5, 4.5, 5.5, 34.0, 14.0, 4.0]
)


@dataclass
class People:
    """Person-level arrays of one chunk (index = local person number).

    Attributes
    ----------
    male : bool array
    birth : int array
        Birth day number.
    first_entry : int array
        Day the first NHI spell starts (may precede the window for the stock).
    household : int array
        Local household number.
    u : float array
        Latent health motivation (never written out).
    stock : bool array
        Enrolled on the first day of the window.
    """

    male: np.ndarray
    birth: np.ndarray
    first_entry: np.ndarray
    household: np.ndarray
    u: np.ndarray
    stock: np.ndarray

    @property
    def n(self) -> int:
        return len(self.male)


def _ages(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """Ages with the given mass in each 5-year band and a density without steps at the
    band edges.

    The cumulative distribution through the band edges is interpolated with a monotone
    cubic (PCHIP), which keeps every band's mass and makes the density continuous, so that
    single birth years show no jumps at 5-year edges (as in the census, where single-year
    counts change smoothly). Ages are drawn by inverting it on a grid of 0.01 years.
    """
    from scipy.interpolate import PchipInterpolator

    edges = 5.0 * np.arange(len(weights) + 1)
    cdf = PchipInterpolator(edges, np.concatenate([[0.0], np.cumsum(weights)]) / weights.sum())
    grid = np.linspace(0.0, edges[-1], int(edges[-1] * 100) + 1)
    values = np.maximum.accumulate(np.clip(cdf(grid), 0.0, 1.0))
    return np.interp(rng.random(n), values, grid)


def draw_people(rng: np.random.Generator, residents: int, first_fy: int, last_fy: int) -> People:
    """Draw the stock and the inflow of one chunk of residents.

    Parameters
    ----------
    rng : numpy.random.Generator
        The chunk's population stream.
    residents : int
        Residents in the chunk.
    first_fy, last_fy : int
        The fiscal-year window.
    """
    start = fy_start(first_fy)
    n_stock = int(round(residents * NHI_SHARE))
    n_years = last_fy - first_fy + 1
    n_in = rng.poisson(residents * INFLOW_PER_RESIDENT, size=n_years)

    age0 = _ages(rng, _STOCK_BANDS, n_stock)
    birth_stock = start - np.floor(age0 * 365.25).astype(np.int64)
    # Time already spent in NHI before the window: exponential, mean 9 years, not before birth.
    past = np.floor(rng.exponential(9 * 365.25, n_stock)).astype(np.int64)
    entry_stock = np.maximum(start - past, birth_stock)

    entry_in, birth_in = [], []
    for k, fy in enumerate(range(first_fy, last_fy + 1)):
        e = rng.integers(fy_start(fy), fy_end(fy) + 1, n_in[k])
        a = _ages(rng, _INFLOW_BANDS, n_in[k])
        a = np.where(a < 5, 0.0, a)  # the youngest entrants are newborns
        entry_in.append(e)
        birth_in.append(e - np.floor(a * 365.25).astype(np.int64))
    entry_in = np.concatenate(entry_in) if entry_in else np.zeros(0, np.int64)
    birth_in = np.concatenate(birth_in) if birth_in else np.zeros(0, np.int64)

    birth = np.concatenate([birth_stock, birth_in]).astype(np.int64)
    entry = np.concatenate([entry_stock, entry_in]).astype(np.int64)
    n = len(birth)
    male = rng.random(n) < MALE_SHARE
    stock = np.arange(n) < n_stock
    age = np.where(stock, start - birth, entry - birth) / 365.25
    household = _households(rng, male, age, stock)
    hh_u = rng.normal(0, 1, household.max() + 1 if n else 0)
    u = 0.5 * hh_u[household] + np.sqrt(0.75) * rng.normal(0, 1, n)
    return People(male=male, birth=birth, first_entry=entry, household=household, u=u, stock=stock)


def _households(
    rng: np.random.Generator, male: np.ndarray, age: np.ndarray, stock: np.ndarray
) -> np.ndarray:
    """Group people into NHI households.

    About 55% of the adults of the stock live as a man-woman couple paired in age order;
    the other adults live alone. People under 20 (and entrants under 20) join the
    household of an adult of the stock aged 25-59. Other entrants form their own household.

    Parameters
    ----------
    age : float array
        Age in years at the window start (stock) or at entry (entrants).
    stock : bool array
        Enrolled at the window start.
    """
    n = len(age)
    hh = np.full(n, -1, dtype=np.int64)
    adults = np.flatnonzero(stock & (age >= 20))
    couple = adults[rng.random(len(adults)) < 0.55]
    men, women = couple[male[couple]], couple[~male[couple]]
    men = men[np.argsort(age[men] + rng.normal(0, 3, len(men)), kind="stable")]
    women = women[np.argsort(age[women] + rng.normal(0, 3, len(women)), kind="stable")]
    k = min(len(men), len(women))
    hh[men[:k]] = np.arange(k)
    hh[women[:k]] = np.arange(k)
    next_id = k
    single = adults[hh[adults] < 0]
    hh[single] = next_id + np.arange(len(single))
    next_id += len(single)
    parents = adults[(age[adults] >= 25) & (age[adults] < 60)]
    children = np.flatnonzero(age < 20)
    if len(parents):
        hh[children] = hh[rng.choice(parents, len(children))]
    rest = np.flatnonzero(hh < 0)
    hh[rest] = next_id + np.arange(len(rest))
    return hh
