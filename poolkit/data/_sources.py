"""Where the data come from: the bundled samples, file paths and the raw reading of a file."""

from __future__ import annotations

import csv
import functools
import gzip
from pathlib import Path

import pandas as pd

from poolkit._validation import did_you_mean
from poolkit.exceptions import DataError, ParameterError

_DATASETS = Path(__file__).resolve().parents[1] / "datasets"

# name -> (file, frequency, values, description, licence)
_SAMPLES: dict[str, tuple[str, str, str, str, str]] = {
    "sp500": (
        "skfolio_sp500_prices_daily.csv.gz",
        "daily",
        "prices",
        "Adjusted close prices (USD) of 20 S&P 500 stocks, trading days",
        "skfolio example data (BSD-3-Clause package; Yahoo-style prices, for examples and tests only)",
    ),
    "sp500_index": (
        "skfolio_sp500_index_daily.csv.gz",
        "daily",
        "prices",
        "S&P 500 index level (benchmark of the 20-stock sample)",
        "skfolio example data (BSD-3-Clause package; for examples and tests only)",
    ),
    "factor_etfs": (
        "skfolio_factor_etf_prices_daily.csv.gz",
        "daily",
        "prices",
        "Adjusted close prices of iShares factor ETFs MTUM QUAL SIZE USMV VLUE",
        "skfolio example data (BSD-3-Clause package; Yahoo-style prices, for examples and tests only)",
    ),
    "ff_portfolios": (
        "linearmodels_ff_portfolios_monthly.csv.gz",
        "monthly",
        "returns",
        "Monthly returns (decimal) of 12 industry, 9 size-value and 9 size-momentum portfolios",
        "Ken French Data Library via linearmodels (NCSA package licence; for examples and tests only)",
    ),
    "ff_factors": (
        "linearmodels_ff_factors_monthly.csv.gz",
        "monthly",
        "returns",
        "Monthly Fama-French factor returns (decimal): MktRF SMB HML Mom RF",
        "Ken French Data Library via linearmodels (NCSA package licence; for examples and tests only)",
    ),
}
_DEFAULT_SAMPLE = "sp500"
_SUFFIXES = (".csv", ".csv.gz", ".txt", ".parquet", ".pq", ".xlsx", ".xlsm")


def _sample_key(source: str) -> str | None:
    """Return the sample key of ``"sample"``/``"sample:NAME"``, None for other strings."""
    if source == "sample":
        return _DEFAULT_SAMPLE
    if source.startswith("sample:"):
        key = source.partition(":")[2]
        if key not in _SAMPLES:
            names = [f"sample:{k}" for k in _SAMPLES]
            raise DataError(
                f"unknown sample data set {source!r}.{did_you_mean(source, names)} "
                f"Bundled data sets: {names} (see poolkit.data.samples())."
            )
        return key
    return None


def source_path(source: str | Path) -> Path:
    """Return the file behind ``source``: a bundled sample's file or the path itself.

    Parameters
    ----------
    source : str or Path
        A sample name (``"sample"``, ``"sample:ff_factors"``, ...) or a file path.

    Returns
    -------
    Path
        Absolute path of the file (it is checked to exist).

    Raises
    ------
    DataError
        If the sample name is unknown or the file does not exist.

    Examples
    --------
    >>> source_path("sample:ff_factors").name
    'linearmodels_ff_factors_monthly.csv.gz'
    """
    if isinstance(source, str):
        key = _sample_key(source.strip())
        if key is not None:
            return _DATASETS / _SAMPLES[key][0]
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"`source` must be a path or a sample name such as 'sample', got {type(source).__name__}."
        )
    if not str(source).strip():
        raise ParameterError("`source` is empty; pass a file path or a sample name such as 'sample'.")
    path = Path(source).expanduser()
    if not path.exists():
        parent = path.parent if path.parent.exists() else None
        hint = did_you_mean(path.name, [p.name for p in parent.iterdir()]) if parent else ""
        raise DataError(
            f"file not found: {str(path)!r}.{hint} Check the path (relative paths start at "
            f"{str(Path.cwd())!r}) or use a bundled sample such as 'sample' (see poolkit.data.samples())."
        )
    if path.is_dir():
        raise DataError(
            f"{str(path)!r} is a folder, not a data file; point `source` at a .csv, .parquet or .xlsx file."
        )
    return path.resolve()


@functools.lru_cache(maxsize=8)
def _read_sample(key: str) -> pd.DataFrame:
    frame = pd.read_csv(_DATASETS / _SAMPLES[key][0], index_col=0, parse_dates=True, encoding="utf-8")
    frame = frame.astype("float64")
    frame.index.name = "date"
    frame.columns = pd.Index(frame.columns, dtype="str", name=None)
    return frame


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for suffix in (".csv.gz", ".txt.gz"):
        if name.endswith(suffix):
            return ".csv.gz"
    return path.suffix.lower()


def _csv_header(path: Path, compressed: bool) -> tuple[list[str], str]:
    """Return the header cells and the delimiter (comma, or semicolon/tab when the header has no comma)."""
    opener = gzip.open if compressed else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:  # type: ignore[operator]
        line = handle.readline()
    sep = ","
    if "," not in line:
        sep = ";" if ";" in line else "\t" if "\t" in line else ","
    return next(csv.reader([line], delimiter=sep), []), sep


def _read_raw(path: Path) -> tuple[pd.DataFrame, int]:
    """Read a file into a raw frame (text or typed cells) and the file row of its first data row."""
    suffix = _suffix(path)
    where = repr(str(path))
    if path.stat().st_size == 0:
        raise DataError(f"file {where} is empty (0 bytes); write the data into it or pick another file.")
    try:
        if suffix in (".csv", ".txt", ".csv.gz"):
            compressed = suffix == ".csv.gz"
            header, sep = _csv_header(path, compressed)
            seen: set[str] = set()
            for pos, col in enumerate(header):
                if col in seen and col.strip():
                    raise DataError(
                        f"file {where}: column name {col!r} appears more than once in the header "
                        f"(column {pos + 1}); give every asset a unique name."
                    )
                seen.add(col)
            raw = pd.read_csv(
                path, sep=sep, dtype=str, encoding="utf-8-sig", skipinitialspace=True, compression="infer"
            )
            first_row = 2
        elif suffix in (".parquet", ".pq"):
            raw = pd.read_parquet(path)
            if isinstance(raw.index, pd.DatetimeIndex) or raw.index.name is not None:
                raw = raw.reset_index()
            first_row = 1
        elif suffix in (".xlsx", ".xlsm"):
            raw = pd.read_excel(path, sheet_name=0)
            first_row = 2
        else:
            raise DataError(
                f"unknown file format {suffix or '(no extension)'!r} for {where}; poolkit reads "
                f"{list(_SUFFIXES)}. Save the data as CSV (date column first, one column per asset)."
            )
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"file {where} is empty (no header and no rows); write the data into it.") from exc
    except pd.errors.ParserError as exc:
        raise DataError(
            f"file {where} is not valid CSV: {exc}. Every row must have as many cells as the header."
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"file {where} is not UTF-8 text ({exc.reason}); re-save it as UTF-8 CSV.") from exc
    except (OSError, EOFError, ImportError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(
            f"could not read {where} as {suffix}: {exc}. Check that the file is a valid {suffix} file "
            f"(not truncated or mis-named)."
        ) from exc
    if raw.shape[1] == 0 or raw.shape[0] == 0:
        raise DataError(f"file {where} has a header but no data rows; it holds no observations.")
    raw.columns = [str(c) for c in raw.columns]
    return raw, first_row
