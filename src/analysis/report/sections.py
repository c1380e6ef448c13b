"""The sections of the annual evaluation report, built from a run's artifacts.

Each section reads only the artifacts listed in :data:`analysis.report.contract.REPORT_ARTIFACTS`
(never person-level tables), renders from whichever are present, and says in the report
language which ones are missing. :class:`Report` is what the report notebook calls; each
section comes back as a :class:`~analysis.report.markdown.ReportBlock` in both languages.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from analysis.config import MIN_CELL_COUNT
from analysis.report import publish
from analysis.report.contract import artifact_spec
from analysis.report.i18n import LANGS, Strings, check_lang
from analysis.report.markdown import (
    ReportBlock,
    auto_digits,
    escape,
    figure,
    fmt_count,
    fmt_number,
    fmt_p,
    fmt_signed,
    is_missing,
    label_id,
    pipe_table,
)
from analysis.report.run_record import (
    PROVENANCE_KEYS,
    effect_labels,
    fiscal_year_of,
    key_figures,
    previous_run,
    run_provenance,
    verify_command_text,
    wareki_fiscal_year,
)
from analysis.runs import artifacts as art

SECTIONS = tuple(range(1, 11))
"""Report section numbers."""


class _Writer:
    """Builds one language's markdown of the sections from a run directory."""

    def __init__(self, run_dir: Path, lang: str, min_cell_count: int):
        self.run_dir = run_dir
        self.lang = lang
        self.s = Strings(lang)
        self.min = min_cell_count
        self.missing: list[str] = []
        self.notes: list[str] = []

    # ---- artifact access ------------------------------------------------------
    def has(self, step: str, name: str) -> bool:
        if art.has_artifact(self.run_dir, step, name):
            return True
        self.missing.append(f"{step}/{name}")
        return False

    def note_missing(self, step: str, name: str) -> str:
        return f"> {self.s('missing.artifact', artifact=escape(f'{step}/{name}'))}\n"

    def table(self, step: str, name: str) -> pd.DataFrame:
        df = art.load_table(self.run_dir, step, name)
        need = [c for c in artifact_spec(step, name).fields if c not in df.columns]
        if need:
            raise ValueError(f"artifact {step}/{name}: columns {need} missing (REPORT_ARTIFACTS)")
        return df

    def numbers(self, step: str, name: str) -> dict:
        return art.load_numbers(self.run_dir, step, name)

    def text(self, row, base: str) -> str:
        return str(row[f"{base}_{self.lang}"])

    def meta_text(self, meta: dict, key: str) -> str | None:
        value = meta.get(key)
        return value.get(self.lang) if isinstance(value, dict) else value

    # ---- display pieces -------------------------------------------------------
    def caption(self, step: str, name: str) -> str:
        meta = art.artifact_meta(self.run_dir, step, name)
        cap = self.meta_text(meta, "caption") or f"{step}/{name}"
        pop = self.meta_text(meta, "population") or self.s("label.not_recorded")
        per = self.meta_text(meta, "period") or self.s("label.not_recorded")
        return self.s("table.caption", caption=cap, population=pop, period=per)

    def show_table(self, step: str, name: str, df: pd.DataFrame, headers, align=None) -> str:
        label = label_id("tbl", step, name)
        table = pipe_table(df, headers, self.caption(step, name), label, align)
        notes, self.notes = self.notes, []
        return table + "".join(f"\n{note}\n" for note in notes)

    def show_figure(self, step: str, name: str) -> str:
        """A figure artifact, in this language's edition ``<name>_<lang>`` when the run
        saved one (the run draws its figures in its own language)."""
        if not self.has(step, name):
            return self.note_missing(step, name)
        edition = f"{name}_{self.lang}"
        file = edition if art.has_artifact(self.run_dir, step, edition) else name
        meta = art.artifact_meta(self.run_dir, step, file)
        art.figure_path(self.run_dir, step, file)  # raises if the PNG itself is gone
        cap = self.meta_text(meta, "caption") or f"{step}/{name}"
        alt = self.meta_text(meta, "alt") or cap
        src = f"../{art.ARTIFACTS}/{step}/{file}.png"
        return figure(src, cap, alt, label_id("fig", step, name))

    def suppress(self, df: pd.DataFrame, counts: list[str], **options) -> pd.DataFrame:
        """``publish.suppress_small_counts``; a table it cannot protect loses every count.

        Hiding all counts of the block (and their derived columns) is the safe fallback; a
        note under the table says why (``self.notes``).
        """
        try:
            return publish.suppress_small_counts(df, counts, self.min, **options)
        except publish.UnprotectableTable:
            out = df.copy()
            for col in [*counts, *options.get("derived", {})]:
                out[col] = publish.COMPLEMENT_MARK
            self.notes.append(self.s("table.unprotectable"))
            return out

    def count(self, n) -> str:
        return fmt_count(n, self.min)

    def reason(self, record) -> str:
        """The withheld reason of a row or numbers dict, in this language when recorded,
        worded for readers (:func:`plain_reason`)."""
        text = record.get(f"reason_{self.lang}") if self.lang != "en" else None
        if not isinstance(text, str) or not text:
            text = record.get("reason")
        return plain_reason(text, self.s) if isinstance(text, str) else ""

    def method(self, name) -> str:
        """The estimator's name for readers (``aipw`` -> "二重頑健推定（AIPW）")."""
        key = f"method.{name}"
        return self.s(key) if key in self.s.keys() else str(name)

    def verdict(self, passed, reason) -> str:
        if bool(passed):
            return self.s("verdict.passed")
        return self.s("verdict.withheld", reason=reason or self.s("label.not_recorded"))

    def small_group(self, *ns) -> bool:
        """True if any count is under the minimum (or already shown as ``"<10"``)."""
        return any(
            (isinstance(n, str) and n.strip().startswith("<"))
            or (not is_missing(n) and not isinstance(n, str) and int(n) < self.min)
            for n in ns
        )

    def ci(self, lo, hi, digits: int) -> str:
        return self.s("label.ci_range", lo=fmt_number(lo, digits), hi=fmt_number(hi, digits))


# --------------------------------------------------------------------------- sections


def _digits(row) -> int:
    """Decimals of an estimate and its interval, set by the largest of the three, so that
    an estimate near zero is not printed to more places than its interval supports."""
    values = [abs(float(row[c])) for c in ("estimate", "ci_low", "ci_high")
              if not is_missing(row[c]) and not isinstance(row[c], str)]  # fmt: skip
    return auto_digits(max(values)) if values else 2


def _effect_rows(w: _Writer, df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in df.iterrows():
        small = w.small_group(r["n_treated"], r["n_control"])
        shown = bool(r["passed"]) and not small
        unit, d = w.text(r, "unit"), _digits(r)
        withheld = "—" if small else w.s("verdict.withheld_short")
        rows.append(
            [
                w.text(r, "label"),
                w.method(r["method"])
                if r.get("role", "primary") != "sensitivity"
                else w.s("effects.sensitivity", method=w.method(r["method"])),
                f"{fmt_signed(r['estimate'], d)} {unit}" if shown else withheld,
                w.ci(r["ci_low"], r["ci_high"], d) if shown else "—",
                fmt_p(r["p_value"]) if shown else "—",
                w.count(r["n_treated"]),
                w.count(r["n_control"]),
                w.s("verdict.small_group", min=w.min)
                if small
                else w.verdict(r["passed"], w.reason(r)),
            ]
        )
    return pd.DataFrame(rows)


def _effects_table(w: _Writer, step: str, name: str = "effects") -> str:
    if not w.has(step, name):
        return w.note_missing(step, name)
    df = w.table(step, name)
    body = _effect_rows(w, df)
    headers = [w.s(f"col.{c}") for c in
               ("outcome", "method", "estimate", "ci95", "p_value", "n_treated", "n_control",
                "verdict")]  # fmt: skip
    table = w.show_table(step, name, body, headers, list("llrrrrrl"))
    items = [f"- {escape(line)}" for line in _detectable_lines(w, df)]
    if not items:
        return table
    return "\n\n".join([table, f"## {w.s('power.heading')}", w.s("power.intro"), "\n".join(items)])


def _undetected(w: _Writer, r) -> bool:
    """A primary row shown as withheld, or shown with an interval that includes zero,
    whose groups are large enough to show (its MDE is then worth stating)."""
    if r.get("role", "primary") != "primary" or w.small_group(r["n_treated"], r["n_control"]):
        return False
    if is_missing(r.get("mde")) or isinstance(r.get("mde"), str):
        return False
    if not bool(r["passed"]):
        return True
    return bool(r["ci_low"] <= 0 <= r["ci_high"])


YEARS_SHOWN_MAX = 20
"""Beyond this many years at this year's number of participants, the report says "more
than 20 years" rather than a number no plan would use."""


def _need_text(w: _Writer, r, key: str = "need") -> str:
    """The participants needed for the row's reference effect ("" without one)."""
    effect, n = r.get("reference_effect"), r.get("n_required")
    if is_missing(effect) or is_missing(n):
        return ""
    unit = w.text(r, "unit")
    shown = fmt_signed(effect, auto_digits(effect))
    if not math.isfinite(float(n)):
        return w.s("power.need_never", effect=shown, unit=unit)
    if float(n) <= float(r["n_treated"]):
        return w.s("power.need_met", effect=shown, unit=unit)
    years = float(r["years_required"])
    if years > YEARS_SHOWN_MAX:  # accumulating years alone will not get there
        key = f"{key}_long"
    return w.s(f"power.{key}", effect=shown, unit=unit, n=fmt_number(n, 0),
               years=fmt_number(years, 1 if years < 10 else 0), max=YEARS_SHOWN_MAX,
               mde=fmt_number(r["mde"], auto_digits(r["mde"])))  # fmt: skip


def _detectable_lines(w: _Writer, df: pd.DataFrame) -> list[str]:
    """One sentence per undetected primary row: its MDE and the participants it needs."""
    lines = []
    for _, r in df.iterrows():
        if not _undetected(w, r):
            continue
        mde = fmt_number(r["mde"], auto_digits(r["mde"]))
        item = w.s("power.item", label=w.text(r, "label"), unit=w.text(r, "unit"), mde=mde,
                   n_treated=w.count(r["n_treated"]), n_control=w.count(r["n_control"]))  # fmt: skip
        need = _need_text(w, r)
        lines.append(f"{item} {need}".strip() if w.lang == "en" else item + need)
    return lines


def _detectable_summary(w: _Writer, r) -> str:
    """The headline's short statement of its MDE (and the participants needed)."""
    if not _undetected(w, r):
        return ""
    unit = w.text(r, "unit")
    effect, n = r.get("reference_effect"), r.get("n_required")
    mde = fmt_number(r["mde"], auto_digits(r["mde"]))
    if (is_missing(effect) or is_missing(n) or not math.isfinite(float(n))
            or float(n) <= float(r["n_treated"])):  # fmt: skip
        return w.s("power.summary_mde", mde=mde, unit=unit)
    return _need_text(w, r, key="summary")


def _headlines(w: _Writer) -> list[str]:
    lines = []
    for step in ("03_effect_exercise", "04_effect_costs"):
        if not w.has(step, "effects"):
            lines.append(w.note_missing(step, "effects"))
            continue
        df = w.table(step, "effects")
        for _, r in df[df["headline"].astype(bool)].iterrows():
            small = w.small_group(r["n_treated"], r["n_control"])
            power = _detectable_summary(w, r)
            sep = " " if w.lang == "en" and power else ""
            if small:
                lines.append(w.s("summary.effect_small", label=w.text(r, "label"), min=w.min))
            elif not bool(r["passed"]):
                text = w.s(
                    "summary.effect_withheld",
                    label=w.text(r, "label"),
                    reason=w.reason(r) or w.s("label.not_recorded"),
                )
                lines.append(text + sep + power)
            else:
                key = (
                    "summary.effect_sig"
                    if r["ci_low"] > 0 or r["ci_high"] < 0
                    else "summary.effect_nonsig"
                )
                d = _digits(r)
                text = w.s(
                    key,
                    label=w.text(r, "label"),
                    unit=w.text(r, "unit"),
                    est=fmt_signed(r["estimate"], d),
                    lo=fmt_number(r["ci_low"], d),
                    hi=fmt_number(r["ci_high"], d),
                )
                lines.append(text + sep + power)
    return [f"- {escape(line)}" if not line.startswith(">") else line for line in lines]


def _roi_sentence(w: _Writer) -> str:
    if not w.has("04_effect_costs", "roi"):
        return w.note_missing("04_effect_costs", "roi")
    roi = w.numbers("04_effect_costs", "roi")
    if not roi.get("passed", False):
        return w.s("summary.roi_withheld", reason=w.reason(roi) or w.s("label.not_recorded"))
    return w.s(
        "summary.roi",
        cost=fmt_number(roi["cost_yen"] / 1000, 0),
        savings=fmt_number(roi["savings_yen"] / 1000, 0),
        roi=fmt_number(roi["roi"], 2),
        lo=fmt_number(roi["roi_ci_low"], 2),
        hi=fmt_number(roi["roi_ci_high"], 2),
    )


def _yoy(w: _Writer) -> str:
    prev = previous_run(w.run_dir)
    if prev is None:
        return w.s("yoy.none") + "\n"
    now, before = key_figures(w.run_dir), key_figures(prev)
    year = fiscal_year_of(w.run_dir)
    labels = effect_labels(w.run_dir, w.lang)
    rows = []
    for key in [k for k in now if k in before]:
        a, b = now[key], before[key]
        is_count = key.startswith(("n_", "program_n_"))
        hide = is_count and w.small_group(a, b)
        outcome = key.split(":", 1)[-1]  # "effect:<program>:<name>" -> "<program>:<name>"
        label = w.s(f"yoy.{key.split(':')[0]}", outcome=labels.get(outcome, outcome))
        if is_count:
            shown = [w.count(b), w.count(a)]
            change = "—" if None in (a, b) or hide else fmt_signed(a - b, 0)
        else:
            d = auto_digits(a if a is not None else b)
            shown = [fmt_number(b, d), fmt_number(a, d)]
            change = "—" if None in (a, b) else fmt_signed(a - b, d)
        rows.append([label, *shown, change])
    df = pd.DataFrame(rows)
    headers = [
        w.s("yoy.item"),
        w.s("yoy.previous", year=year - 1),
        w.s("yoy.current", year=year),
        w.s("yoy.change"),
    ]
    cap = w.s("yoy.caption", previous=prev.name, previous_year=year - 1, year=year)
    return pipe_table(df, headers, cap, "tbl-year-over-year", list("lrrr"))


def section_1(w: _Writer) -> list[str]:
    out = []
    if w.has("01_cohort", "key_numbers"):
        kn = w.numbers("01_cohort", "key_numbers")
        out.append(
            w.s(
                "summary.population",
                n_enrolled=w.count(kn["n_enrolled"]),
                n_examined=w.count(kn["n_examined"]),
                start=fmt_date(kn["period_start"], w.lang),
                end=fmt_date(kn["period_end"], w.lang),
            )
        )
    else:
        out.append(w.note_missing("01_cohort", "key_numbers"))
    if w.has("03_effect_exercise", "participation"):
        part = w.suppress(
            w.table("03_effect_exercise", "participation"),
            ["n_enrolled"],
            known_totals="columns",
        )
        w.notes.clear()  # prose, not a table: the legend in section 10 explains "x"
        items = [
            w.s("summary.participant_item", program=w.text(r, "program"), n=r["n_enrolled"])
            for _, r in part.iterrows()
        ]
        out.append(
            w.s(
                "summary.participants",
                items=escape("、".join(items) if w.lang == "ja" else ", ".join(items)),
            )
        )
    out.append(f"## {w.s('summary.headline')}\n\n" + "\n".join(_headlines(w)))
    out.append(_roi_sentence(w))
    out.append(f"## {w.s('yoy.heading')}\n\n" + _yoy(w))
    return out


def section_2(w: _Writer) -> list[str]:
    out = [
        w.s("program.exercise"),
        w.s("program.coaching"),
        w.s("program.nudge"),
        f"## {w.s('program.tier_heading')}",
        w.s("program.tier_rule"),
    ]
    if w.has("04_effect_costs", "roi"):
        roi = w.numbers("04_effect_costs", "roi")
        out.append(w.s("program.budget", budget=fmt_number(roi["budget_yen"] / 1000, 0)))
    else:
        out.append(w.note_missing("04_effect_costs", "roi"))
    out += [f"## {w.s('logic.heading')}", w.s("logic.intro"), _logic_model(w)]
    return out


def _logic_model(w: _Writer) -> str:
    """The logic-model table: each level, what it holds, its indicator this year and last
    year, and the change (counts under 10 and withheld effects shown as such)."""
    from analysis.report.logic_model import (
        COUNT_LEVELS,
        LEVELS,
        logic_model_figures,
        outcome_row,
    )

    now = logic_model_figures(w.run_dir)
    prev = previous_run(w.run_dir)
    before = logic_model_figures(prev) if prev is not None else dict.fromkeys(LEVELS)
    year = fiscal_year_of(w.run_dir)
    rows = []
    for level in LEVELS:
        a, b = now[level], before[level]
        if level in COUNT_LEVELS:
            shown = [w.count(b), w.count(a)]
            hide = w.small_group(*(v for v in (a, b) if v is not None))
            change = "—" if None in (a, b) or hide else fmt_signed(a - b, 0)
        else:
            d = auto_digits(a if a is not None else b) if level == "outcomes" else 0
            shown = [fmt_number(b, d), fmt_number(a, d)]
            change = "—" if None in (a, b) else fmt_signed(a - b, d)
        indicator = w.s(f"logic.{level}_indicator")
        if level == "outcomes":
            row = outcome_row(w.run_dir)
            if row is not None:
                unit = w.text(row, "unit").strip("（）() ")  # "（割合の差）" -> "割合の差"
                indicator = w.s("logic.outcomes_effect", label=w.text(row, "label"), unit=unit)
        rows.append([w.s(f"logic.{level}"), w.s(f"logic.{level}_what"), indicator, *shown,
                     change])  # fmt: skip
    headers = [w.s("logic.level"), w.s("logic.what"), w.s("logic.indicator"),
               w.s("yoy.previous", year=(year or 1) - 1), w.s("yoy.current", year=year or ""),
               w.s("yoy.change")]  # fmt: skip
    cap = w.s("logic.caption", previous=prev.name if prev is not None else "—")
    return pipe_table(pd.DataFrame(rows), headers, cap, "tbl-logic-model", list("lllrrr"))


def section_3(w: _Writer) -> list[str]:
    out = [w.show_figure("01_cohort", "attrition_flow")]
    if w.has("01_cohort", "attrition"):
        df = publish.suppress_attrition(w.table("01_cohort", "attrition"), min_cell_count=w.min)
        body = pd.DataFrame({0: df[f"label_{w.lang}"], 1: df["n_excluded"], 2: df["n_remaining"]})
        headers = [w.s("col.step"), w.s("col.n_excluded"), w.s("col.n_remaining")]
        out.append(w.show_table("01_cohort", "attrition", body, headers, list("lrr")))
    else:
        out.append(w.note_missing("01_cohort", "attrition"))
    if w.has("01_cohort", "table1"):
        df = w.table("01_cohort", "table1")
        body = pd.DataFrame(
            {
                0: df[f"variable_{w.lang}"],
                1: [_guard_prefix(v, w.min) for v in df["participants"]],
                2: [_guard_prefix(v, w.min) for v in df["comparison"]],
                3: [fmt_number(v, 2) for v in df["smd"]],
            }
        )
        headers = [
            w.s("col.variable"),
            w.s("col.participants"),
            w.s("col.comparison"),
            w.s("col.smd"),
        ]
        out.append(w.show_table("01_cohort", "table1", body, headers, list("lrrr")))
    else:
        out.append(w.note_missing("01_cohort", "table1"))
    if w.has("01_cohort", "checkup_participation"):
        df = w.suppress(
            w.table("01_cohort", "checkup_participation"),
            ["n_enrolled", "n_examined"],
            known_totals="columns",
            derived={"rate_pct": ["n_enrolled", "n_examined"]},
        )
        body = pd.DataFrame(
            {
                0: df["age_band"],
                1: df[f"sex_{w.lang}"],
                2: df["n_enrolled"],
                3: df["n_examined"],
                4: [fmt_number(v, 1) for v in df["rate_pct"]],
            }
        )
        headers = [
            w.s(f"col.{c}") for c in ("age_band", "sex", "n_enrolled", "n_examined", "rate_pct")
        ]
        out.append(w.show_table("01_cohort", "checkup_participation", body, headers, list("llrrr")))
    else:
        out.append(w.note_missing("01_cohort", "checkup_participation"))
    return out


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip


def fmt_date(value, lang: str) -> str:
    """An ISO date for prose: ``2023年4月1日`` or ``1 April 2023`` (other text unchanged)."""
    try:
        d = dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    if lang == "ja":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year}"


_UNMET = re.compile(
    r"^(?P<head>(?P<program>[\w（）() ]+): )?(?P<rule>.+?)\s?\((?:観測値|observed) (?P<value>[^()]*)\)$"
)


def plain_reason(text: str, strings: Strings) -> str:
    """A withheld reason worded for readers.

    The diagnostics record a failed gate as its rule and the observed value
    (``"max |SMD| < 0.1 after adjustment (observed 0.188)"``), which reads as if the rule
    held; each such part becomes ``verdict.unmet`` ("criterion not met: ..."). A leading
    program key (``"vitality: ..."``, from the ROI) becomes the program's label. Other
    text (an estimator's error) is kept.
    """
    from analysis.study.effects import PROGRAM_EN, PROGRAM_JA

    labels = PROGRAM_JA if strings.lang == "ja" else PROGRAM_EN
    parts = re.split(r"(; |、)", text)
    for i, part in enumerate(parts):
        m = _UNMET.match(part)
        if m is None:
            continue
        head = m["head"] or ""
        if m["program"] in labels:
            head = f"{labels[m['program']]}: "
        parts[i] = head + strings("verdict.unmet", rule=m["rule"], value=m["value"])
    return "".join(parts)


_PREFIX = re.compile(r"^\s*(\d[\d,]*)(\s*\(.*)$")


def _guard_prefix(value, min_cell_count: int) -> str:
    """Hide a leading small count in text such as ``"7 (3.5%)"`` (the percent too)."""
    text = fmt_number(value)
    m = _PREFIX.match(text)
    if m and 0 < int(m.group(1).replace(",", "")) < min_cell_count:
        return f"<{min_cell_count}"
    if re.fullmatch(r"\d[\d,]*", text) and 0 < int(text.replace(",", "")) < min_cell_count:
        return f"<{min_cell_count}"
    return text


def section_4(w: _Writer) -> list[str]:
    out = []
    if w.has("02_risk", "tiers"):
        counts = ["n_low", "n_middle", "n_high"]
        df = w.suppress(w.table("02_risk", "tiers"), counts)
        body = pd.DataFrame(
            {
                0: df["age_band"],
                1: df[f"sex_{w.lang}"],
                **{i + 2: df[c] for i, c in enumerate(counts)},
            }
        )
        headers = [w.s("col.age_band"), w.s("col.sex")] + [w.s(f"col.{c}") for c in counts]
        out.append(w.s("risk.intro"))
        out.append(w.show_table("02_risk", "tiers", body, headers, list("llrrr")))
    else:
        out.append(w.note_missing("02_risk", "tiers"))
    if w.has("02_risk", "validation"):
        v = w.numbers("02_risk", "validation")
        out.append(
            w.s(
                "risk.validation",
                c=fmt_number(v["c_index"], 3),
                lo=fmt_number(v["c_index_ci_low"], 3),
                hi=fmt_number(v["c_index_ci_high"], 3),
                slope=fmt_number(v["calibration_slope"], 2),
                events=w.count(v["n_events"]),
                years=fmt_number(v["horizon_years"], 0),
            )
        )
    else:
        out.append(w.note_missing("02_risk", "validation"))
    out.append(w.show_figure("02_risk", "calibration"))
    # runs made before the comparator existed have no such artifacts: nothing to show
    if art.has_artifact(w.run_dir, "02_risk", "model_comparison"):
        df = w.table("02_risk", "model_comparison")
        body = pd.DataFrame(
            {
                0: df[f"model_{w.lang}"],
                1: df["harrell_c"].map(lambda x: fmt_number(x, 3)),
                2: df["calibration_slope"].map(lambda x: fmt_number(x, 2)),
                3: df["brier"].map(lambda x: fmt_number(x, 3)),
                4: df["events"].map(fmt_number),
            }
        )
        cols = ("model", "harrell_c", "calibration_slope", "brier", "events")
        out.append(w.s("risk.comparison"))
        out.append(
            w.show_table(
                "02_risk", "model_comparison", body, [w.s(f"col.{c}") for c in cols], list("lrrrr")
            )
        )
    if art.has_artifact(w.run_dir, "02_risk", "decision_curve"):
        out.append(w.show_figure("02_risk", "decision_curve"))
    return out


def section_5(w: _Writer) -> list[str]:
    out = []
    if w.has("03_effect_exercise", "participation"):
        counts = ["n_offered", "n_enrolled", "n_completed"]
        df = w.suppress(
            w.table("03_effect_exercise", "participation"),
            counts,
            known_totals="columns",
            derived={
                "uptake_pct": ["n_offered", "n_enrolled"],
                "completion_pct": ["n_enrolled", "n_completed"],
            },
        )
        body = pd.DataFrame(
            {
                0: df[f"program_{w.lang}"],
                **{i + 1: df[c] for i, c in enumerate(counts)},
                4: [fmt_number(v, 1) for v in df["uptake_pct"]],
                5: [fmt_number(v, 1) for v in df["completion_pct"]],
            }
        )
        headers = [w.s(f"col.{c}") for c in ("program", *counts, "uptake_pct", "completion_pct")]
        out.append(
            w.show_table("03_effect_exercise", "participation", body, headers, list("lrrrrr"))
        )
    else:
        out.append(w.note_missing("03_effect_exercise", "participation"))
    if w.has("03_effect_exercise", "letter_experiment"):
        counts = ["n_offered", "n_enrolled"]
        df = w.suppress(
            w.table("03_effect_exercise", "letter_experiment"),
            counts,
            known_totals="columns",
            derived={c: counts for c in ("uptake_pct", "diff_pct", "ci_low", "ci_high")},
        )
        body = pd.DataFrame(
            {
                0: df[f"variant_{w.lang}"],
                1: df["n_offered"],
                2: df["n_enrolled"],
                3: [fmt_number(v, 1) for v in df["uptake_pct"]],
                4: [fmt_signed(v, 1) if not isinstance(v, str) else v for v in df["diff_pct"]],
                5: [
                    w.s("label.ci_range", lo=fmt_number(a, 1), hi=fmt_number(b, 1))
                    if not is_missing(a) and not isinstance(a, str)
                    else "—"
                    for a, b in zip(df["ci_low"], df["ci_high"], strict=True)
                ],
            }
        )
        headers = [
            w.s(f"col.{c}")
            for c in ("letter", "n_offered", "n_enrolled", "uptake_pct", "diff_pct", "ci95")
        ]
        out.append(w.s("participation.letter_intro"))
        out.append(
            w.show_table("03_effect_exercise", "letter_experiment", body, headers, list("lrrrrr"))
        )
    else:
        out.append(w.note_missing("03_effect_exercise", "letter_experiment"))
    out.append(f"## {w.s('reach.heading')}")
    out.append(w.s("reach.intro"))
    out.append(_reach_table(w))
    out.append(w.show_figure("03_effect_exercise", "reach_uptake"))
    out += _events(w)
    return out


def _events(w: _Writer) -> list[str]:
    """The sports-community events: reach by group, and the association of attendance
    with next year's exercise habit, stated as such with its adjustment set."""
    step = "03_effect_exercise"
    out = [f"## {w.s('events.heading')}"]
    if w.has(step, "events_summary"):
        n = w.numbers(step, "events_summary")
        out.append(w.s("events.summary", n_events=fmt_number(n["n_events"], 0),
                       **{k: escape(w.count(n[k])) for k in ("n_attendances",
                                                              "n_attendees_nhi", "n_repeat")}))  # fmt: skip
    else:
        out.append(w.note_missing(step, "events_summary"))
    if w.has(step, "events_reach"):
        from analysis.study import events

        df = _suppress_rate_blocks(w, w.table(step, "events_reach"), ["dimension"],
                                   events.COUNTS, events.RATES)  # fmt: skip
        body = pd.DataFrame(
            {
                0: df[f"dimension_{w.lang}"],
                1: df[f"group_{w.lang}"],
                2: df["n_enrollees"],
                3: df["n_attendees"],
                4: [_rate_cell(w, *v) for v in
                    df[["reach_pct", "reach_ci_low", "reach_ci_high"]].to_numpy()],
                5: df["n_repeat"],
                6: [_rate_cell(w, *v) for v in
                    df[["repeat_pct", "repeat_ci_low", "repeat_ci_high"]].to_numpy()],
            }
        )  # fmt: skip
        cols = ("dimension", "group", "n_enrollees", "n_attendees", "events_reach_ci",
                "n_repeat", "repeat_ci")  # fmt: skip
        out.append(w.s("events.reach_intro"))
        out.append(w.show_table(step, "events_reach", body, [w.s(f"col.{c}") for c in cols],
                                list("llrrrrr")))  # fmt: skip
    else:
        out.append(w.note_missing(step, "events_reach"))
    out.append(w.show_figure(step, "events_reach_rate"))
    out.append(f"## {w.s('events.association_heading')}")
    out += _event_association(w)
    return out


def _event_association(w: _Writer) -> list[str]:
    from analysis.study.exercise import covariate_label

    step, out = "03_effect_exercise", []
    if not (w.has(step, "event_association") and w.has(step, "event_association_adjusted")):
        for name in ("event_association", "event_association_adjusted"):
            if not art.has_artifact(w.run_dir, step, name):
                out.append(w.note_missing(step, name))
        return out
    df = w.suppress(w.table(step, "event_association"), ["n"], known_totals="columns",
                    derived={"share_with_habit": ["n"]})  # fmt: skip
    share = {r["group"]: r["share_with_habit"] for _, r in df.iterrows()}

    def pct(v) -> str:
        return v if isinstance(v, str) else fmt_number(100 * v, 1) if not is_missing(v) else "—"

    adj = w.numbers(step, "event_association_adjusted")
    # the artifact lists every adjustment variable; the wording names Vitality
    # participation ("treat") itself, after the baseline covariates
    names = [covariate_label(c, w.lang) for c in adj["covariates"] if c != "treat"]
    sep = "、" if w.lang == "ja" else ", "
    common = dict(attended=pct(share.get("attended")), not_attended=pct(share.get("not_attended")),
                  covariates=sep.join(names))  # fmt: skip
    if is_missing(adj.get("estimate")) or w.small_group(adj["n_attended"], adj["n_not_attended"]):
        reason = adj.get("error") or w.s("label.not_recorded")
        out.append(w.s("events.association_withheld", reason=reason, **common))
    else:
        out.append(w.s("events.association", est=fmt_signed(100 * adj["estimate"], 1),
                       lo=fmt_number(100 * adj["ci_low"], 1),
                       hi=fmt_number(100 * adj["ci_high"], 1), **common))  # fmt: skip
    out.append(w.s("events.caution"))
    body = pd.DataFrame({0: df[f"group_{w.lang}"], 1: df["n"],
                         2: [pct(v) for v in df["share_with_habit"]]})  # fmt: skip
    headers = [w.s("col.attendance"), w.s("col.n"), w.s("col.share_habit")]
    out.append(w.show_table(step, "event_association", body, headers, list("lrr")))
    return out


def _rate_cell(w: _Writer, pct, lo, hi) -> str:
    """``"12.1 (7.3〜19.2)"``; a hidden rate keeps its mark, a rate of nobody is "—"."""
    if isinstance(pct, str):
        return pct
    if is_missing(pct):
        return "—"
    return f"{fmt_number(pct, 1)} ({w.ci(lo, hi, 1)})"


def _suppress_rate_blocks(w: _Writer, df, by: list[str], counts, rates) -> pd.DataFrame:
    """A published table of rates suppressed again, block by block, as the step did
    (:func:`analysis.study.reach.with_rates`: nested counts, known column totals)."""
    from analysis.study.reach import rate_derived

    derived = rate_derived(rates)
    return pd.concat([w.suppress(b, counts, known_totals="columns", derived=derived,
                                 nested=counts)
                      for _, b in df.groupby(by, sort=False)])  # fmt: skip


def _reach_table(w: _Writer) -> str:
    """Offers, uptake and completion by group, suppressed again block by block (each
    program and dimension is one count table whose column totals are known)."""
    step, name = "03_effect_exercise", "reach"
    if not w.has(step, name):
        return w.note_missing(step, name)
    from analysis.study import reach

    df = _suppress_rate_blocks(w, w.table(step, name), ["program", "dimension"],
                               reach.COUNTS, reach.RATES)  # fmt: skip
    body = pd.DataFrame(
        {
            0: df[f"program_{w.lang}"],
            1: df[f"dimension_{w.lang}"],
            2: df[f"group_{w.lang}"],
            3: df["n_offered"],
            4: df["n_enrolled"],
            5: [_rate_cell(w, *v) for v in
                df[["uptake_pct", "uptake_ci_low", "uptake_ci_high"]].to_numpy()],
            6: df["n_completed"],
            7: [_rate_cell(w, *v) for v in
                df[["completion_pct", "completion_ci_low", "completion_ci_high"]].to_numpy()],
        }
    )  # fmt: skip
    cols = ("program", "dimension", "group", "n_offered", "n_participants", "uptake_ci",
            "n_completed", "completion_ci")  # fmt: skip
    return w.show_table(step, name, body, [w.s(f"col.{c}") for c in cols], list("lllrrrrr"))


def section_6(w: _Writer) -> list[str]:
    return [
        w.show_figure("03_effect_exercise", "steps"),
        w.s("effects.reading"),
        _effects_table(w, "03_effect_exercise"),
    ]


def section_7(w: _Writer) -> list[str]:
    from analysis.study.costs import COST_ESTIMAND, PMPM_ESTIMAND

    out = [
        w.s("effects.cost_estimand", estimand=COST_ESTIMAND[w.lang]),
        w.s("effects.pmpm_estimand", estimand=PMPM_ESTIMAND[w.lang]),
        _effects_table(w, "04_effect_costs"),
        w.show_figure("04_effect_costs", "event_study"),
        w.show_figure("04_effect_costs", "severe_events_km"),
        _roi_sentence(w),
    ]
    if w.has("04_effect_costs", "roi"):
        out.append(_break_even_sentence(w, w.numbers("04_effect_costs", "roi")))
    return out + _pooled_block(w)


def _pooled_block(w: _Writer) -> list[str]:
    """The single year's and the pooled years' estimates side by side (step 06), each with
    its own verdict; a run without ``--pool-from`` says so (it is not a missing artifact)."""
    step, name = "06_pooled", "effects"
    heading = f"## {w.s('pooled.heading')}"
    if not art.has_artifact(w.run_dir, step, name):
        return [heading, w.s("pooled.not_run")]
    df = w.table(step, name)
    rows = []
    for _, r in df.iterrows():
        cells = [w.text(r, "label"),
                 w.method(r["method"]) if r.get("role", "primary") != "sensitivity"
                 else w.s("effects.sensitivity", method=w.method(r["method"]))]  # fmt: skip
        for side in ("single", "pooled"):
            v = {f: r[f"{side}_{f}"] for f in ("estimate", "ci_low", "ci_high")}
            n1, n0 = r[f"{side}_n_treated"], r[f"{side}_n_control"]
            small = w.small_group(n1, n0)
            shown = bool(r[f"{side}_passed"]) and not small
            d = _digits(v)
            cells += [
                f"{fmt_signed(v['estimate'], d)} {w.text(r, 'unit')}"
                f" ({w.ci(v['ci_low'], v['ci_high'], d)})" if shown
                else "—" if small else w.s("verdict.withheld_short"),
                w.count(n1),
            ]  # fmt: skip
        reason = {"reason": r["pooled_reason"], "reason_ja": r.get("pooled_reason_ja", "")}
        small = w.small_group(r["pooled_n_treated"], r["pooled_n_control"])
        cells.append(w.s("verdict.small_group", min=w.min) if small
                     else w.verdict(r["pooled_passed"], w.reason(reason)))  # fmt: skip
        rows.append(cells)
    single, pooled = df["single_years"].iloc[0], df["pooled_years"].iloc[0]
    headers = [w.s("col.outcome"), w.s("col.method"),
               w.s("pooled.col_estimate", years=single), w.s("pooled.col_n", years=single),
               w.s("pooled.col_estimate", years=pooled), w.s("pooled.col_n", years=pooled),
               w.s("pooled.col_verdict", years=pooled)]  # fmt: skip
    table = w.show_table(step, name, pd.DataFrame(rows), headers, list("llrrrrl"))
    return [heading, w.s("pooled.intro", single=single, pooled=pooled), table]


def _break_even_sentence(w: _Writer, roi: dict) -> str:
    """Break-even time, withheld with the ROI: both come from the same savings estimate."""
    if not roi.get("passed", False):
        return w.s("roi.break_even_withheld")
    years = roi.get("break_even_years")
    if is_missing(years):
        return w.s("roi.no_break_even")
    return w.s("roi.break_even", years=fmt_number(years, 1))


def section_8(w: _Writer) -> list[str]:
    out = []
    if w.has("05_targeting", "subgroups"):
        df = w.table("05_targeting", "subgroups")
        rows = []
        for _, r in df.iterrows():
            small = w.small_group(r["n"])
            shown = bool(r["passed"]) and not small
            d = _digits(r)
            withheld = "—" if small else w.s("verdict.withheld_short")
            rows.append(
                [
                    w.text(r, "subgroup"),
                    w.count(r["n"]),
                    fmt_signed(r["estimate"], d) if shown else withheld,
                    w.ci(r["ci_low"], r["ci_high"], d) if shown else "—",
                    w.s("verdict.small_group", min=w.min)
                    if small
                    else w.verdict(r["passed"], w.reason(r)),
                ]
            )
        headers = [w.s(f"col.{c}") for c in ("subgroup", "n", "estimate", "ci95", "verdict")]
        out.append(
            w.show_table("05_targeting", "subgroups", pd.DataFrame(rows), headers, list("lrrrl"))
        )
    else:
        out.append(w.note_missing("05_targeting", "subgroups"))
    out.append(w.show_figure("05_targeting", "forest"))
    out.append(f"## {w.s('targeting.heading')}")
    if w.has("05_targeting", "recommendation"):
        out.append(escape(w.numbers("05_targeting", "recommendation")[f"text_{w.lang}"]))
    else:
        out.append(w.note_missing("05_targeting", "recommendation"))
    return out


def section_9(w: _Writer) -> list[str]:
    out = [
        w.s("robustness.intro"),
        w.show_figure("03_effect_exercise", "love_plot"),
        w.show_figure("03_effect_exercise", "overlap"),
    ]
    step = "03_effect_exercise"
    if w.has(step, "sensitivity"):
        df = w.table(step, "sensitivity")
        body = pd.DataFrame(
            {
                0: df[f"label_{w.lang}"],
                1: [fmt_number(v, 2) for v in df["e_value"]],
                2: [fmt_number(v, 2) for v in df["e_value_ci"]],
                3: [fmt_number(v, 3) for v in df["robustness_value"]],
            }
        )
        headers = [
            w.s(f"col.{c}") for c in ("outcome", "e_value", "e_value_ci", "robustness_value")
        ]
        out.append(w.show_table(step, "sensitivity", body, headers, list("lrrr")))
    else:
        out.append(w.note_missing(step, "sensitivity"))
    if w.has(step, "negative_controls"):
        df = w.table(step, "negative_controls")
        digits = [
            auto_digits(max(abs(a), abs(b)))
            for a, b in zip(df["ci_low"], df["ci_high"], strict=True)
        ]
        body = pd.DataFrame(
            {
                0: df[f"label_{w.lang}"],
                1: [fmt_signed(v, d) for v, d in zip(df["estimate"], digits, strict=True)],
                2: [
                    w.ci(a, b, d)
                    for a, b, d in zip(df["ci_low"], df["ci_high"], digits, strict=True)
                ],
                3: [fmt_p(p) for p in df["p_value"]],
                4: [
                    w.s("negative.withheld")
                    if not math.isfinite(e)
                    else w.s("negative.ok")
                    if bool(p)
                    else w.s("negative.flag")
                    for e, p in zip(df["estimate"].astype(float), df["passed"], strict=True)
                ],  # fmt: skip
            }
        )
        headers = [w.s(f"col.{c}") for c in ("outcome", "estimate", "ci95", "p_value", "verdict")]
        out.append(w.show_table(step, "negative_controls", body, headers, list("lrrrl")))
    else:
        out.append(w.note_missing(step, "negative_controls"))
    if w.has(step, "method_check"):
        df = w.table(step, "method_check")
        values = ["true_effect", "mean_estimate", "bias", "rmse"]
        body = pd.DataFrame(
            {
                0: [w.method(m) for m in df["method"]],
                **{i + 1: [fmt_number(v) for v in df[c]] for i, c in enumerate(values)},
                5: [fmt_number(v, 2) for v in df["coverage"]],
            }
        )
        headers = [
            w.s(f"col.{c}")
            for c in ("method", "true_effect", "mean_estimate", "bias", "rmse", "coverage")
        ]
        out.append(w.show_table(step, "method_check", body, headers, list("lrrrrr")))
    else:
        out.append(w.note_missing(step, "method_check"))
    return out


def section_10(w: _Writer) -> list[str]:
    out = [w.s("methods.brief"), w.s("methods.data")]
    out.append(f"## {w.s('methods.manifest_heading')}")
    prov = run_provenance(w.run_dir)
    if prov is None:
        w.missing.append("manifest.json")
        out.append(f"> {w.s('missing.artifact', artifact='manifest.json, params.json')}\n")
    else:
        shown = [k for k in PROVENANCE_KEYS if k not in ("data_hashes", "packages")]
        out.append("\n".join(
            f"- {w.s(f'manifest.{k}')}: `{prov[k] if prov[k] is not None else '—'}`"
            for k in shown))  # fmt: skip
        hashes = prov["data_hashes"] or {}
        out.append(
            f"{w.s('manifest.data_hashes')}:\n\n"
            + (
                "\n".join(f"- `{name}`: `{digest}`" for name, digest in sorted(hashes.items()))
                or "- —"
            )
        )
        pkgs = ", ".join(f"{k} {v}" for k, v in sorted((prov["packages"] or {}).items()))
        out.append(f"{w.s('manifest.packages')}: {escape(pkgs or '—')}")
    out.append(w.s("methods.verify") + f"\n\n```\n{verify_command_text(w.run_dir)}\n```")
    return out


_SECTIONS: dict[int, Callable[[_Writer], list[str]]] = {
    1: section_1, 2: section_2, 3: section_3, 4: section_4, 5: section_5,
    6: section_6, 7: section_7, 8: section_8, 9: section_9, 10: section_10,
}  # fmt: skip


def section_markdown(
    run_dir: str | os.PathLike, number: int, lang: str, min_cell_count: int = MIN_CELL_COUNT
) -> tuple[str, list[str]]:
    """Markdown of section ``number`` in ``lang`` and the listed artifacts it found missing."""
    if number not in _SECTIONS:
        raise ValueError(f"section must be one of 1..10; got {number!r}")
    w = _Writer(Path(run_dir), check_lang(lang), min_cell_count)
    parts = [f"# {w.s(f'section.{number}')}"] + _SECTIONS[number](w)
    return "\n\n".join(p.strip("\n") for p in parts if p) + "\n", w.missing


def report_title(run_dir: str | os.PathLike, lang: str) -> str:
    """The report title, with the fiscal year (和暦 in Japanese)."""
    s = Strings(check_lang(lang))
    year = fiscal_year_of(run_dir)
    if year is None:
        return s("title.plain")
    return s("title.year", year=year, wareki=wareki_fiscal_year(year))


class Report:
    """The report notebook's entry point: one object per executed notebook.

    Parameters
    ----------
    run_dir : str or path
        The run directory (``runs/FY<year>/<run-id>``).
    lang : {"ja", "en"}
        The language the notebook shows; every block also carries the other language.

    Examples
    --------
    ``report = Report(run_dir, lang)`` then ``report.section(1)`` in a cell.
    """

    def __init__(
        self, run_dir: str | os.PathLike, lang: str = "ja", min_cell_count: int = MIN_CELL_COUNT
    ):
        self.run_dir = Path(run_dir)
        if not (self.run_dir / art.ARTIFACTS).is_dir():
            raise FileNotFoundError(f"{self.run_dir}: no '{art.ARTIFACTS}' folder; not a run")
        self.lang = check_lang(lang)
        self.min_cell_count = min_cell_count
        self.missing: set[str] = set()

    def title(self) -> ReportBlock:
        return ReportBlock({code: report_title(self.run_dir, code) for code in LANGS}, self.lang)

    def section(self, number: int) -> ReportBlock:
        """Section ``number`` (1-10) in both languages."""
        md = {}
        for code in LANGS:
            md[code], missing = section_markdown(self.run_dir, number, code, self.min_cell_count)
            self.missing.update(missing)
        return ReportBlock(md, self.lang)

    def __repr__(self) -> str:
        return f"<Report run={self.run_dir.name} lang={self.lang}>"
