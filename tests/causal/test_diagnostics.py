from analysis.causal.diagnostics import RULES_JA, Check, Diagnostics, rule_text


def _checks():
    return (
        Check("balance_max_abs_smd", 0.183, 0.1, False, "max |SMD| < 0.1 after adjustment"),
        Check("first_stage_f", 25.0, 10.0, True, "first-stage F > 10"),
        Check("custom_gate", 3.0, 1.0, False, "custom rule"),
    )


def test_passed_and_reason_name_only_the_failed_checks():
    d = Diagnostics(_checks())
    assert not d.passed and [c.name for c in d.failed] == ["balance_max_abs_smd", "custom_gate"]
    assert d.reason() == ("max |SMD| < 0.1 after adjustment (observed 0.183); "
                          "custom rule (observed 3)")  # fmt: skip
    assert Diagnostics().passed and Diagnostics().reason() == ""


def test_japanese_reason_uses_the_threshold_and_falls_back_to_english():
    ja = Diagnostics(_checks()).reason("ja")
    assert ja.startswith("調整後の標準化平均差の最大値(|SMD|)が 0.1 未満(観測値 0.183)")
    assert ja.endswith("custom rule(観測値 3)")  # no translation: English rule kept
    assert rule_text(_checks()[1], "ja") == "第1段階の F 統計量が 10 超(弱い操作変数でない)"
    assert rule_text(_checks()[1], "en") == "first-stage F > 10"


def test_every_gate_the_estimators_emit_has_japanese_wording():
    import pathlib
    import re

    src = pathlib.Path(__file__).parents[2] / "src" / "analysis" / "causal"
    names = set()
    for p in src.glob("*.py"):
        names |= set(re.findall(r'Check\(\s*"([a-z_0-9]+)"', p.read_text(encoding="utf-8")))
    assert names, "no Check(...) found"
    assert names <= set(RULES_JA), sorted(names - set(RULES_JA))
