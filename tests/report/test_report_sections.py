"""Report sections built from a fabricated run: contract, wording, verdicts, disclosure."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analysis.report.contract import REPORT_ARTIFACTS, contract_frame
from analysis.report.i18n import LANGS, Strings
from analysis.report.markdown import BLOCK_MIME, ReportBlock
from analysis.report.run_record import (
    previous_run,
    run_provenance,
    verify_command_text,
    wareki_fiscal_year,
)
from analysis.report.sections import (
    SECTIONS,
    Report,
    plain_reason,
    report_title,
    section_markdown,
)
from analysis.runs import artifacts as art


@pytest.fixture(scope="module")
def sections(run_dir):
    """{lang: {number: markdown}} for the complete fixture run."""
    out = {}
    for lang in LANGS:
        out[lang] = {}
        for n in SECTIONS:
            md, missing = section_markdown(run_dir, n, lang)
            assert missing == [], (lang, n, missing)
            out[lang][n] = md
    return out


def test_contract_is_well_formed_and_the_fixture_satisfies_it(run_dir):
    keys = [a.key for a in REPORT_ARTIFACTS]
    assert len(keys) == len(set(keys))
    assert {a.kind for a in REPORT_ARTIFACTS} <= {"table", "figure", "numbers"}
    # section 2 is mostly fixed wording; section 10 reads the run's own records
    assert {n for a in REPORT_ARTIFACTS for n in a.sections} == set(SECTIONS) - {10}
    for a in REPORT_ARTIFACTS:
        assert art.has_artifact(run_dir, a.step, a.name), a.key
        assert set(a.counts) <= set(a.fields), a.key
        if a.kind == "table":
            assert set(a.fields) <= set(art.load_table(run_dir, a.step, a.name).columns), a.key
        elif a.kind == "numbers":
            assert set(a.fields) <= set(art.load_numbers(run_dir, a.step, a.name)), a.key
    assert len(contract_frame()) == len(REPORT_ARTIFACTS)


def test_strings_have_the_same_keys_in_both_languages():
    assert Strings("ja").keys() == Strings("en").keys()
    assert Strings("ja")("section.10") == "10. 方法と再現性"


def test_every_section_has_its_heading_in_each_language(sections):
    for lang in LANGS:
        s = Strings(lang)
        for n in SECTIONS:
            assert sections[lang][n].startswith(f"# {s(f'section.{n}')}\n")
    assert "対象者" in sections["ja"][3] and "Population" in sections["en"][3]


def test_withheld_estimates_show_the_verdict_and_reason_not_a_number(run_dir, sections, planted):
    effects = art.load_table(run_dir, "03_effect_exercise", "effects")
    withheld = effects[~effects["passed"]].iloc[0]
    for lang, word in (("ja", "判定保留"), ("en", "Withheld")):
        row = next(line for line in sections[lang][6].splitlines()
                   if line.startswith(f"| {withheld[f'label_{lang}']} |"))  # fmt: skip
        assert word in row
        assert (
            "0.183" in row and "after weighting" in planted.reason
        )  # the reason names the failed check and its value
        assert f"{withheld['estimate']:.2f}" not in row


def test_estimates_on_groups_under_ten_are_not_shown(run_dir, sections, planted):
    subs = art.load_table(run_dir, "05_targeting", "subgroups")
    small = subs[subs["n"] < 10].iloc[0]
    for lang in LANGS:
        row = next(line for line in sections[lang][8].splitlines()
                   if line.startswith(f"| {planted.small_subgroup[lang]} |"))  # fmt: skip
        assert "\\<10" in row
        assert "2,500" not in row and str(int(small["estimate"])) not in row


def test_tables_state_population_and_period_and_figures_have_alt_text(sections):
    for lang, (pop, per) in (("ja", ("対象:", "期間:")), ("en", ("population:", "period:"))):
        text = "\n".join(sections[lang].values())
        captions = [line for line in text.splitlines() if line.startswith(": ")]
        assert len(captions) >= 12
        for cap in captions:
            assert pop in cap and per in cap, cap
        figures = re.findall(r"!\[([^\]]+)\]\(([^)]+)\)\{([^}]*)\}", text)
        assert len(figures) == sum(a.kind == "figure" for a in REPORT_ARTIFACTS)
        for caption, src, attrs in figures:
            assert caption and src.startswith("../artifacts/") and src.endswith(".png")
            assert re.search(r'fig-alt="[^"]+"', attrs) and "#fig-" in attrs


def test_small_counts_are_suppressed_in_every_table(sections):
    for lang in LANGS:
        for line in "\n".join(sections[lang].values()).splitlines():
            if line.startswith("|") and not line.startswith("|:"):
                for cell in line.strip("|").split("|"):
                    cell = cell.strip()
                    if re.fullmatch(r"\d[\d,]*", cell):
                        assert int(cell.replace(",", "")) == 0 or int(cell.replace(",", "")) >= 10
    tiers = next(line for line in sections["ja"][4].splitlines() if "\\<10" in line)
    assert tiers.count("x") >= 1  # its complement in the same row


def test_person_level_artifacts_never_reach_the_report(sections, planted):
    text = "\n".join(md for lang in LANGS for md in sections[lang].values())
    for trap in (*planted.ids, *planted.birth_dates, "analysis_table"):
        assert trap not in text


def test_year_over_year_uses_the_latest_complete_previous_run(runs_root, run_dir, sections):
    prev = previous_run(run_dir)
    assert prev is not None and prev.name == "20230601-latest"
    assert "tbl-year-over-year" in sections["ja"][1] and "20230601-latest" in sections["ja"][1]
    first = runs_root / "FY2022" / "20230601-latest"
    assert previous_run(first) is None
    md, _ = section_markdown(first, 1, "ja")
    assert Strings("ja")("yoy.none") in md


def test_missing_artifacts_are_named_in_the_report_language(run_dir, tmp_path):
    run = tmp_path / "FY2023" / "partial"
    shutil.copytree(run_dir, run)
    for suffix in (".parquet", ".meta.json"):
        (run / "artifacts" / "03_effect_exercise" / f"effects{suffix}").unlink()
    for lang, phrase in (("ja", "含まれていない"), ("en", "is not part of this run")):
        md, missing = section_markdown(run, 6, lang)
        assert "03_effect_exercise/effects" in missing
        assert phrase in md and "03\\_effect\\_exercise/effects" in md
        assert "#fig-03-effect-exercise-steps" in md  # the rest of the section still renders


def test_a_table_missing_a_contract_column_is_a_clear_error(run_dir, tmp_path):
    run = tmp_path / "FY2023" / "broken"
    shutil.copytree(run_dir, run)
    df = art.load_table(run, "02_risk", "tiers").drop(columns=["n_high"])
    art.save_table(df, run, "02_risk", "tiers")
    with pytest.raises(ValueError, match=r"02_risk/tiers: columns \['n_high'\] missing"):
        section_markdown(run, 4, "en")


def test_a_table_that_cannot_be_protected_hides_all_its_counts(run_dir, tmp_path):
    run = tmp_path / "FY2023" / "tiny"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    tiny = pd.DataFrame({"age_band": ["40-49", "50-59"], "sex_ja": ["男性"] * 2,
                         "sex_en": ["Men"] * 2, "n_low": [1, 10], "n_middle": [0, 0],
                         "n_high": [0, 0]})  # fmt: skip
    art.save_table(tiny, run, "02_risk", "tiers", caption="tiers", population="p", period="q")
    md, _ = section_markdown(run, 4, "en")
    rows = [line for line in md.splitlines() if line.startswith("| 40-49") or
            line.startswith("| 50-59")]  # fmt: skip
    assert all(line.count("| x ") == 3 for line in rows), rows
    assert Strings("en")("table.unprotectable") in md


def test_report_blocks_carry_both_languages(run_dir):
    report = Report(run_dir, "en")
    block = report.section(2)
    bundle = block._repr_mimebundle_()
    assert bundle["text/markdown"] == block.markdown["en"]
    assert set(bundle[BLOCK_MIME]) == set(LANGS)
    assert bundle[BLOCK_MIME]["ja"].startswith("# 2. 事業の概要")
    with pytest.raises(ValueError, match="needs markdown"):
        ReportBlock({"ja": "x"})
    with pytest.raises(FileNotFoundError, match="not a run"):
        Report(run_dir / "artifacts", "ja")
    with pytest.raises(ValueError, match="lang must be one of"):
        Report(run_dir, "fr")


def test_titles_and_fiscal_year_names(run_dir):
    assert wareki_fiscal_year(2019) == "令和元年度"
    assert wareki_fiscal_year(2023) == "令和5年度"
    assert wareki_fiscal_year(2018) == "平成30年度"
    assert report_title(run_dir, "ja").startswith("令和5年度（2023年度）")
    assert report_title(run_dir, "en").startswith("FY2023")


def test_section_10_shows_the_run_record(run_dir, sections):
    import hashlib
    import json

    params = json.loads((run_dir / "params.json").read_text())
    digest = hashlib.sha256(
        (Path(params["dataset"]) / "enrollment.parquet").read_bytes()).hexdigest()  # fmt: skip
    for lang in LANGS:
        md = sections[lang][10]
        assert digest in md and "`20240601-a`" in md and "`city`" in md
        assert params["dataset"] not in md  # folder name only, no machine path
    prov = run_provenance(run_dir)
    assert prov["run_id"] == "20240601-a" and prov["fiscal_year"] == 2023


def test_provenance_prefers_the_manifest_when_the_run_is_complete(run_dir, tmp_path):
    import json

    run = tmp_path / "FY2023" / "done"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    manifest = {"run_id": "done", "seed": 11, "parameters": {"fiscal_year": 2023},
                "dataset": {"path": "/somewhere/data/town", "files": {"a.parquet": "ab" * 32}},
                "code": {"commit": "c0ffee" * 6 + "abcd", "dirty": False},
                "environment": {"python": "3.11.7", "packages": {"pandas": "2.3.3"},
                                "lock_file_sha256": "12" * 32}}  # fmt: skip
    (run / "manifest.json").write_text(json.dumps(manifest))
    prov = run_provenance(run)
    assert prov["dataset"] == "town" and prov["data_hashes"] == {"a.parquet": "ab" * 32}
    assert prov["git_commit"] == manifest["code"]["commit"] and prov["seed"] == 11
    md, _ = section_markdown(run, 10, "en")
    assert "`town`" in md and "/somewhere" not in md and "pandas 2.3.3" in md
    assert "mvm-eval verify FY2023/done" in md


def test_verify_command_is_relative(run_dir, sections):
    command = verify_command_text(run_dir)
    assert command == "mvm-eval verify FY2023/20240601-a"  # never a machine-specific path
    assert command in sections["ja"][10] and command in sections["en"][10]


def test_table1_small_count_prefix_is_hidden(sections):
    row = next(line for line in sections["en"][3].splitlines() if line.startswith("| Smokers |"))
    assert "\\<10" in row and "1.7%" not in row


def test_key_figures_read_published_counts_with_separators_and_marks(tmp_path):
    from analysis.report.run_record import key_figures
    from analysis.runs import artifacts as art

    run = tmp_path / "FY2023" / "r1"
    part = pd.DataFrame({"program_ja": ["運動", "伴走"], "program_en": ["V", "M"],
                         "n_offered": ["3,939", "676"], "n_enrolled": ["54", "<10"]})  # fmt: skip
    art.save_table(part, run, "03_effect_exercise", "participation")
    fig = key_figures(run)
    assert fig["program_n_offered"] == 3939 + 676
    assert fig["program_n_enrolled"] is None  # a hidden count makes the total unknown


def _with_roi(run_dir, tmp_path, **changes) -> Path:
    run = tmp_path / "FY2023" / "roi"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    roi = art.load_numbers(run, "04_effect_costs", "roi")
    art.save_numbers({**roi, **changes}, run, "04_effect_costs", "roi")
    return run


def test_a_withheld_roi_withholds_its_break_even_too(run_dir, tmp_path):
    reason = "vitality: max |SMD| < 0.1 after adjustment (observed 0.188)"
    reason_ja = "vitality: 調整後の標準化平均差の最大値(|SMD|)が 0.1 未満(観測値 0.188)"
    for years in (0.43, None):  # a break-even, or savings that never repay the cost
        run = _with_roi(run_dir, tmp_path / str(years), passed=False, reason=reason,
                        reason_ja=reason_ja, break_even_years=years)  # fmt: skip
        for lang in LANGS:
            s = Strings(lang)
            md, _ = section_markdown(run, 7, lang)
            assert s("roi.break_even_withheld") in md
            assert s("roi.break_even", years="X").split("X")[0] not in md
            assert s("roi.no_break_even") not in md
            label = "Vitality（運動）" if lang == "ja" else "Vitality (exercise)"
            assert label in md and "vitality:" not in md  # the program by its label
    passed = _with_roi(run_dir, tmp_path / "ok", passed=True, break_even_years=0.43)
    for lang in LANGS:
        md, _ = section_markdown(passed, 7, lang)
        assert Strings(lang)("roi.break_even", years="0.4") in md
        assert Strings(lang)("roi.break_even_withheld") not in md


def test_failed_gates_read_as_unmet_criteria_and_errors_are_kept():
    ja, en = Strings("ja"), Strings("en")
    two = "max |SMD| < 0.1 after adjustment (observed 0.3); ESS ratio >= 0.2 (observed 0.1)"
    assert plain_reason(two, en) == (
        "criterion not met: max |SMD| < 0.1 after adjustment (observed 0.3); "
        "criterion not met: ESS ratio >= 0.2 (observed 0.1)"
    )
    roi_ja = "mystar: 調整後の標準化平均差の最大値(|SMD|)が 0.1 未満(観測値 0.312)"
    assert plain_reason(roi_ja, ja) == (
        "Mystar（伴走支援）: 「調整後の標準化平均差の最大値(|SMD|)が 0.1 未満」の基準を満たさず、"
        "観測値 0.312"
    )
    error = "推定できませんでした: too few treated (3 < 10)"
    assert plain_reason(error, ja) == error


def test_estimators_are_named_for_readers(run_dir, sections):
    raw = {"aipw", "regression", "ipw", "matching", "dml", "iv_letter", "did", "rmst_ipw"}
    for lang in LANGS:
        s = Strings(lang)
        assert all(f"method.{m}" in s.keys() for m in raw)
        for n in (6, 7, 9):
            cells = {
                c.strip()
                for line in sections[lang][n].splitlines()
                if line.startswith("| ")
                for c in line.strip("|").split("|")
            }
            assert not cells & raw, (lang, n, cells & raw)
        assert s("method.aipw") in sections[lang][6] and s("method.dml") in sections[lang][9]


def test_each_language_shows_its_own_figure_edition(run_dir, tmp_path):
    run = tmp_path / "FY2023" / "editions"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    step = "04_effect_costs"
    src = run / "artifacts" / step
    shutil.copy(src / "event_study.png", src / "event_study_en.png")
    shutil.copy(src / "event_study.meta.json", src / "event_study_en.meta.json")
    ja, _ = section_markdown(run, 7, "ja")
    en, _ = section_markdown(run, 7, "en")
    assert f"../artifacts/{step}/event_study.png" in ja and "event_study_en" not in ja
    assert f"../artifacts/{step}/event_study_en.png" in en
    assert "#fig-04-effect-costs-event-study " in en  # the same cross-reference label


def _texts(ax) -> list[str]:
    legend = ax.get_legend()
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    return [ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), *ticks] + (
        [t.get_text() for t in legend.get_texts()] if legend else []
    )


def test_balance_covariates_have_labels_in_both_languages():
    from analysis.study.effects import COVARIATES
    from analysis.study.exercise import covariate_label

    for lang in LANGS:
        labels = [covariate_label(c, lang) for c in [*COVARIATES, "sex[M]"]]
        assert not any("_" in t or "[" in t for t in labels), labels
        assert len(set(labels)) == len(labels)
    assert covariate_label("cm_cancer", "ja") == "がん（レセプト病名）"
    assert covariate_label("sex[M]", "en") == "Sex: Men"
    assert covariate_label("not_a_covariate", "en") == "not_a_covariate"


def test_cost_figures_name_no_column_and_are_saved_in_both_languages(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from analysis.causal.did import did_effect
    from analysis.causal.survival import weighted_km
    from analysis.seeds import rng
    from analysis.study import costs
    from analysis.study.effects import Attempt, Outcome

    g = rng(3, "report-figures")
    n, months = 120, np.arange(-3, 3)
    start = np.where(np.arange(n) < 40, 0.0, np.nan)
    panel = pd.DataFrame({
        "person_id": np.repeat(np.arange(n), len(months)), "rel_month": np.tile(months, n),
        "first_treated": np.repeat(start, len(months)),
        "cost_total": g.gamma(2.0, 15_000.0, n * len(months)),
    })  # fmt: skip
    did = did_effect(panel, unit="person_id", time="rel_month", outcome="cost_total",
                     first_treated="first_treated")  # fmt: skip
    attempt = Attempt("vitality", Outcome("m", "月", "Month", "円", "yen"), "did", did)
    km = pd.DataFrame({"time_years": g.uniform(0.1, 2.0, n), "event": g.integers(0, 2, n),
                       "treat": (np.arange(n) < 40).astype(int)})  # fmt: skip
    curves = weighted_km(km, duration="time_years", event="event", treatment="treat")
    for lang in LANGS:
        for ax in (costs.plot_event_study(attempt, lang=lang),
                   costs.plot_severe_events(curves, lang=lang)):  # fmt: skip
            ax.figure.canvas.draw()
            texts = _texts(ax)
            assert not any("_" in t or "e+" in t for t in texts), texts
    ax = costs.plot_event_study(attempt, lang="ja")
    assert ax.get_ylabel() == "月間医療費の差（円）" and ax.get_title() == ""
    assert costs.plot_severe_events(curves, lang="en").get_xlabel() == "Years since index date"
    plt.close("all")
    fig = costs.plot_event_study(attempt, lang="ja").figure
    paths = costs.save_results(tmp_path, 2023, effects=pd.DataFrame({"a": [1]}), roi={},
                               figures={"event_study": fig})  # fmt: skip
    names = sorted(p.name for p in paths if p.suffix == ".png")
    assert names == ["event_study.png", "event_study_en.png"]
    assert plt.get_fignums() == [fig.number]  # the English edition was closed after saving
    plt.close("all")


def test_table_columns_keep_headers_and_ranges_whole():
    from analysis.report.markdown import TABLE_WIDTH, column_widths

    head = ["Outcome", "p-value", "Participants", "95% CI", "Reliability"]
    body = [["Vitality (exercise): Medical cost, 12 months", "0.042", "90",
             "−8,790 to 496,074", "Withheld (criterion not met: " + "word " * 30 + ")"]]  # fmt: skip
    widths = column_widths([head, *body])
    assert widths[1] >= len("p-value") + 2 and widths[2] >= len("Participants") + 2
    assert widths[3] >= len("496,074") + 2  # "… to …" may wrap, but "〜" ranges stay whole
    assert column_widths([["区間", "x" * 200], ["−0.18〜0.57", "y"]])[0] >= 13
    assert widths[4] == max(widths)  # the long text gets the room left over
    assert sum(widths) >= TABLE_WIDTH - len(widths)  # the table spans the page
    small = [["a", "b"], ["1", "2"]]
    assert column_widths(small) == [3, 3]  # narrow tables keep their natural widths
    ja = column_widths([["評価項目", "参加者数"], ["あ" * 80, "67"]])
    assert ja[1] >= 10  # a CJK header keeps four characters on a line


def test_balance_and_overlap_figures_are_labelled_for_readers():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from analysis.causal.balance import balance_table
    from analysis.causal.diagnostics import Diagnostics
    from analysis.seeds import rng
    from analysis.study.effects import COVARIATES, Attempt
    from analysis.study.exercise import EXERCISE_OUTCOMES, balance_figure, overlap_figure

    g = rng(5, "report-balance")
    names = [c for c in COVARIATES if c != "sex"] + ["sex[M]"]
    t = (np.arange(200) < 60).astype(int)
    X = g.normal(size=(200, len(names))) + 0.3 * t[:, None]
    e = np.clip(0.3 + 0.1 * g.normal(size=200), 0.01, 0.99)
    result = SimpleNamespace(
        diagnostics=Diagnostics(tables={"balance": balance_table(X, t, names)}),
        info={"propensity": e, "treatment_values": t},
    )
    attempts = [Attempt("vitality", EXERCISE_OUTCOMES[0], "aipw", result)]
    for lang in LANGS:
        ax = balance_figure(attempts, lang=lang)
        texts = _texts(ax)
        assert not any(c in texts for c in names), texts  # no covariate column name
        assert not any("_" in t or " / " in t for t in texts), texts  # one language only
        assert len(ax.get_legend().get_texts()) == 3  # before, after, the criterion
        ax = overlap_figure(attempts, lang=lang)
        assert not any("_" in t or " / " in t for t in _texts(ax)), _texts(ax)
    plt.close("all")


def test_prose_dates_read_naturally(sections):
    from analysis.report.sections import fmt_date

    assert fmt_date("2023-04-01", "ja") == "2023年4月1日"
    assert fmt_date("2024-03-31", "en") == "31 March 2024"
    assert fmt_date("not recorded", "en") == "not recorded"
    assert "年4月1日から" in sections["ja"][1] and "1 April" in sections["en"][1]
    assert not re.search(r"\d{4}-\d\d-\d\d", sections["ja"][1] + sections["en"][1])


def test_an_estimate_near_zero_gets_the_decimals_of_its_interval():
    from analysis.report.sections import _digits

    assert _digits({"estimate": 0.0077, "ci_low": -0.373, "ci_high": 0.3884}) == 2
    assert _digits({"estimate": -26_410.0, "ci_low": -103_963.0, "ci_high": 51_143.0}) == 0
    assert _digits({"estimate": 0.0077, "ci_low": float("nan"), "ci_high": None}) == 4


def test_cost_rows_state_their_estimand_and_sensitivity_rows_are_marked(run_dir, tmp_path):
    from analysis.study.costs import COST_ESTIMAND, PMPM_ESTIMAND

    run = tmp_path / "FY2023" / "roles"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    effects = art.load_table(run, "04_effect_costs", "effects")
    second = effects.iloc[[0]].assign(method="ipw", role="sensitivity", headline=False)
    meta = art.artifact_meta(run, "04_effect_costs", "effects")
    art.save_table(pd.concat([effects, second], ignore_index=True), run, "04_effect_costs",
                   "effects", caption=meta["caption"], population=meta.get("population"),
                   period=meta.get("period"), published=True)  # fmt: skip
    for lang in LANGS:
        s = Strings(lang)
        md, _ = section_markdown(run, 7, lang)
        assert COST_ESTIMAND[lang] in md  # the cost rows say which estimand they are
        assert PMPM_ESTIMAND[lang] in md  # and so does the per-enrolled-month row
        ipw = s("method.ipw")
        assert s("effects.sensitivity", method=ipw) in md
        assert md.count(s("effects.sensitivity", method=s("method.aipw"))) == 0


def _years(y) -> str:
    from analysis.report.markdown import fmt_number

    return fmt_number(y, 1 if y < 10 else 0)


def _undetected_rows(run_dir, step):
    df = art.load_table(run_dir, step, "effects")
    covers = (df["ci_low"] <= 0) & (df["ci_high"] >= 0)
    return df[(df["role"] == "primary") & (~df["passed"].astype(bool) | covers)]


def test_undetected_primary_rows_state_their_mde_and_the_participants_needed(run_dir, sections):
    from analysis.report.markdown import auto_digits, fmt_number

    for step, n in (("03_effect_exercise", 6), ("04_effect_costs", 7)):
        rows = _undetected_rows(run_dir, step)
        assert len(rows), step  # the fixture plants a withheld and a non-significant row
        shown = art.load_table(run_dir, step, "effects")
        for lang in LANGS:
            md = sections[lang][n]
            assert f"## {Strings(lang)('power.heading')}" in md
            items = [line for line in md.splitlines() if line.startswith("- ")]
            assert len(items) == len(rows), (lang, items)
            for (_, r), line in zip(rows.iterrows(), items, strict=True):
                assert line.startswith(f"- {r[f'label_{lang}']}:")
                assert fmt_number(r["mde"], auto_digits(r["mde"])) in line
                if r["n_required"] > r["n_treated"]:
                    assert fmt_number(r["n_required"], 0) in line
                    assert _years(r["years_required"]) in line
            detected = shown[shown["passed"].astype(bool) & ~shown.index.isin(rows.index)]
            for label in detected[f"label_{lang}"]:
                assert not any(line.startswith(f"- {label}:") for line in items)


def test_a_withheld_headline_states_its_mde_in_the_summary(run_dir, tmp_path):
    from analysis.report.markdown import auto_digits, fmt_number

    run = tmp_path / "FY2023" / "withheld"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    df = art.load_table(run, "04_effect_costs", "effects")
    head = df["headline"].astype(bool)
    df.loc[head, "passed"] = False
    df.loc[head, "reason"] = "participants in the analysis >= 100 (observed 61)"
    for needed in (3_876.0, 9_876.0):  # 9.4 years, then 24: "more than 20 years"
        df.loc[head, "n_required"] = needed
        df.loc[head, "years_required"] = needed / df.loc[head, "n_treated"]
        art.save_table(df, run, "04_effect_costs", "effects")
        r = df[head].iloc[0]
        for lang in LANGS:
            md, _ = section_markdown(run, 1, lang)
            line = next(x for x in md.splitlines() if x.startswith(f"- {r[f'label_{lang}']}:"))
            assert fmt_number(r["mde"], auto_digits(r["mde"])) in line
            assert fmt_number(needed, 0) in line
            long = r["years_required"] > 20
            assert (_years(r["years_required"]) in line) != long, line
            assert ("20" in line) if long else True
    # the same row with too few people to show gives no MDE either
    df.loc[head, "n_treated"] = 7
    art.save_table(df, run, "04_effect_costs", "effects")
    md, _ = section_markdown(run, 1, "en")
    assert "9,876" not in md


def test_reach_rows_show_rates_with_their_intervals_and_hide_small_groups(run_dir, sections):
    from analysis.report.markdown import fmt_number

    reach = art.load_table(run_dir, "03_effect_exercise", "reach")
    assert (reach[["n_enrolled", "n_completed"]].astype(str) == "<10").any().any()
    for lang in LANGS:
        md = sections[lang][5]
        s = Strings(lang)
        assert f"## {s('reach.heading')}" in md and "#fig-03-effect-exercise-reach-uptake" in md
        lines = [x for x in md.splitlines() if x.startswith(f"| {reach[f'program_{lang}'][0]} |")]
        rows = reach[reach["program"] == reach["program"][0]]
        assert len(lines) == len(rows)
        for (_, r), line in zip(rows.iterrows(), lines, strict=True):
            if pd.notna(r["uptake_pct"]):
                ci = s("label.ci_range", lo=fmt_number(r["uptake_ci_low"], 1),
                       hi=fmt_number(r["uptake_ci_high"], 1))  # fmt: skip
                assert f"{fmt_number(r['uptake_pct'], 1)} ({ci})" in line, line
            else:
                assert f"| {fmt_number(r['uptake_pct'], 1)} (" not in line


def test_event_association_is_worded_as_an_association_with_its_adjustment_set(
    run_dir, sections, tmp_path
):
    from analysis.report.markdown import fmt_number, fmt_signed
    from analysis.study.exercise import covariate_label

    adj = art.load_numbers(run_dir, "03_effect_exercise", "event_association_adjusted")
    assert adj["estimate"] is not None
    for lang in LANGS:
        md, s = sections[lang][5], Strings(lang)
        assert s("events.caution") in md and f"## {s('events.association_heading')}" in md
        for c in adj["covariates"]:
            if c != "treat":
                assert covariate_label(c, lang) in md, c
        assert fmt_signed(100 * adj["estimate"], 1) in md
        assert fmt_number(100 * adj["ci_low"], 1) in md
    run = tmp_path / "FY2023" / "events"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    art.save_numbers({**adj, "estimate": None, "ci_low": None, "ci_high": None,
                      "error": "perfect separation"}, run, "03_effect_exercise",
                     "event_association_adjusted")  # fmt: skip
    for lang in LANGS:
        md, _ = section_markdown(run, 5, lang)
        assert "perfect separation" in md and Strings(lang)("events.caution") in md
        assert fmt_signed(100 * adj["estimate"], 1) not in md


def _logic_rows(md: str) -> list[list[str]]:
    table = md[md.index("| ") : md.index("{#tbl-logic-model}")]
    lines = [x for x in table.splitlines() if x.startswith("| ")][1:]
    return [[c.strip() for c in x.strip("|").split("|")] for x in lines]


def test_logic_model_shows_one_indicator_per_level_and_its_change(run_dir, runs_root, sections):
    from analysis.report.markdown import fmt_number, fmt_signed

    prev = previous_run(run_dir)
    offered, enrolled = (
        [pd.to_numeric(art.load_table(r, "03_effect_exercise", "participation")[c]).sum()
         for r in (prev, run_dir)]
        for c in ("n_offered", "n_enrolled")
    )  # fmt: skip
    savings = art.load_numbers(run_dir, "04_effect_costs", "roi")["savings_yen"] / 1000
    for lang in LANGS:
        s = Strings(lang)
        md = sections[lang][2]
        md = md[md.index(f"## {s('logic.heading')}") :]
        rows = _logic_rows(md)
        levels = ("inputs", "activities", "outputs", "outcomes", "impact")
        assert [r[0] for r in rows] == [s(f"logic.{lv}") for lv in levels]
        activities = rows[1]
        assert activities[3:] == [fmt_number(offered[0], 0), fmt_number(offered[1], 0),
                                  fmt_signed(offered[1] - offered[0], 0)]  # fmt: skip
        assert rows[2][3:] == [fmt_number(enrolled[0], 0), fmt_number(enrolled[1], 0),
                               fmt_signed(enrolled[1] - enrolled[0], 0)]  # fmt: skip
        assert rows[4][4] == fmt_number(savings, 0)
        assert prev.name in md


def test_logic_model_withholds_what_the_report_withholds(run_dir, tmp_path):
    run = tmp_path / "FY2023" / "withheld"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    roi = art.load_numbers(run, "04_effect_costs", "roi")
    art.save_numbers({**roi, "passed": False, "reason": "x"}, run, "04_effect_costs", "roi")
    eff = art.load_table(run, "03_effect_exercise", "effects")
    art.save_table(eff.assign(passed=False), run, "03_effect_exercise", "effects")
    md, _ = section_markdown(run, 2, "en")  # no previous year beside this copy
    rows = _logic_rows(md[md.index("## Logic model") :])
    assert rows[3][3:] == ["—", "—", "—"] and rows[4][3:] == ["—", "—", "—"]
    assert rows[0][4] == "4,730" and rows[0][3] == "—"


def test_a_withheld_negative_control_says_so_instead_of_a_verdict(run_dir, tmp_path):
    run = tmp_path / "FY2023" / "neg"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report"))
    neg = art.load_table(run, "03_effect_exercise", "negative_controls")
    withheld = neg.assign(estimate=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan,
                          passed=False)  # fmt: skip
    art.save_table(withheld, run, "03_effect_exercise", "negative_controls")
    for lang in LANGS:
        s = Strings(lang)
        md, _ = section_markdown(run, 9, lang)
        assert md.count(s("negative.withheld")) == len(neg)
        assert s("negative.flag") not in md


def test_pooled_estimates_stand_beside_the_single_years_with_their_own_verdicts(run_dir):
    from tests.report.conftest import POOLED_EXTRA_PARTICIPANTS

    df = art.load_table(run_dir, "06_pooled", "effects")
    for lang in LANGS:
        s = Strings(lang)
        md, missing = section_markdown(run_dir, 7, lang)
        assert missing == []
        assert f"## {s('pooled.heading')}" in md
        assert s("pooled.col_estimate", years="FY2021-FY2023") in md
        body = md.split(f"## {s('pooled.heading')}", 1)[1]
        single_n, pooled_n = df.loc[0, "single_n_treated"], df.loc[0, "pooled_n_treated"]
        assert pooled_n == "x"  # 5 more than the single year: the difference would show
        assert f"{int(single_n):,}" in body
        assert f"{int(single_n) + POOLED_EXTRA_PARTICIPANTS:,}" not in body
        # the withheld pooled cost row shows the verdict with its reason, not a number
        assert s("verdict.withheld_short") in body


def test_a_run_without_pooling_says_so_and_misses_nothing(run_dir, tmp_path):
    run = tmp_path / "FY2023" / "single"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("report", "06_pooled"))
    for lang in LANGS:
        md, missing = section_markdown(run, 7, lang)
        assert missing == []
        assert Strings(lang)("pooled.not_run") in md
