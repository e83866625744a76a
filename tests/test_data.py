"""Tests of poolkit.data: loading, returns, resampling, quality, and every bad input.

Numbers are checked against values read independently from the raw files with
the ``csv`` and ``gzip`` modules, or worked by hand on small frames.
"""

from __future__ import annotations

import csv
import gzip
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import poolkit.data as data
from poolkit.exceptions import DataError, InsufficientDataError, ParameterError, PoolkitError, PoolkitWarning

DATASETS = Path(data.__file__).resolve().parents[1] / "datasets"


def raw_rows(file: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a bundled gzip CSV, read without pandas."""
    with gzip.open(DATASETS / file, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def raw_value(file: str, date: str, column: str) -> float:
    header, rows = raw_rows(file)
    j = header.index(column)
    (row,) = [r for r in rows if r[0] == date]
    return float(row[j])


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- the samples


def test_sample_prices_match_the_raw_file_on_a_known_date():
    prices = data.load_prices("sample")
    header, rows = raw_rows("skfolio_sp500_prices_daily.csv.gz")
    (row,) = [r for r in rows if r[0] == "2008-09-15"]  # Lehman Brothers' bankruptcy filing
    expected = dict(zip(header[1:], map(float, row[1:]), strict=True))
    got = prices.loc["2008-09-15"].to_dict()
    assert got == expected
    assert prices.shape == (len(rows), 20)


def test_sample_frames_follow_the_contract():
    for name in ["sample", "sample:sp500", "sample:sp500_index", "sample:factor_etfs"]:
        prices = data.load_prices(name)
        assert isinstance(prices.index, pd.DatetimeIndex) and prices.index.name == "date"
        assert prices.index.is_monotonic_increasing and not prices.index.has_duplicates
        assert prices.columns.name is None
        assert (prices.dtypes == "float64").all()
        assert prices.attrs["kind"] == "prices"
        assert Path(prices.attrs["source"]) == data.source_path(name)
    index = data.load_prices("sample:sp500_index")
    assert list(index.columns) == ["SP500"]
    assert index.loc["2020-03-16", "SP500"] == raw_value(
        "skfolio_sp500_index_daily.csv.gz", "2020-03-16", "SP500"
    )


def test_monthly_samples_are_returns_as_written():
    ff = data.load_returns("sample:ff_factors")
    header, rows = raw_rows("linearmodels_ff_factors_monthly.csv.gz")
    assert list(ff.columns) == header[1:]
    assert ff.loc["1987-10-01", "MktRF"] == raw_value(
        "linearmodels_ff_factors_monthly.csv.gz", "1987-10-01", "MktRF"
    )
    assert ff.attrs["kind"] == "returns" and ff.attrs["returns_kind"] == "simple"
    assert data.load_returns("sample:ff_portfolios").shape == (819, 30)
    assert data.periods_per_year(ff.index) == 12


def test_sample_returns_recomputed_by_hand_from_the_raw_file():
    header, rows = raw_rows("skfolio_sp500_prices_daily.csv.gz")
    returns = data.load_returns("sample", end="1990-01-10")
    j = header.index("AMD")
    for k in range(1, len(returns) + 1):
        hand = float(rows[k][j]) / float(rows[k - 1][j]) - 1.0
        assert returns["AMD"].iloc[k - 1] == pytest.approx(hand, rel=1e-12)
        assert str(returns.index[k - 1].date()) == rows[k][0]
    logs = data.load_returns("sample", kind="log", end="1990-01-10")
    assert logs["AMD"].iloc[0] == pytest.approx(math.log(4.0 / 4.125), rel=1e-12)  # 1990-01-02 -> 03


def test_monthly_returns_of_daily_prices_use_month_end_prices():
    header, rows = raw_rows("skfolio_sp500_prices_daily.csv.gz")
    j = header.index("KO")
    last_of = {}
    for r in rows:
        last_of[r[0][:7]] = float(r[j])  # rows are in date order: the last one of each month wins
    monthly = data.load_returns("sample", assets=["KO"], frequency="monthly", end="1990-12-31")
    assert monthly.loc["1990-03-30", "KO"] == pytest.approx(
        last_of["1990-03"] / last_of["1990-02"] - 1, rel=1e-12
    )
    assert len(monthly) == 11  # Feb..Dec: January has no previous month end
    assert monthly.index[-1] == pd.Timestamp("1990-12-31")  # labelled by the last trading day
    assert monthly.attrs["frequency"] == "monthly"


def test_annual_compounding_of_monthly_factor_returns_by_hand():
    header, rows = raw_rows("linearmodels_ff_factors_monthly.csv.gz")
    j = header.index("MktRF")
    growth = 1.0
    for r in rows:
        if r[0].startswith("1950-"):
            growth *= 1.0 + float(r[j])
    annual = data.load_returns("sample:ff_factors", frequency="annual")
    assert annual.loc["1950-12-01", "MktRF"] == pytest.approx(growth - 1.0, rel=1e-12)
    summed = sum(float(r[j]) for r in rows if r[0].startswith("1950-"))
    assert annual.loc["1950-12-01", "MktRF"] != pytest.approx(summed, rel=1e-3)  # compounding is not a sum


def test_samples_table_matches_the_files():
    table = data.samples()
    assert list(table.index) == [
        "sample:sp500",
        "sample:sp500_index",
        "sample:factor_etfs",
        "sample:ff_portfolios",
        "sample:ff_factors",
    ]
    for name, row in table.iterrows():
        header, rows = raw_rows(row["file"])
        assert (row["rows"], row["assets"]) == (len(rows), len(header) - 1), name
        assert (row["start"], row["end"]) == (rows[0][0], rows[-1][0])
        assert row["licence"] and row["description"]
    assert set(table["values"]) == {"prices", "returns"}


def test_source_path_resolves_samples_and_files(tmp_path):
    assert data.source_path("sample") == DATASETS / "skfolio_sp500_prices_daily.csv.gz"
    assert data.source_path("sample:ff_factors").exists()
    f = write_csv(tmp_path / "p.csv", "date,A\n2020-01-01,1\n")
    assert data.source_path(str(f)) == f.resolve()
    with pytest.raises(DataError, match="sample:ff_factors"):
        data.source_path("sample:ff_factor")


# ----------------------------------------------------------------------------- returns by hand


@pytest.fixture
def small_prices() -> pd.DataFrame:
    idx = pd.DatetimeIndex(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]), name="date")
    return pd.DataFrame({"A": [100.0, 110.0, 99.0], "B": [50.0, 50.0, 55.0]}, index=idx)


def test_simple_and_log_returns_by_hand(small_prices):
    before = small_prices.copy()
    simple = data.to_returns(small_prices)
    np.testing.assert_allclose(simple.to_numpy(), [[0.10, 0.0], [-0.10, 0.10]], rtol=1e-12, atol=1e-15)
    logs = data.to_returns(small_prices, kind="log")
    np.testing.assert_allclose(
        logs.to_numpy(), [[math.log(1.1), 0.0], [math.log(0.9), math.log(1.1)]], rtol=1e-12
    )
    assert list(simple.index) == list(small_prices.index[1:]) and list(simple.columns) == ["A", "B"]
    pd.testing.assert_frame_equal(small_prices, before)  # input untouched
    series = data.to_returns(small_prices["A"])
    assert isinstance(series, pd.Series) and series.name == "A"
    # log returns add over time, simple returns compound: both give the 2-day change 99/100
    assert logs["A"].sum() == pytest.approx(math.log(0.99))
    assert (1 + simple["A"]).prod() - 1 == pytest.approx(-0.01)


def test_to_returns_rejects_bad_prices(small_prices):
    bad = small_prices.copy()
    bad.iloc[1, 1] = 0.0
    with pytest.raises(DataError, match=r"'B'.*2024-01-03"):
        data.to_returns(bad)
    bad.iloc[1, 1] = np.nan
    with pytest.raises(DataError, match="missing"):
        data.to_returns(bad)
    with pytest.raises(InsufficientDataError):
        data.to_returns(small_prices.iloc[:1])
    with pytest.raises(ParameterError, match="kind"):
        data.to_returns(small_prices, kind="arith")


def test_resample_returns_compounds_by_hand():
    idx = pd.to_datetime(["2024-01-10", "2024-01-20", "2024-02-05", "2024-02-15", "2024-02-25"])
    r = pd.DataFrame({"A": [0.10, -0.10, 0.02, 0.03, -0.01], "资产1": [0.0, 0.05, 0.0, 0.0, 0.0]}, index=idx)
    m = data.resample_returns(r, "monthly")
    assert list(m.index) == list(pd.to_datetime(["2024-01-20", "2024-02-25"]))  # last dates observed
    assert m.loc["2024-01-20", "A"] == pytest.approx(1.1 * 0.9 - 1)
    assert m.loc["2024-02-25", "A"] == pytest.approx(1.02 * 1.03 * 0.99 - 1)
    assert m.loc["2024-01-20", "资产1"] == pytest.approx(0.05)
    logs = data.resample_returns(np.log1p(r), "M", kind="log")
    np.testing.assert_allclose(np.expm1(logs.to_numpy()), m.to_numpy(), rtol=1e-12)
    with pytest.raises(DataError, match=r"'A'.*2024-01-20"):
        data.resample_returns(r.mask(r == -0.10), "monthly")
    with pytest.raises(ParameterError, match="frequency"):
        data.resample_returns(r, "fortnightly")


def test_resampling_to_the_same_frequency_changes_nothing():
    monthly = data.load_returns("sample:ff_factors", end="1950-12-01")
    pd.testing.assert_frame_equal(
        data.load_returns("sample:ff_factors", end="1950-12-01", frequency="monthly"), monthly
    )
    daily = data.load_prices("sample", end="1990-03-01")
    pd.testing.assert_frame_equal(data.load_prices("sample", end="1990-03-01", frequency="daily"), daily)


def test_resample_to_a_higher_frequency_is_refused():
    with pytest.raises(ParameterError, match="cannot resample monthly"):
        data.load_returns("sample:ff_factors", frequency="daily")


@pytest.mark.parametrize(
    ("freq", "expected"),
    [("B", 252), ("W-FRI", 52), ("ME", 12), ("QE", 4), ("YE", 1), ("D", 365)],
)
def test_periods_per_year(freq, expected):
    assert data.periods_per_year(pd.date_range("2001-01-01", periods=40, freq=freq)) == expected


def test_periods_per_year_override_and_errors():
    idx = pd.date_range("2001-01-01", periods=5, freq="ME")
    assert data.periods_per_year(idx, override=360) == 360
    with pytest.raises(ParameterError):
        data.periods_per_year(idx, override=0)
    with pytest.raises(InsufficientDataError):
        data.periods_per_year(idx[:1])
    with pytest.raises(TypeError):
        data.periods_per_year(pd.RangeIndex(5))


# ----------------------------------------------------------------------------- aligning to a benchmark


def _days(*days: int) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(2024, 1, d) for d in days], name="date")


def test_align_returns_compounds_over_dates_one_side_lacks():
    # prices A: 100, 101, 111.1, 99.99, 101.9898 on 1..5 Jan; the index has no price on 3 Jan
    stock = pd.DataFrame({"A": [0.01, 0.10, -0.10, 0.02]}, index=_days(2, 3, 4, 5))
    index = pd.Series([0.02, 0.01, 0.03], index=_days(2, 4, 5), name="IDX")
    with pytest.warns(PoolkitWarning, match="1 date\\(s\\) of `returns`.*compounded"):
        a, b = data.align_returns(stock, index)
    # by hand: 2 Jan 0.01; 3-4 Jan 101 -> 99.99 = 1.10 * 0.90 - 1 = -0.01; 5 Jan 0.02
    np.testing.assert_allclose(a["A"].to_numpy(), [0.01, -0.01, 0.02], rtol=1e-12)
    assert isinstance(a, pd.DataFrame) and isinstance(b, pd.Series) and b.name == "IDX"
    assert a.index.equals(b.index) and list(b) == [0.02, 0.01, 0.03]
    # the same prices give the same aligned returns: P(4 Jan) / P(2 Jan) - 1
    assert a.loc["2024-01-04", "A"] == pytest.approx(99.99 / 101 - 1, rel=1e-12)
    # swapping the arguments aligns the same way
    with pytest.warns(PoolkitWarning, match="of `other`.*compounded"):
        b2, a2 = data.align_returns(index, stock)
    pd.testing.assert_frame_equal(a2, a)
    pd.testing.assert_series_equal(b2, b)


def test_align_returns_adds_log_returns_and_drops_an_unmatched_start():
    logs = pd.DataFrame({"A": [0.01, 0.02, 0.03, 0.04]}, index=_days(2, 3, 4, 5))
    logs.attrs["returns_kind"] = "log"
    other = pd.Series([0.1, 0.2, 0.3], index=_days(3, 4, 5))  # starts a day later
    with pytest.warns(PoolkitWarning, match="dropped"):
        a, b = data.align_returns(logs, other)
    # 3 Jan is the first common date but the two first returns span different intervals: dropped
    assert list(a.index.day) == [4, 5] and a["A"].tolist() == pytest.approx([0.03, 0.04])
    assert b.tolist() == [0.2, 0.3] and a.attrs["returns_kind"] == "log"


def test_align_returns_of_identical_dates_changes_nothing(returns):
    import warnings

    bench = returns.mean(axis=1).rename("pool")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to merge or drop: no warning
        a, b = data.align_returns(returns, bench)
    pd.testing.assert_frame_equal(a, returns)
    pd.testing.assert_series_equal(b, bench)
    assert data.align_returns(returns, None) == (returns, None)


def test_align_returns_refuses_what_it_cannot_align():
    r = pd.DataFrame({"A": [0.01, 0.02, 0.03]}, index=_days(2, 3, 4))
    with pytest.raises(InsufficientDataError, match="share 0 aligned date"):
        data.align_returns(r, pd.Series([0.1, 0.2], index=_days(4, 5)))
    with pytest.raises(DataError, match="not sorted"):
        data.align_returns(r.iloc[::-1], r)
    with pytest.raises(DataError, match="indexed by date"):
        data.align_returns(r.reset_index(drop=True), r)


def test_load_returns_align_to_and_load_benchmark():
    bench = data.load_benchmark("sample:sp500_index", start="2020-01-01", end="2020-12-31")
    assert isinstance(bench, pd.Series) and bench.name == "SP500"
    assert bench.loc["2020-03-16"] == pytest.approx(
        raw_value("skfolio_sp500_index_daily.csv.gz", "2020-03-16", "SP500")
        / raw_value("skfolio_sp500_index_daily.csv.gz", "2020-03-13", "SP500") - 1, rel=1e-12)
    assert data.load_benchmark("") is None and data.load_benchmark(None) is None
    shorter = bench.loc["2020-06-01":]
    with pytest.warns(PoolkitWarning, match="dropped"):
        r = data.load_returns("sample", assets=["KO"], start="2020-01-01", end="2020-12-31", align_to=shorter)
    # 1 June is common but KO's return there starts on 29 May, the benchmark's unknown: from 2 June on
    assert r.index.equals(shorter.index[1:]) and r.attrs["returns_kind"] == "simple"
    with pytest.raises(ParameterError, match=r"holds 20 series.*`column=`"):
        data.load_benchmark("sample", end="1990-02-01")
    assert data.load_benchmark("sample", column="KO", end="1990-02-01").name == "KO"


# ----------------------------------------------------------------------------- files and layouts


WIDE = "date,资产1,B\n2024-01-02,10,20\n2024-01-03,11,19\n2024-01-04,12,21\n2024-01-05,11.5,22\n"
LONG = (
    "date,asset,price\n"
    "2024-01-02,资产1,10\n2024-01-02,B,20\n2024-01-03,资产1,11\n2024-01-03,B,19\n"
    "2024-01-04,资产1,12\n2024-01-04,B,21\n2024-01-05,资产1,11.5\n2024-01-05,B,22\n"
)


def test_wide_and_long_layouts_give_the_same_frame(tmp_path):
    wide = data.load_prices(write_csv(tmp_path / "wide.csv", WIDE), values="prices")
    long = data.load_prices(write_csv(tmp_path / "long.csv", LONG), values="prices")
    pd.testing.assert_frame_equal(wide, long, check_freq=False)
    assert list(wide.columns) == ["资产1", "B"]
    assert wide.loc["2024-01-03", "资产1"] == 11.0
    assert pd.api.types.is_string_dtype(wide.columns)
    r = data.load_returns(tmp_path / "long.csv", values="prices", assets=["B"])
    assert r["B"].tolist() == pytest.approx([19 / 20 - 1, 21 / 19 - 1, 22 / 21 - 1])


def test_semicolon_csv_and_unnamed_long_layout(tmp_path):
    semi = write_csv(tmp_path / "semi.csv", WIDE.replace(",", ";"))
    wide = data.load_prices(write_csv(tmp_path / "wide.csv", WIDE), values="prices")
    pd.testing.assert_frame_equal(data.load_prices(semi, values="prices"), wide, check_freq=False)
    renamed = LONG.replace("date,asset,price", "when,sym,px")  # long layout recognised from its shape
    loaded = data.load_prices(write_csv(tmp_path / "l.csv", renamed), values="prices")
    pd.testing.assert_frame_equal(loaded, wide, check_freq=False)


def test_csv_gz_parquet_and_xlsx_round_trips(tmp_path):
    frame = data.load_prices(write_csv(tmp_path / "w.csv", WIDE), values="prices")
    frame.to_csv(tmp_path / "w.csv.gz")
    frame.to_parquet(tmp_path / "w.parquet")
    frame.to_excel(tmp_path / "w.xlsx")
    for name in ["w.csv.gz", "w.parquet", "w.xlsx"]:
        back = data.load_prices(tmp_path / name, values="prices")
        pd.testing.assert_frame_equal(back, frame, check_freq=False, check_index_type=False)
        assert back.index.dtype.kind == "M"
        assert back.attrs["source"] == str((tmp_path / name).resolve())


def test_in_memory_frame_is_a_source(small_prices):
    loaded = data.load_prices(small_prices, values="prices")
    pd.testing.assert_frame_equal(loaded, small_prices, check_freq=False)


def test_detection_says_what_it_found(tmp_path):
    f = write_csv(
        tmp_path / "r.csv", "date,A,B\n2024-01-31,0.01,-0.02\n2024-02-29,-0.03,0.04\n2024-03-31,0.02,0.01\n"
    )
    with pytest.warns(PoolkitWarning, match="as returns"):
        r = data.load_returns(f)
    assert r.attrs["kind"] == "returns" and r.loc["2024-02-29", "A"] == -0.03
    with pytest.warns(PoolkitWarning, match="as prices"):
        data.load_prices(write_csv(tmp_path / "p.csv", WIDE))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.load_returns(f, values="returns")  # stated: no warning
    with pytest.warns(PoolkitWarning, match="growth of 1"):
        wealth = data.load_prices(f, values="returns")
    assert wealth["A"].tolist() == pytest.approx([1.01, 1.01 * 0.97, 1.01 * 0.97 * 1.02])


def test_returns_in_percent_are_refused_with_a_hint(tmp_path):
    f = write_csv(tmp_path / "pct.csv", "date,A\n2024-01-31,1.5\n2024-02-29,-2.5\n2024-03-31,3.0\n")
    with (
        pytest.raises(DataError, match="divide them by 100"),
        pytest.warns(PoolkitWarning, match="as prices"),
    ):
        data.load_returns(f)


def test_unsorted_dates_are_sorted_with_a_note(tmp_path):
    f = write_csv(tmp_path / "u.csv", "date,A\n2024-01-03,11\n2024-01-02,10\n2024-01-04,12\n")
    with pytest.warns(PoolkitWarning, match="sorted"):
        prices = data.load_prices(f, values="prices")
    assert prices["A"].tolist() == [10.0, 11.0, 12.0]


def test_assets_start_end_select(tmp_path):
    f = write_csv(tmp_path / "w.csv", WIDE)
    got = data.load_prices(f, values="prices", assets=["B", "资产1"], start="2024-01-03", end="2024-01-04")
    assert list(got.columns) == ["B", "资产1"] and list(got.index.day) == [3, 4]


# ----------------------------------------------------------------------------- missing data policy


GAPPY = "date,A,B\n2024-01-02,10,20\n2024-01-03,,19\n2024-01-04,,21\n2024-01-05,11,22\n2024-01-08,12,\n"


def test_missing_raise_names_the_first_gap(tmp_path):
    f = write_csv(tmp_path / "g.csv", GAPPY)
    with pytest.raises(DataError, match=r"3 missing.*'A' at 2024-01-03.*missing='drop'"):
        data.load_prices(f, values="prices")


def test_missing_drop_and_ffill_warn(tmp_path):
    f = write_csv(tmp_path / "g.csv", GAPPY)
    with pytest.warns(PoolkitWarning, match="dropped 3"):
        dropped = data.load_prices(f, values="prices", missing="drop")
    assert list(dropped.index.day) == [2, 5]
    with pytest.warns(PoolkitWarning, match="filled 3"):
        filled = data.load_prices(f, values="prices", missing="ffill", limit=2)
    assert filled["A"].tolist() == [10, 10, 10, 11, 12] and filled["B"].tolist() == [20, 19, 21, 22, 22]
    with pytest.raises(DataError, match=r"gap longer than limit=1.*2024-01-04"):
        data.load_prices(f, values="prices", missing="ffill", limit=1)
    rets = write_csv(tmp_path / "gr.csv", "date,A\n2024-01-31,0.01\n2024-02-29,\n2024-03-31,-0.02\n")
    with pytest.warns(PoolkitWarning):
        r = data.load_returns(rets, values="returns", missing="ffill")
    assert r["A"].tolist() == [0.01, 0.0, -0.02]  # a missing return filled = price unchanged


def test_late_starting_asset_needs_drop_or_later_start(tmp_path):
    f = write_csv(tmp_path / "late.csv", "date,A,B\n2024-01-02,10,\n2024-01-03,11,5\n2024-01-04,12,6\n")
    with pytest.raises(DataError, match=r"'B' starts later.*start='2024-01-03'"):
        data.load_prices(f, values="prices", missing="ffill")
    assert len(data.load_prices(f, values="prices", start="2024-01-03")) == 2


# ----------------------------------------------------------------------------- every bad input


BAD_INPUTS = [
    # (file name, content, keyword arguments, exception, message pattern)
    ("empty.csv", "", {}, DataError, r"empty\.csv.*empty"),
    ("header.csv", "date,A,B\n", {}, DataError, r"header\.csv.*no data rows"),
    ("nodate.csv", "A,B\n1.0,2.0\n1.1,2.1\n", {}, DataError, r"no date column.*date_column"),
    (
        "baddate.csv",
        "date,A\n2024-01-02,1\n2024-01-03,2\nyesterday,3\n",
        {},
        DataError,
        r"'yesterday'.*'date' at row 4",
    ),
    ("emptydate.csv", "date,A\n2024-01-02,1\n,2\n2024-01-04,3\n", {}, DataError, r"empty cell.*row 3"),
    (
        "dup.csv",
        "date,A\n2024-01-02,1\n2024-01-03,2\n2024-01-03,3\n",
        {},
        DataError,
        r"2024-01-03 appears 2 times \(row 3, row 4\)",
    ),
    (
        "text.csv",
        "date,A,B\n2024-01-02,1,2\n2024-01-03,n/a?,2\n",
        {},
        DataError,
        r"'n/a\?' in column 'A' at row 3",
    ),
    (
        "neg.csv",
        "date,A,B\n2024-01-02,10,2\n2024-01-03,11,-2\n2024-01-04,12,2\n",
        {"values": "prices"},
        DataError,
        r"non-positive price -2 in column 'B' at 2024-01-03",
    ),
    (
        "zero.csv",
        "date,A\n2024-01-02,10\n2024-01-03,0\n2024-01-04,12\n",
        {},
        DataError,
        r"non-positive price 0 in column 'A'",
    ),
    (
        "hollow.csv",
        "date,A,B\n2024-01-02,10,\n2024-01-03,11,\n",
        {},
        DataError,
        r"column 'B' is entirely empty",
    ),
    ("w.csv", WIDE, {"assets": ["资产2"]}, DataError, r"'资产2' is not in the data\. Did you mean '资产1'"),
    ("w.csv", WIDE, {"assets": ["b"]}, DataError, r"Did you mean 'B'"),
    (
        "w.csv",
        WIDE,
        {"start": "2024-02-01"},
        DataError,
        r"start=2024-02-01 is after the last date.*2024-01-05",
    ),
    ("w.csv", WIDE, {"end": "2023-01-01"}, DataError, r"end=2023-01-01 is before the first date"),
    (
        "w.csv",
        WIDE,
        {"start": "2024-01-05", "end": "2024-01-02"},
        ParameterError,
        r"`start` \(2024-01-05\) is after `end`",
    ),
    ("w.csv", WIDE, {"start": "not a date"}, ParameterError, r"`start` must be a date"),
    ("w.csv", WIDE, {"start": "2024-01-05"}, InsufficientDataError, r"1 date\(s\) loaded but at least 2"),
    ("w.csv", WIDE, {"missing": "fill"}, ParameterError, r"`missing` must be one of.*Did you mean 'ffill'"),
    ("ragged.csv", "date,A\n2024-01-02,1\n2024-01-03,2,3,4\n", {}, DataError, r"ragged\.csv.*not valid CSV"),
    ("dupcol.csv", "date,A,A\n2024-01-02,1,2\n", {}, DataError, r"'A' appears more than once"),
    ("noname.csv", "date,A,\n2024-01-02,1,2\n2024-01-03,1,2\n", {}, DataError, r"column 3 has no name"),
    ("data.json", '{"A": 1}', {}, DataError, r"unknown file format '\.json'"),
    ("broken.parquet", "not parquet", {}, DataError, r"could not read .*broken\.parquet"),
    ("broken.xlsx", "not excel", {}, DataError, r"could not read .*broken\.xlsx"),
    (
        "w.csv",
        WIDE,
        {"date_column": "Date"},
        DataError,
        r"date column 'Date' not found\. Did you mean 'date'",
    ),
]


@pytest.mark.parametrize(
    ("name", "content", "kwargs", "exc", "pattern"),
    BAD_INPUTS,
    ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD_INPUTS)],
)
def test_bad_input_raises_a_named_error(tmp_path, name, content, kwargs, exc, pattern):
    f = write_csv(tmp_path / name, content)
    kwargs = {"values": "prices", **kwargs}
    with pytest.raises(exc, match=pattern) as info:
        data.load_prices(f, **kwargs)
    assert isinstance(info.value, PoolkitError) and isinstance(info.value, ValueError)
    if exc is DataError and "Did you mean" not in pattern and "start" not in kwargs and "end" not in kwargs:
        assert name in str(info.value)  # the file is named


def test_missing_file_suggests_the_nearest_name(tmp_path):
    write_csv(tmp_path / "prices.csv", WIDE)
    with pytest.raises(DataError, match=r"file not found.*price\.csv.*Did you mean 'prices\.csv'"):
        data.load_prices(tmp_path / "price.csv")


def test_unknown_sample_suggests_the_nearest():
    with pytest.raises(DataError, match=r"Did you mean 'sample:sp500_index'"):
        data.load_returns("sample:sp500_indx")


def test_too_few_observations_for_the_frequency_asked():
    with pytest.raises(InsufficientDataError, match="at least 2"):
        data.load_returns("sample:ff_factors", frequency="annual", start="2017-01-01")


def test_mixed_frequencies_are_refused(tmp_path):
    monthly = pd.date_range("2015-01-31", periods=24, freq="ME")
    daily = pd.bdate_range("2017-01-02", periods=60)
    idx = monthly.append(daily)
    lines = ["date,A"] + [f"{d.date()},{100 + i}" for i, d in enumerate(idx)]
    f = write_csv(tmp_path / "mixed.csv", "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"mixed\.csv.*mixed frequencies"):
        data.load_prices(f, values="prices")
    # mostly daily gaps; the first monthly gap is 2015-01-31 -> 2015-02-28
    with pytest.raises(DataError, match=r"mostly daily dates but 23 monthly gaps \(the first ends 2015-02-28\)"):
        data.load_prices(f, values="prices")
    assert len(data.load_prices(f, values="prices", start="2017-01-01")) == 60


def test_bad_returns_are_named(tmp_path):
    f = write_csv(tmp_path / "r.csv", "date,A\n2024-01-31,0.01\n2024-02-29,-1.5\n2024-03-31,0.02\n")
    with pytest.raises(DataError, match=r"-1\.5 in column 'A' at 2024-02-29 is at or below -100"):
        data.load_returns(f, values="returns")


# ----------------------------------------------------------------------------- quality report


def test_quality_report_counts_by_hand():
    idx = pd.bdate_range("2024-01-01", periods=12)
    a = [10, 10, 10, 10, 10, 11, 11.5, 11, 11.2, 20, 11, 11.1]  # 5 equal prices, one jump (+78 %)
    b = [np.nan, 5, 5.05, np.nan, np.nan, np.nan, 5.12, 5.08, 5.15, 5.11, 5.2, 5.16]
    report = data.quality_report(pd.DataFrame({"A": a, "B": b}, index=idx), kind="prices")
    assert report.loc["A", "stale_runs"] == 1 and report.loc["A", "longest_stale"] == 5
    assert report.loc["A", "extreme_moves"] >= 1 and report.loc["B", "extreme_moves"] == 0
    assert report.loc["B", "first"] == idx[1] and report.loc["B", "last"] == idx[-1]
    assert (report.loc["B", "observations"], report.loc["B", "missing"], report.loc["B", "longest_gap"]) == (
        8,
        3,
        3,
    )
    assert report.loc["A", "missing"] == 0 and report.loc["A", "duplicates"] == 0
    # the jump 11.2 -> 20 is a robust z-score of 0.7857.../(1.4826 * MAD) computed by hand:
    moves = np.array(a[1:]) / np.array(a[:-1]) - 1
    med = np.median(moves)
    mad = np.median(np.abs(moves - med))
    assert report.loc["A", "max_abs_z"] == pytest.approx(abs(20 / 11.2 - 1 - med) / (1.4826 * mad))


def test_quality_report_on_returns_and_the_sample():
    r = data.load_returns("sample:ff_factors")
    report = data.quality_report(r)
    assert list(report.index) == list(r.columns) and report.index.name == "asset"
    assert (report["observations"] == 819).all() and (report["missing"] == 0).all()
    assert data.quality_report(data.load_prices("sample"))["observations"].eq(8313).all()


# ----------------------------------------------------------------------------- random malformed input


def test_random_malformed_files_give_a_poolkit_error_or_a_valid_frame(tmp_path_factory):
    hypothesis = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")

    cells = st.one_of(
        st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
        st.floats(min_value=0.5, max_value=500).map(lambda x: f"{x:.3f}"),
        st.sampled_from(["", "NA", "abc", "-1", "0", "1e400", "2024-01-02", "资产", " 3 ", "1,000"]),
    )
    dates = st.one_of(
        st.dates(
            min_value=pd.Timestamp("2000-01-01").date(), max_value=pd.Timestamp("2030-12-31").date()
        ).map(str),
        st.sampled_from(["", "x", "2024-13-01", "31/12/2024", "2024-01-02"]),
    )
    names = st.lists(st.sampled_from(["A", "B", "资产1", "date", "", "C c"]), min_size=1, max_size=4)
    outcomes = {"frame": 0, "error": 0}

    @hypothesis.settings(max_examples=60, deadline=None)
    # a clean file and a broken one always run, so both branches below are exercised
    @hypothesis.example(
        names=["A", "资产1"],
        rows=[("2024-01-02", ["10", "20", "", ""]), ("2024-01-03", ["11", "19", "", ""]),
              ("2024-01-04", ["12.1", "19.95", "", ""])],
        kind="prices",
        missing="raise",
    )
    @hypothesis.example(names=["A", "A"], rows=[("2024-01-02", ["1", "2", "", ""])], kind="auto", missing="raise")
    @hypothesis.given(
        names=names,
        rows=st.lists(st.tuples(dates, st.lists(cells, min_size=4, max_size=4)), max_size=8),
        kind=st.sampled_from(["auto", "prices", "returns"]),
        missing=st.sampled_from(["raise", "drop", "ffill"]),
    )
    def check(names, rows, kind, missing):
        folder = tmp_path_factory.mktemp("h")
        text = "\n".join([",".join(["date", *names])] + [",".join([d, *c[: len(names)]]) for d, c in rows])
        f = write_csv(folder / "f.csv", text + "\n")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PoolkitWarning)
            try:
                out = data.load_returns(f, values=kind, missing=missing, min_obs=1)
            except PoolkitError:
                outcomes["error"] += 1
                return
        outcomes["frame"] += 1
        assert isinstance(out.index, pd.DatetimeIndex) and out.index.name == "date"
        assert out.index.is_monotonic_increasing and not out.index.has_duplicates
        assert (out.dtypes == "float64").all() and np.isfinite(out.to_numpy()).all()
        if kind == "prices" and missing == "raise":  # every row kept: the returns are the price ratios
            prices = pd.DataFrame(
                {n: [float(c[i]) for _, c in rows] for i, n in enumerate(names)},
                index=pd.to_datetime([d for d, _ in rows]),
            ).sort_index()
            np.testing.assert_allclose(out.to_numpy(), (prices / prices.shift() - 1).iloc[1:].to_numpy(), rtol=1e-12)

    check()
    assert outcomes["frame"] >= 1 and outcomes["error"] >= 1


# ----------------------------------------------------------------------------- the notebook


@pytest.mark.notebook
def test_data_notebook_runs_with_injected_parameters(tmp_path):
    import json

    from poolkit.reporting import run_notebook

    nb = Path(__file__).resolve().parents[1] / "notebooks" / "01_data_loading.ipynb"
    out_dir = tmp_path / "out"
    params = {
        "source": "sample:factor_etfs",
        "assets": ["MTUM", "USMV"],
        "start": "2016-01-01",
        "end": "2020-12-31",
        "frequency": "weekly",
        "kind": "log",
        "out_dir": str(out_dir),
    }
    run_notebook(nb, tmp_path / "run.ipynb", params, cwd=nb.parent)
    quality = pd.read_csv(out_dir / "quality.csv", index_col=0)
    assert list(quality.index) == ["MTUM", "USMV"]
    summary = json.loads((out_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["assets"] == 2 and summary["frequency"] == "weekly" and summary["periods_per_year"] == 52
    expected = data.load_returns(
        "sample:factor_etfs",
        assets=["MTUM", "USMV"],
        start="2016-01-01",
        end="2020-12-31",
        frequency="weekly",
        kind="log",
    )
    assert summary["observations"] == len(expected)
    assert summary["first"] == str(expected.index[0].date())
    annual = pd.read_csv(out_dir / "annual_returns.csv", index_col=0, parse_dates=True)
    assert list(annual.columns) == ["MTUM", "USMV"] and list(annual.index.year) == [
        2016,
        2017,
        2018,
        2019,
        2020,
    ]
