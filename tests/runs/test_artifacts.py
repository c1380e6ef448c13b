import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from analysis.runs import artifacts as A


def test_table_round_trip_with_bilingual_meta(tmp_path):
    df = pd.DataFrame({"group": ["a", "b"], "n": [12, 30]}, index=[5, 6])
    A.save_table(
        df,
        tmp_path,
        "01_cohort",
        "table1",
        caption={"ja": "表1", "en": "Table 1"},
        population="FY2023",
        published=True,
    )
    back = A.load_table(tmp_path, "01_cohort", "table1")
    pd.testing.assert_frame_equal(back, df.reset_index(drop=True))
    meta = A.artifact_meta(tmp_path, "01_cohort", "table1")
    assert meta["caption"] == {"ja": "表1", "en": "Table 1"}
    assert meta["population"] == {"ja": "FY2023", "en": "FY2023"}
    assert meta["published"] is True and meta["rows"] == 2


def test_figure_and_numbers(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    p = A.save_figure(
        fig, tmp_path, "02_risk", "calibration", alt={"ja": "較正", "en": "calibration"}
    )
    plt.close(fig)
    assert p.read_bytes()[:4] == b"\x89PNG"
    assert A.figure_path(tmp_path, "02_risk", "calibration") == p
    A.save_numbers({"c_index": 0.81, "n": 1200}, tmp_path, "02_risk")
    assert A.load_numbers(tmp_path, "02_risk") == {"c_index": 0.81, "n": 1200}
    names = [str(x) for x in A.list_artifacts(tmp_path)]
    assert "artifacts/02_risk/calibration.png" in names
    assert "artifacts/02_risk/key_numbers.meta.json" in names


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="01_cohort/missing.parquet"):
        A.load_table(tmp_path, "01_cohort", "missing")
    with pytest.raises(ValueError, match="en"):
        A.save_table(pd.DataFrame({"a": [1]}), tmp_path, "s", "t", caption={"ja": "表"})
    with pytest.raises(ValueError, match="step"):
        A.artifact_dir(tmp_path, "../escape")
