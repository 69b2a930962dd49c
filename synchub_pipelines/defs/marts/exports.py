"""Each mart as a CSV and an XLSX file in the data folder, for people who open files.

Files are written beside each other under `<data folder>/marts/` (`mart_sales_daily.csv`,
`mart_sales_daily.xlsx`…), each to a temporary name first and then renamed, so a reader
never sees half a file. The CSV is UTF-8 with a header, `.` as decimal point, booleans as
true/false and instants as ISO UTC text, the same from both warehouses; the XLSX holds
the same table on one sheet named after the mart. Excel stops at 1,048,576 rows: a larger
mart gets its CSV only, and the result says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    import pandas as pd

XLSX_MAX_ROWS = 1_048_575  # Excel's rows, less the header


@dataclass(frozen=True)
class Export:
    mart: str
    rows: int
    csv_path: Path
    xlsx_path: Path | None
    note: str = ""


def read_mart(engine: Engine, mart: str, types: Mapping[str, str]) -> pd.DataFrame:
    """The mart's rows in a stable order (its first columns, which lead with its grain),
    each column typed by its documented type (`types`: column → PostgreSQL type), so that
    both warehouses give the same frame: SQLite keeps booleans as 0/1, instants as text
    and money as REAL; PostgreSQL gives Decimal and aware timestamps."""
    # Imported here: every run process loads the code location, and only mart runs need it.
    import pandas as pd

    with engine.connect() as conn:
        columns = [c["name"] for c in sa.inspect(conn).get_columns(mart)]
        order = ", ".join(str(i) for i in range(1, min(len(columns), 4) + 1))
        frame = pd.read_sql_query(sa.text(f"SELECT * FROM {mart} ORDER BY {order}"), conn)
    for column in frame.columns:
        kind = types.get(column, "")
        values = frame[column]
        if kind == "boolean":
            frame[column] = values.map(lambda v: pd.NA if pd.isna(v) else bool(v)).astype("boolean")
        elif kind in {"integer", "bigint"}:
            frame[column] = pd.to_numeric(values).astype("Int64")
        elif kind.startswith("numeric"):
            frame[column] = pd.to_numeric(values.map(lambda v: None if pd.isna(v) else float(v)))
        elif kind == "date":
            frame[column] = values.map(lambda v: None if pd.isna(v) else str(v)[:10])
        elif kind.startswith("timestamp"):
            stamps = pd.to_datetime(values, utc=True, format="mixed")
            frame[column] = stamps.dt.tz_localize(None)
    return frame


def _replace(path: Path, write: object) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    write(temporary)  # type: ignore[operator]
    os.replace(temporary, path)


def export_mart(frame: pd.DataFrame, mart: str, folder: Path) -> Export:
    folder.mkdir(parents=True, exist_ok=True)
    csv_path = folder / f"{mart}.csv"
    _replace(
        csv_path,
        lambda p: frame.to_csv(p, index=False, date_format="%Y-%m-%dT%H:%M:%SZ"),
    )
    xlsx_path: Path | None = folder / f"{mart}.xlsx"
    note = ""
    if len(frame) > XLSX_MAX_ROWS:
        xlsx_path = None
        note = f"{len(frame)} rows do not fit an Excel sheet: CSV only"
        (folder / f"{mart}.xlsx").unlink(missing_ok=True)
    else:
        assert xlsx_path is not None
        _replace(
            xlsx_path,
            lambda p: frame.to_excel(p, index=False, sheet_name=mart[:31], engine="openpyxl"),
        )
    return Export(mart, len(frame), csv_path, xlsx_path, note)
