"""Series CSV reading (strict checks), training split, normalisation, windows."""

import numpy as np
import pytest
import yaml

from keras_gen.config import ConfigError
from keras_gen.series.config import load_series_config
from keras_gen.series.data import (
    Normalizer,
    SeriesDataError,
    list_series_files,
    read_series_csv,
    sliding_windows,
    training_length,
    window_dataset,
)

T0 = np.datetime64("2020-01-01T00:00:00", "s")
MINUTE = np.timedelta64(60, "s")


def stamp(i, step=MINUTE):
    return str(T0 + i * step).replace("T", " ")


def write_csv(tmp_path, lines, name="series.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def nab_lines(values, stamps=None):
    """NAB's `timestamp,value` format; line k + 2 holds values[k]."""
    stamps = stamps or [stamp(i) for i in range(len(values))]
    return ["timestamp,value"] + [f"{t},{v}" for t, v in zip(stamps, values)]


# ------------------------------------------------------------------ reading
def test_reads_a_nab_file(tmp_path):
    values = [1.5, 2.0, -3.25, 4.0, 10.0]
    path = write_csv(tmp_path, nab_lines(values))
    series = read_series_csv(path)
    assert len(series) == 5
    assert series.values.shape == (5, 1)
    assert series.values.dtype == np.float32
    assert series.timestamps.dtype == np.dtype("datetime64[s]")
    np.testing.assert_array_equal(series.values[:, 0], np.float32(values))
    np.testing.assert_array_equal(series.timestamps, T0 + np.arange(5) * MINUTE)
    assert series.columns == ["value"]
    assert series.path == str(path)
    assert series.gaps == [] and series.disorder == []


def multi_column_file(tmp_path):
    return write_csv(
        tmp_path,
        [
            "a, timestamp ,label,b,c",
            f"1,{stamp(0)},0,10,100",
            f"2,{stamp(1)},1,20,200",
            f"3,{stamp(2)},0,30,300",
        ],
    )


def test_multi_column_file_with_chosen_columns(tmp_path):
    series = read_series_csv(multi_column_file(tmp_path), value_columns=["c", "a"])
    assert series.columns == ["c", "a"]
    assert series.values.shape == (3, 2)
    np.testing.assert_array_equal(series.values, [[100, 1], [200, 2], [300, 3]])


def test_multi_column_file_defaults_to_all_but_timestamp_and_label(tmp_path):
    series = read_series_csv(multi_column_file(tmp_path))
    assert series.columns == ["a", "b", "c"]
    assert series.values.shape == (3, 3)
    np.testing.assert_array_equal(series.values[:, 1], [10, 20, 30])


def test_other_timestamp_column(tmp_path):
    path = write_csv(tmp_path, ["time,value", f"{stamp(0)},1", f"{stamp(1)},2"])
    assert len(read_series_csv(path, timestamp_column="time")) == 2
    with pytest.raises(SeriesDataError, match="no column 'timestamp'"):
        read_series_csv(path)


def test_missing_value_column_lists_the_columns(tmp_path):
    path = write_csv(tmp_path, nab_lines([1, 2, 3]))
    with pytest.raises(SeriesDataError) as err:
        read_series_csv(path, value_columns=["speed"])
    message = str(err.value)
    assert str(path) in message
    assert "speed" in message
    assert "columns: timestamp, value" in message


def test_missing_timestamp_column(tmp_path):
    path = write_csv(tmp_path, ["time,value", f"{stamp(0)},1", f"{stamp(1)},2"])
    with pytest.raises(SeriesDataError) as err:
        read_series_csv(path)
    assert str(path) in str(err.value)
    assert "'timestamp'" in str(err.value)
    assert "time, value" in str(err.value)


def bad_cell_file(tmp_path, cell, row=2):
    values = ["1.0", "2.0", "3.0", "4.0", "5.0"]
    values[row] = cell
    return write_csv(tmp_path, nab_lines(values))  # values[row] is on line row + 2


def test_text_cell_names_file_line_and_column(tmp_path):
    path = bad_cell_file(tmp_path, "abc")
    with pytest.raises(SeriesDataError) as err:
        read_series_csv(path)
    message = str(err.value)
    assert str(path) in message
    assert "line 4" in message
    assert "'value'" in message
    assert "'abc' is not a number" in message


def test_empty_cell_is_a_gap(tmp_path):
    path = bad_cell_file(tmp_path, "", row=3)
    with pytest.raises(SeriesDataError) as err:
        read_series_csv(path)
    assert str(path) in str(err.value)
    assert "line 5" in str(err.value)
    assert "a gap" in str(err.value)


def test_short_row_is_a_gap_in_the_missing_column(tmp_path):
    path = write_csv(tmp_path, ["timestamp,a,b", f"{stamp(0)},1,2", f"{stamp(1)},3"])
    with pytest.raises(SeriesDataError, match=r"line 3, column 'b': empty \(a gap\)"):
        read_series_csv(path)


@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_non_finite_cell(tmp_path, cell):
    path = bad_cell_file(tmp_path, cell, row=1)
    with pytest.raises(SeriesDataError) as err:
        read_series_csv(path)
    assert str(path) in str(err.value)
    assert "line 3" in str(err.value)
    assert "not finite" in str(err.value)


@pytest.mark.parametrize("cell", ["2020-13-01 00:00:00", "yesterday", "", "NaT"])
def test_bad_timestamp_names_the_line(tmp_path, cell):
    stamps = [stamp(i) for i in range(5)]
    stamps[2] = cell
    path = write_csv(tmp_path, nab_lines([1, 2, 3, 4, 5], stamps))
    with pytest.raises(SeriesDataError) as err:
        read_series_csv(path)
    message = str(err.value)
    assert str(path) in message
    assert "line 4" in message
    assert "is not a date-time" in message


def unsorted_file(tmp_path):
    # Line 5 (index 3) goes back from line 4 to between lines 2 and 3.
    stamps = [stamp(0), stamp(2), stamp(3), stamp(1), stamp(4)]
    return write_csv(tmp_path, nab_lines([0, 2, 3, 1, 4], stamps))


def test_timestamp_going_back_fails_naming_the_line(tmp_path):
    path = unsorted_file(tmp_path)
    with pytest.raises(SeriesDataError) as err:
        read_series_csv(path)
    message = str(err.value)
    assert str(path) in message
    assert "line 5" in message
    assert "goes back" in message
    assert "allow_unsorted" in message


def test_allow_unsorted_keeps_the_file_order(tmp_path):
    series = read_series_csv(unsorted_file(tmp_path), allow_unsorted=True)
    np.testing.assert_array_equal(series.values[:, 0], [0, 2, 3, 1, 4])
    np.testing.assert_array_equal(
        series.timestamps, T0 + np.array([0, 2, 3, 1, 4]) * MINUTE
    )
    assert series.disorder == [5]


def test_repeated_timestamps_are_kept_and_listed(tmp_path):
    stamps = [stamp(0), stamp(1), stamp(1), stamp(2), stamp(2), stamp(3)]
    path = write_csv(tmp_path, nab_lines([1, 2, 3, 4, 5, 6], stamps))
    series = read_series_csv(path)
    assert len(series) == 6
    np.testing.assert_array_equal(series.values[:, 0], [1, 2, 3, 4, 5, 6])
    assert series.disorder == [4, 6]
    assert series.gaps == []


def test_time_gap_is_listed(tmp_path):
    # Steps of 1 minute, except 3 minutes from line 6 to line 7.
    offsets = [0, 1, 2, 3, 4, 7, 8, 9]
    stamps = [stamp(i) for i in offsets]
    path = write_csv(tmp_path, nab_lines(list(range(8)), stamps))
    series = read_series_csv(path)
    assert len(series) == 8
    assert series.gaps == [(7, np.timedelta64(180, "s"))]
    assert series.disorder == []


def test_blank_lines_are_skipped_and_line_numbers_kept(tmp_path):
    path = write_csv(
        tmp_path, ["timestamp,value", f"{stamp(0)},1", "", f"{stamp(1)},x"]
    )
    with pytest.raises(SeriesDataError, match="line 4"):
        read_series_csv(path)


def test_order_and_gap_lines_count_blank_lines(tmp_path):
    # The row going back is on line 5 of the file (line 3 is blank).
    lines = ["timestamp,value", f"{stamp(0)},1", "", f"{stamp(2)},2", f"{stamp(1)},3"]
    path = write_csv(tmp_path, lines)
    with pytest.raises(SeriesDataError, match="line 5:"):
        read_series_csv(path)
    assert read_series_csv(path, allow_unsorted=True).disorder == [5]
    lines = [
        "timestamp,value",
        "",
        *nab_lines([0, 1, 2, 3], [stamp(i) for i in (0, 1, 2, 5)])[1:],
    ]
    assert read_series_csv(write_csv(tmp_path, lines, "gap.csv")).gaps == [
        (6, np.timedelta64(180, "s"))
    ]


@pytest.mark.parametrize("rows", [0, 1])
def test_fewer_than_two_rows_fails(tmp_path, rows):
    path = write_csv(tmp_path, nab_lines([1.0] * rows))
    with pytest.raises(SeriesDataError, match=f"{rows} data row"):
        read_series_csv(path)


def test_empty_file_fails(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(SeriesDataError, match="empty file") as err:
        read_series_csv(path)
    assert str(path) in str(err.value)


# ----------------------------------------------------------- training split
def test_training_length_fraction_and_nab_cap():
    assert training_length(1000) == 150
    assert training_length(10000) == 750  # NAB's cap: 0.15 * 5000
    assert training_length(100, train=0.5) == 50
    assert training_length(101, train=0.5) == 50  # floor
    assert isinstance(training_length(10000), int)


def test_training_length_date_gives_rows_before_it():
    stamps = T0 + np.arange(100) * np.timedelta64(3600, "s")  # hourly
    assert training_length(100, "2020-01-02", stamps) == 24
    assert training_length(100, "2020-01-02T00:30:00", stamps) == 25
    with pytest.raises(ValueError, match="timestamps"):
        training_length(100, "2020-01-02")


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_training_fraction_outside_0_1_raises(fraction):
    with pytest.raises(ValueError, match="fraction"):
        training_length(1000, train=fraction)


# ------------------------------------------------------------ normalisation
def test_normalizer_is_fitted_on_the_training_part_only():
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 2.0, (300, 2)).astype(np.float32)
    n = training_length(len(values), 0.5)
    before = Normalizer.fit(values[:n])
    values[n:] *= 100.0  # a change after the training part
    after = Normalizer.fit(values[:n])
    np.testing.assert_array_equal(before.mean, after.mean)
    np.testing.assert_array_equal(before.std, after.std)
    np.testing.assert_allclose(after.mean, values[:n].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(after.std, values[:n].std(axis=0), rtol=1e-5)
    everything = Normalizer.fit(values)
    assert np.all(everything.std > 10 * after.std)


def test_normalizer_constant_training_part_keeps_unit_scale():
    values = np.column_stack([np.full(50, 7.0), np.arange(50.0)]).astype(np.float32)
    norm = Normalizer.fit(values)
    assert norm.std[0] == 1.0
    assert norm.mean[0] == 7.0
    assert norm.std[1] == pytest.approx(np.arange(50.0).std(), rel=1e-6)
    out = norm.apply(values)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[:, 0], 0.0)
    assert norm.apply(np.array([[9.0, 0.0]]))[0, 0] == pytest.approx(2.0)


def test_normalizer_apply_standardises():
    rng = np.random.default_rng(1)
    values = rng.normal([100.0, -3.0], [20.0, 0.01], (500, 2))
    norm = Normalizer.fit(values)
    assert norm.mean.dtype == norm.std.dtype == np.float32
    out = norm.apply(values)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=0), 1.0, atol=1e-4)


# ------------------------------------------------------------------ windows
def test_sliding_windows_shape_content_and_no_copy():
    values = np.arange(60, dtype=np.float32).reshape(20, 3)
    windows = sliding_windows(values, 8)
    assert windows.shape == (20 - 8 + 1, 8, 3)
    for i in range(len(windows)):
        np.testing.assert_array_equal(windows[i], values[i : i + 8])
    assert np.shares_memory(windows, values)
    assert not windows.flags.writeable


def test_sliding_windows_stride():
    values = np.arange(20, dtype=np.float32)[:, None]
    windows = sliding_windows(values, 8, stride=4)
    assert windows.shape == (4, 8, 1)  # starts 0, 4, 8, 12
    np.testing.assert_array_equal(windows[:, -1, 0], [7, 11, 15, 19])


def test_sliding_windows_series_shorter_than_window_raises():
    assert sliding_windows(np.zeros((8, 1)), 8).shape == (1, 8, 1)
    with pytest.raises(ValueError, match="shorter than the window"):
        sliding_windows(np.zeros((7, 1)), 8)


def two_parts():
    first = np.arange(40, dtype=np.float32)[:, None]
    second = 1000.0 + np.arange(30, dtype=np.float32)[:, None]
    return first, second


def collect(dataset):
    return np.concatenate([b.numpy() for b in dataset])


def test_window_dataset_never_mixes_parts():
    first, second = two_parts()
    window = 16
    dataset = window_dataset([first, second], window, batch_size=7, seed=3)
    windows = collect(dataset)
    assert windows.shape == ((40 - 16 + 1) + (30 - 16 + 1), window, 1)
    for w in windows[:, :, 0]:
        in_first = np.all(w < 40)
        in_second = np.all(w >= 1000)
        assert in_first or in_second, w
        np.testing.assert_array_equal(np.diff(w), 1.0)  # consecutive rows
    # Every window exactly once.
    starts = sorted(windows[:, 0, 0].tolist())
    assert starts == list(range(25)) + [1000.0 + i for i in range(15)]


def test_window_dataset_in_order_without_shuffle():
    first, second = two_parts()
    windows = collect(window_dataset([first, second], 16, 5, shuffle=False))
    expected = np.concatenate([sliding_windows(first, 16), sliding_windows(second, 16)])
    np.testing.assert_array_equal(windows, expected)
    single = collect(window_dataset(first, 16, 64, shuffle=False))
    np.testing.assert_array_equal(single, sliding_windows(first, 16))


def test_window_dataset_skips_short_parts_and_fails_when_all_are():
    first, _ = two_parts()
    windows = collect(window_dataset([first[:10], first], 16, 8, shuffle=False))
    assert len(windows) == 25
    with pytest.raises(ValueError, match="shorter than the window"):
        window_dataset([first[:10], first[:15]], 16, 8)


# -------------------------------------------------------------------- files
def test_list_series_files_recursive_and_sorted(tmp_path):
    for name in ["b/z.csv", "a/c/y.csv", "a/x.csv", "m.csv", "a/notes.txt"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("timestamp,value\n")
    files = list_series_files(tmp_path)
    assert files == [
        tmp_path / "a/c/y.csv",
        tmp_path / "a/x.csv",
        tmp_path / "b/z.csv",
        tmp_path / "m.csv",
    ]
    assert list_series_files(tmp_path / "m.csv") == [tmp_path / "m.csv"]


def test_list_series_files_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_series_files(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no \*\.csv"):
        list_series_files(tmp_path / "empty")


# ------------------------------------------------------------------- config
def write_config(tmp_path, data):
    folder = tmp_path / "sub"
    folder.mkdir(exist_ok=True)
    path = folder / "detector.yaml"
    path.write_text(yaml.safe_dump(data))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    return path, elsewhere


def test_config_relative_data_path_is_resolved_against_the_config_file(
    tmp_path, monkeypatch
):
    path, elsewhere = write_config(tmp_path, {"data": {"path": "nab/data"}})
    monkeypatch.chdir(elsewhere)
    config = load_series_config(path)
    assert config.data.path == str((tmp_path / "sub" / "nab" / "data").resolve())
    assert config.name == "detector"
    absolute = str(tmp_path / "abs")
    path, _ = write_config(tmp_path, {"data": {"path": absolute}})
    assert load_series_config(path).data.path == absolute


def test_config_data_path_override_is_not_rebased(tmp_path, monkeypatch):
    path, elsewhere = write_config(tmp_path, {"data": {"path": "nab/data"}})
    monkeypatch.chdir(elsewhere)
    config = load_series_config(path, ["data.path=mine/csvs", "model.window=32"])
    assert config.data.path == "mine/csvs"
    assert config.model.window == 32


def test_config_unknown_key_names_the_key_and_the_file(tmp_path):
    path, _ = write_config(tmp_path, {"model": {"windw": 32}})
    with pytest.raises(ConfigError) as err:
        load_series_config(path)
    assert "model.windw" in str(err.value)
    assert str(path) in str(err.value)


def test_config_window_not_a_multiple_of_4(tmp_path):
    path, _ = write_config(tmp_path, {"model": {"window": 30}})
    with pytest.raises(ConfigError) as err:
        load_series_config(path)
    assert "model.window" in str(err.value)
    assert str(path) in str(err.value)
    with pytest.raises(ConfigError, match="model.window"):
        load_series_config(write_config(tmp_path, {})[0], ["model.window=30"])
