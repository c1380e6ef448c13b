"""Cohort definitions as code: ``CohortSpec`` and the three default cohorts.

A spec holds the study design only (CohortMethod's "hypothesis" and "analysis choices"
groups): which fiscal year, who is in the target and comparator groups, the age range at
the index date, the enrollment, checkup, look-back and follow-up windows, and the
exclusions. Paths and engines never appear here. Specs round-trip through JSON and YAML
and are saved beside the tables they produced.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

from analysis.data.contract import PROGRAMS, RISK_TIERS
from analysis.errors import UserError

Comparator = Literal["offered", "all"]
COMPARATORS = ("offered", "all")


@dataclass(frozen=True)
class CohortSpec:
    """A declarative cohort definition.

    Attributes
    ----------
    spec_id : str
        Short identifier, e.g. ``"vitality-fy2023"``; names the output directory.
    description : str
        One sentence saying who is in the cohort.
    fiscal_year : int
        The fiscal year (April-March) of the offers and the participation.
    target : str or None
        Program whose participation in ``fiscal_year`` is the treatment (``treated``):
        ``"vitality"`` or ``"mystar"``. ``None``: no treatment contrast (risk-modelling
        cohort); ``treated`` then means taking part in any program.
    comparator : {"offered", "all"}
        ``"offered"``: the cohort starts from the people offered ``target`` in
        ``fiscal_year`` and the comparator is the offered non-participants.
        ``"all"``: the cohort starts from every enrollee in the data.
    offered_tiers : tuple of str or None
        Risk tiers of the offer to keep (``comparator="offered"`` only); ``None`` keeps all.
    age_min_years, age_max_years : int
        Inclusive age range at the index date (age rises on the birthday).
    washout_days : int
        Days of continuous NHI enrollment required up to the index date.
    min_followup_days : int
        Days of continuous enrollment required after the index date (0: none; requiring
        it conditions on the future, so the default cohorts censor instead).
    baseline_checkup_days : int
        The baseline checkup is the latest one in ``[d - baseline_checkup_days, d)``, where
        ``d`` is the offer date for people offered (the decision to take part: a
        participant's checkup between the letter and the program start is not its
        baseline) and the index date for everyone else.
    require_baseline_checkup : bool
        Exclude people without a checkup in that window.
    lookback_months : int
        Whole calendar months before the index month used for comorbidities, costs and
        utilisation (claims are monthly; the index month belongs to follow-up).
    followup_months : int
        Months from the index month covered by ``panel_monthly``.
    cost_windows_months : tuple of int
        Post-index cost windows reported in ``outcomes`` (``cost_total_12m`` ...).
    exclude_death_before_index : bool
        Exclude people who died before the index date.
    exclude_dialysis_before_index : bool
        Exclude people with any dialysis claim before the index month.
    exclude_prior_participants : bool
        Exclude people who took part in any program in an earlier fiscal year.
    nonoffered_index_date : datetime.date or None
        Index date of people neither offered nor taking part; ``None``: the median offer
        date of ``fiscal_year`` (the same calendar date for all, so that no future
        information leaks into baseline).
    """

    spec_id: str
    description: str
    fiscal_year: int
    target: str | None = None
    comparator: Comparator = "all"
    offered_tiers: tuple[str, ...] | None = None
    age_min_years: int = 40
    age_max_years: int = 74
    washout_days: int = 365
    min_followup_days: int = 0
    baseline_checkup_days: int = 365
    require_baseline_checkup: bool = True
    lookback_months: int = 12
    followup_months: int = 24
    cost_windows_months: tuple[int, ...] = (12, 24)
    exclude_death_before_index: bool = True
    exclude_dialysis_before_index: bool = True
    exclude_prior_participants: bool = False
    nonoffered_index_date: dt.date | None = None

    def __post_init__(self) -> None:
        _validate(self)

    # ---- serialisation -------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (tuples as lists, dates as ISO strings)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, dt.date):
                v = v.isoformat()
            out[f.name] = v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CohortSpec:
        """Build a spec from a dict; unknown or missing keys are a ``UserError``."""
        if not isinstance(d, dict):
            raise UserError(f"cohort spec must be a mapping, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise UserError(f"cohort spec: unknown field(s) {', '.join(unknown)}")
        missing = [n for n in ("spec_id", "description", "fiscal_year") if n not in d]
        if missing:
            raise UserError(f"cohort spec: missing field(s) {', '.join(missing)}")
        kw = dict(d)
        for key in ("offered_tiers", "cost_windows_months"):
            if isinstance(kw.get(key), list):
                kw[key] = tuple(kw[key])
        date = kw.get("nonoffered_index_date")
        if isinstance(date, str):
            try:
                kw["nonoffered_index_date"] = dt.date.fromisoformat(date)
            except ValueError:
                raise UserError(
                    f"cohort spec: nonoffered_index_date {date!r} is not an ISO date"
                ) from None
        return cls(**kw)

    def to_json(self) -> str:
        """The spec as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def to_yaml(self) -> str:
        """The spec as YAML text."""
        import yaml

        return yaml.safe_dump(self.to_dict(), allow_unicode=True, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> CohortSpec:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_yaml(cls, text: str) -> CohortSpec:
        import yaml

        return cls.from_dict(yaml.safe_load(text))

    def save(self, path: str | os.PathLike) -> Path:
        """Write the spec as JSON or YAML, chosen by the file suffix."""
        p = Path(path)
        text = self.to_yaml() if p.suffix in (".yml", ".yaml") else self.to_json()
        p.write_text(text, encoding="utf-8")
        return p

    def replace(self, **changes: Any) -> CohortSpec:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    # ---- windows -------------------------------------------------------------------
    @property
    def fy_start(self) -> dt.date:
        """First day of the fiscal year (1 April)."""
        return dt.date(self.fiscal_year, 4, 1)

    @property
    def fy_end(self) -> dt.date:
        """Last day of the fiscal year (31 March of the next calendar year)."""
        return dt.date(self.fiscal_year + 1, 3, 31)

    def check_data_window(self, first_month: dt.date, last_month: dt.date) -> None:
        """Refuse a spec whose windows fall outside the data's claim months.

        Parameters
        ----------
        first_month, last_month : datetime.date
            First days of the first and last service months in ``claims``.

        Raises
        ------
        UserError
            Naming ``fiscal_year`` (fiscal year outside the data) or ``lookback_months``
            (look-back before the first claim month for the earliest possible index).
        """
        if not (first_month <= self.fy_end and self.fy_start <= last_month):
            raise UserError(
                f"cohort spec {self.spec_id!r}: fiscal_year {self.fiscal_year} "
                f"({self.fy_start}..{self.fy_end}) is outside the data's claim months "
                f"{first_month:%Y-%m}..{last_month:%Y-%m}"
            )
        earliest = _month_ord(self.fy_start) - self.lookback_months
        if earliest < _month_ord(first_month):
            y, m = divmod(earliest, 12)
            raise UserError(
                f"cohort spec {self.spec_id!r}: lookback_months {self.lookback_months} "
                f"reaches {y}-{m + 1:02d}, before the first claim month {first_month:%Y-%m}"
            )

    def __repr__(self) -> str:
        return (
            f"<CohortSpec {self.spec_id!r} FY{self.fiscal_year} target={self.target} "
            f"comparator={self.comparator} age={self.age_min_years}-{self.age_max_years}>"
        )


def _month_ord(d: dt.date) -> int:
    return d.year * 12 + d.month - 1


def _fail(spec_id: str, name: str, message: str) -> None:
    raise UserError(f"cohort spec {spec_id!r}: {name} {message}")


def _validate(s: CohortSpec) -> None:
    sid = s.spec_id
    if not isinstance(sid, str) or not sid.strip():
        raise UserError("cohort spec: spec_id must be a non-empty string")
    if not isinstance(s.fiscal_year, int) or not 2000 <= s.fiscal_year <= 2100:
        _fail(sid, "fiscal_year", f"must be an integer year in 2000..2100, got {s.fiscal_year!r}")
    if s.target is not None and s.target not in PROGRAMS:
        _fail(sid, "target", f"must be one of {', '.join(PROGRAMS)} or null, got {s.target!r}")
    if s.comparator not in COMPARATORS:
        _fail(sid, "comparator", f"must be one of {', '.join(COMPARATORS)}, got {s.comparator!r}")
    if s.comparator == "offered" and s.target is None:
        _fail(sid, "comparator", "'offered' needs a target program")
    if s.offered_tiers is not None:
        if s.comparator != "offered":
            _fail(sid, "offered_tiers", "applies only with comparator 'offered'")
        bad = [t for t in s.offered_tiers if t not in RISK_TIERS]
        if bad or not s.offered_tiers:
            _fail(sid, "offered_tiers", f"must be a non-empty subset of {RISK_TIERS}, got {bad}")
    for name in ("age_min_years", "age_max_years"):
        v = getattr(s, name)
        if not isinstance(v, int) or not 0 <= v <= 120:
            _fail(sid, name, f"must be an integer 0..120, got {v!r}")
    if s.age_min_years > s.age_max_years:
        _fail(
            sid,
            "age_min_years",
            f"{s.age_min_years} > age_max_years {s.age_max_years}: the age range is empty",
        )
    for name in ("washout_days", "min_followup_days", "baseline_checkup_days"):
        v = getattr(s, name)
        if not isinstance(v, int) or v < 0:
            _fail(sid, name, f"must be a non-negative integer, got {v!r}")
    if s.require_baseline_checkup and s.baseline_checkup_days == 0:
        _fail(sid, "baseline_checkup_days", "is 0 but require_baseline_checkup is true")
    for name in ("lookback_months", "followup_months"):
        v = getattr(s, name)
        if not isinstance(v, int) or not 1 <= v <= 120:
            _fail(sid, name, f"must be an integer 1..120, got {v!r}")
    w = s.cost_windows_months
    if not w or any(not isinstance(x, int) or x < 1 for x in w):
        _fail(sid, "cost_windows_months", f"must be positive integers, got {w!r}")
    if max(w) > s.followup_months:
        _fail(sid, "cost_windows_months", f"{max(w)} exceeds followup_months {s.followup_months}")
    d = s.nonoffered_index_date
    if d is not None:
        if not isinstance(d, dt.date):
            _fail(sid, "nonoffered_index_date", f"must be a date, got {d!r}")
        if not s.fy_start <= d <= s.fy_end:
            _fail(sid, "nonoffered_index_date", f"{d} is outside FY{s.fiscal_year}")


def default_specs(fiscal_year: int) -> dict[str, CohortSpec]:
    """The three cohorts the evaluation needs, keyed ``vitality``, ``mystar``, ``risk``.

    Parameters
    ----------
    fiscal_year : int
        Fiscal year of the offers.

    Returns
    -------
    dict of str to CohortSpec

    Examples
    --------
    >>> specs = default_specs(2023)
    >>> specs["mystar"].offered_tiers
    ('high',)
    """
    fy = fiscal_year
    return {
        "vitality": CohortSpec(
            spec_id=f"vitality-fy{fy}",
            description=f"Offered the Vitality exercise program in FY{fy} (low-middle risk); "
            "participants vs offered non-participants.",
            fiscal_year=fy,
            target="vitality",
            comparator="offered",
            offered_tiers=("low", "middle"),
        ),
        "mystar": CohortSpec(
            spec_id=f"mystar-fy{fy}",
            description=f"Offered the Mystar coaching program in FY{fy} (high risk); "
            "participants vs offered non-participants.",
            fiscal_year=fy,
            target="mystar",
            comparator="offered",
            offered_tiers=("high",),
        ),
        "risk": CohortSpec(
            spec_id=f"risk-fy{fy}",
            description=f"Every enrollee aged 40-74 with a checkup in the year before the "
            f"FY{fy} index date (risk modelling).",
            fiscal_year=fy,
            target=None,
            comparator="all",
        ),
    }


def load_spec(path: str | os.PathLike) -> CohortSpec:
    """Read a spec from a ``.json``, ``.yml`` or ``.yaml`` file."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: cohort spec file not found")
    text = p.read_text(encoding="utf-8")
    if p.suffix in (".yml", ".yaml"):
        return CohortSpec.from_yaml(text)
    if p.suffix == ".json":
        return CohortSpec.from_json(text)
    raise UserError(f"{p}: cohort spec must be .json, .yml or .yaml")
