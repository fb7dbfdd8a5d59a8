"""`keras-gen series ...` end to end on tiny synthetic series."""

import csv
import json
from pathlib import Path

import pytest

from keras_gen.cli import main
from tests.series.helpers import sine_values, write_series, write_windows

CONFIG = Path(__file__).resolve().parents[2] / "training/configs/series_smoke.yaml"
ROWS, SPIKE = 1200, 900


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("series")
    data = root / "data"
    write_series(data / "machines/a.csv", sine_values(ROWS, spike_at=SPIKE, seed=1))
    write_series(data / "machines/b.csv", sine_values(ROWS, seed=2))
    labels = write_windows(
        root / "windows.json",
        {"machines/a.csv": [(SPIKE - 30, SPIKE + 30)], "machines/b.csv": []},
    )
    return data, labels


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_detect_writes_nab_results_plots_and_table(dataset, tmp_path, capsys):
    data, labels = dataset
    out = tmp_path / "results"
    args = ["series", "detect", str(CONFIG), "--data", str(data), "--out", str(out)]
    assert main([*args, "--labels", str(labels)]) == 0
    printed = capsys.readouterr().out
    assert "2 series scored" in printed and "| standard |" in printed
    rows = read_rows(out / "machines/series_smoke_a.csv")
    assert list(rows[0]) == ["timestamp", "value", "anomaly_score", "label"]
    assert len(rows) == ROWS
    assert sum(int(r["label"]) for r in rows) == 61
    scores = [float(r["anomaly_score"]) for r in rows]
    assert max(range(ROWS), key=scores.__getitem__) == SPIKE
    assert (out / "plots/machines/a.png").stat().st_size > 1000
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == {"machines/a.csv", "machines/b.csv"}
    assert (out / "nab.md").read_text().count("|") > 10
    # A rerun finds the results and does not redo them.
    stamp = (out / "machines/series_smoke_a.csv").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "machines/series_smoke_a.csv").stat().st_mtime_ns == stamp


def test_train_score_evaluate(dataset, tmp_path, capsys):
    data, labels = dataset
    run, exports = tmp_path / "run", tmp_path / "saved_models"
    assert (
        main(
            [
                "series",
                "train",
                str(CONFIG),
                "--work-dir",
                str(run),
                "--set",
                f"data.path={data / 'machines/b.csv'}",
                f"output.export_dir={exports}",
                "train.distribute=mirrored",  # one CPU replica: the scope and steps run
            ]
        )
        == 0
    )
    assert (run / "model.keras").is_file()
    assert (exports / "series_smoke/1/saved_model.pb").is_file()
    capsys.readouterr()
    out = tmp_path / "scored"
    assert (
        main(
            [
                "series",
                "score",
                str(run),
                str(data),
                "--out",
                str(out),
                "--labels",
                str(labels),
                "--no-plots",
            ]
        )
        == 0
    )
    assert len(read_rows(out / "machines/model_a.csv")) == ROWS
    assert not (out / "plots").exists()
    capsys.readouterr()
    assert main(["series", "evaluate", str(out), "--labels", str(labels)]) == 0
    table = capsys.readouterr().out
    assert "reward_low_FN_rate" in table


def test_config_typo_is_named(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  windw: 32\n")
    assert main(["series", "detect", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "model.windw" in err and "bad.yaml" in err


def test_bad_csv_is_named_with_its_line(tmp_path, capsys):
    path = write_series(tmp_path / "d/x.csv", sine_values(400))
    lines = path.read_text().splitlines()
    lines[5] = lines[5].split(",")[0] + ",oops"
    path.write_text("\n".join(lines) + "\n")
    args = ["series", "detect", str(CONFIG), "--data", str(path.parent)]
    assert main([*args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "x.csv, line 6" in err and "'oops' is not a number" in err
