"""NAB scoring: hand-computed cases, and NAB's published scores when available."""

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from keras_gen.series import nab

REPO = Path(__file__).resolve().parents[2]
NAB_DIR = REPO.parent / "shared" / "data" / "nab"

# A 100-row minute series; probation = floor(0.15 * 100) = 15 rows; one window
# over rows 50..59 (width 10).
T0 = datetime(2020, 1, 1)
TS = np.datetime64(T0, "s") + np.arange(100) * np.timedelta64(60, "s")
WINDOW = [(T0 + timedelta(minutes=50), T0 + timedelta(minutes=59))]


def S(x):  # NAB's scaled sigmoid written out by hand: 2 * sigmoid(-5 x) - 1
    return -1.0 if x > 3 else 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


def score_rows(rows, profile="standard", windows=WINDOW):
    detections = np.zeros(100, bool)
    detections[list(rows)] = True
    return nab.score_file(TS, detections, windows, profile)


def test_profiles_are_nabs_cost_matrices():
    assert nab.PROFILES["standard"] == {"tp": 1.0, "fp": 0.11, "fn": 1.0, "tn": 1.0}
    assert nab.PROFILES["reward_low_FP_rate"]["fp"] == 0.22
    assert nab.PROFILES["reward_low_FN_rate"]["fn"] == 2.0
    assert nab.PROFILES["reward_low_FN_rate"]["fp"] == 0.11


def test_scaled_sigmoid_and_probation():
    assert float(nab.scaled_sigmoid(-1.0)) == pytest.approx(0.98661, abs=1e-5)
    assert float(nab.scaled_sigmoid(0.0)) == 0.0
    assert float(nab.scaled_sigmoid(3.5)) == -1.0
    assert nab.probationary_length(100) == 15
    assert nab.probationary_length(4032) == 604
    assert nab.probationary_length(22695) == 750  # NAB caps it at 0.15 * 5000


def test_detection_at_window_start_earns_the_tp_weight():
    r = score_rows([50])
    assert r["raw"] == pytest.approx(1.0)
    assert (r["tp"], r["fn"], r["fp"]) == (1, 0, 0)


def test_late_detection_in_window_earns_less():
    r = score_rows([57])  # position -(59 - 57 + 1) / 10 = -0.3
    assert r["raw"] == pytest.approx(S(-0.3) / S(-1.0))
    assert r["raw"] == pytest.approx(0.64377, abs=1e-5)
    assert score_rows([59])["raw"] == pytest.approx(S(-0.1) / S(-1.0))
    assert score_rows([59])["raw"] < r["raw"] < 1.0


def test_detection_after_window_costs_a_fp_weighted_by_distance():
    near = score_rows([64])  # (64 - 59) / (10 - 1) past the window, and a miss
    assert near["raw"] == pytest.approx(-1.0 + 0.11 * S(5 / 9))
    assert (near["tp"], near["fp"], near["fn"]) == (0, 1, 1)
    just_after = score_rows([60])["raw"] + 1.0
    far = score_rows([95])["raw"] + 1.0  # 36 / 9 = 4 > 3: the full -fp
    assert far == pytest.approx(-0.11)
    assert -0.11 < near["raw"] + 1.0 < just_after < 0
    assert score_rows([64], "reward_low_FP_rate")["raw"] == pytest.approx(
        -1 + 0.22 * S(5 / 9)
    )


def test_fp_before_any_window_costs_full_fp_weight():
    assert score_rows([30, 50])["raw"] == pytest.approx(1.0 - 0.11)


def test_two_detections_in_one_window_count_one_tp():
    r = score_rows([50, 55, 58])
    assert r["raw"] == pytest.approx(1.0)
    assert (r["tp"], r["fp"], r["fn"], r["tp_rows"]) == (1, 0, 0, 3)


def test_a_miss_costs_fn():
    assert score_rows([])["raw"] == pytest.approx(-1.0)
    assert score_rows([], "reward_low_FN_rate")["raw"] == pytest.approx(-2.0)
    assert score_rows([])["fn"] == 1


def test_detections_in_probationary_period_are_ignored():
    r = score_rows([0, 5, 14])
    assert r["raw"] == pytest.approx(-1.0)
    assert r["fp"] == 0
    assert score_rows([15])["fp"] == 1  # row 15 is the first scored one


def test_window_inside_probation_is_not_scored():
    early = [(T0 + timedelta(minutes=2), T0 + timedelta(minutes=8))]
    r = score_rows([3], windows=early)
    assert (r["raw"], r["tp"], r["fn"], r["windows"]) == (0.0, 0, 0, 0)


def two_files():
    other = [(T0 + timedelta(minutes=70), T0 + timedelta(minutes=79))]
    windows = {"a/one.csv": WINDOW, "a/two.csv": other, "a/none.csv": []}
    rng = np.random.default_rng(0)
    files = {name: (TS, rng.uniform(0.0, 0.3, 100)) for name in windows}
    return files, windows


def test_normalisation_null_is_0_and_perfect_is_100():
    files, windows = two_files()
    null = {n: (ts, np.zeros(100)) for n, (ts, _) in files.items()}
    r = nab.nab_score(null, windows, "standard", threshold=0.5)
    assert (r["score"], r["raw"], r["null"], r["perfect"]) == (0.0, -2.0, -2.0, 2.0)
    perfect = {n: (ts, np.zeros(100)) for n, (ts, _) in files.items()}
    perfect["a/one.csv"][1][50] = 1.0
    perfect["a/two.csv"][1][70] = 1.0
    for profile in nab.PROFILES:
        r = nab.nab_score(perfect, windows, profile)
        assert r["score"] == pytest.approx(100.0)
        assert r["threshold"] == 1.0


def test_threshold_optimisation_isolates_a_spike():
    files, windows = two_files()
    files["a/one.csv"][1][50:60] = 0.0  # quiet windows: lower thresholds only add FPs
    files["a/two.csv"][1][70:80] = 0.0
    files["a/one.csv"][1][52] = 0.9  # the only score above the noise
    threshold, raw = nab.optimize_threshold(files, windows, "standard")
    assert threshold == 0.9
    assert raw == pytest.approx(S(-0.8) / S(-1.0) - 1.0)  # one hit, one miss
    r = nab.nab_score(files, windows, "standard")
    assert r["threshold"] == 0.9 and r["raw"] == pytest.approx(raw)
    assert (r["tp"], r["fp"], r["fn"]) == (1, 0, 1)


def test_sweep_matches_brute_force_over_every_threshold():
    rng = np.random.default_rng(1)
    files, windows = two_files()
    files = {
        n: (ts, np.round(rng.uniform(0, 1, 100), 2)) for n, (ts, _) in files.items()
    }
    for profile in nab.PROFILES:
        s, w, ids = nab._corpus_rows(files, windows, profile, 0.15)
        thresholds, raws = nab.sweep(s, w, ids, nab.PROFILES[profile]["fn"])
        assert len(thresholds) == len(np.unique(s)) + 1
        for t, raw in zip(thresholds, raws):
            brute = sum(
                nab.score_file(ts, sc >= t, windows[n], profile)["raw"]
                for n, (ts, sc) in files.items()
            )
            assert raw == pytest.approx(brute, abs=1e-9)
        best = nab.optimize_threshold(files, windows, profile)
        assert best[1] == pytest.approx(raws.max())


def write_results(folder, name, rows, header="timestamp,value,anomaly_score,label"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_read_results_csv_and_its_errors(tmp_path):
    rows = ["2020-01-01 00:00:00,1.5,0.25,0", "2020-01-01 00:01:00,2,1,0"]
    ts, values, scores = nab.read_results_csv(write_results(tmp_path, "ok.csv", rows))
    assert ts.dtype == np.dtype("datetime64[s]") and str(ts[1]) == "2020-01-01T00:01:00"
    assert values.tolist() == [1.5, 2.0] and scores.tolist() == [0.25, 1.0]
    bad = write_results(tmp_path, "bad.csv", rows + ["2020-01-01 00:02:00,3,high,0"])
    with pytest.raises(ValueError, match=r"bad\.csv: row 4: column 'anomaly_score'"):
        nab.read_results_csv(bad)
    nocol = write_results(
        tmp_path, "nocol.csv", rows, header="timestamp,value,score,label"
    )
    with pytest.raises(
        ValueError, match=r"nocol\.csv: row 1: missing column 'anomaly_score'"
    ):
        nab.read_results_csv(nocol)
    stamp = write_results(tmp_path, "stamp.csv", ["yesterday,1,0.5,0"])
    with pytest.raises(ValueError, match=r"stamp\.csv: row 2: bad timestamp"):
        nab.read_results_csv(stamp)


def test_evaluate_results_dir_matches_files_to_windows(tmp_path):
    windows = {
        "cat/one_file.csv": [["2020-01-01 00:50:00.000000", "2020-01-01 00:59:00"]]
    }
    windows_path = tmp_path / "windows.json"
    windows_path.write_text(json.dumps(windows))
    stamps = [str(t).replace("T", " ") for t in TS]
    rows = [f"{s},0,{1.0 if i == 50 else 0.1},0" for i, s in enumerate(stamps)]
    write_results(tmp_path / "det" / "cat", "my_det_one_file.csv", rows)
    write_results(tmp_path / "det", "det_standard_scores.csv", ["summary"])  # skipped
    results = nab.evaluate_results_dir(tmp_path / "det", windows_path)
    assert set(results) == set(nab.PROFILES)
    assert results["standard"]["score"] == pytest.approx(100.0)
    assert list(results["standard"]["files"]) == ["cat/one_file.csv"]
    table = nab.format_table(results)
    assert table.splitlines()[0] == "| profile | threshold | score | TP | FP | FN |"
    assert "| standard | 1 | 100.00 | 1 | 0 | 0 |" in table
    write_results(tmp_path / "det" / "cat", "det_unknown.csv", rows)
    with pytest.raises(ValueError, match="det_unknown.csv"):
        nab.evaluate_results_dir(tmp_path / "det", windows_path)


PUBLISHED = {  # standard, reward_low_FP_rate, reward_low_FN_rate on the 24 files
    "numenta": (64.85, 59.12, 69.85),
    "randomCutForest": (55.71, 43.09, 63.64),
    "windowedGaussian": (28.16, 22.38, 31.59),
}


@pytest.mark.skipif(not NAB_DIR.is_dir(), reason="needs ../shared/data/nab")
@pytest.mark.parametrize("detector", sorted(PUBLISHED))
def test_reproduces_published_nab_scores(detector):
    results = nab.evaluate_results_dir(
        NAB_DIR / "published_results" / detector, NAB_DIR / "combined_windows.json"
    )
    ours = tuple(results[p]["score"] for p in nab.PROFILES)
    assert ours == pytest.approx(PUBLISHED[detector], abs=0.5)
    assert ours == pytest.approx(PUBLISHED[detector], abs=0.006)  # in fact to 0.01
