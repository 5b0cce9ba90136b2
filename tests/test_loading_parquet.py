"""COPY ... FORMAT PARQUET on DuckDB (accounting, rejects, column checks) and the Redshift request."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rfmkit.warehouse import LoadError, MaxErrorsExceeded
from rfmkit.warehouse.redshift import RedshiftWarehouse

COLUMNS = ["order_id", "payment_sequential", "payment_type", "payment_installments", "payment_value"]


def payments_table(n: int, start: int = 0) -> dict[str, list]:
    ids = range(start, start + n)
    return {"order_id": [f"{i:032x}" for i in ids], "payment_sequential": [1] * n,
            "payment_type": ["credit_card"] * n, "payment_installments": [1 + i % 10 for i in ids],
            "payment_value": [f"{10 + i}.50" for i in ids]}


def write(path, columns: dict[str, list], schema: pa.Schema | None = None):
    pq.write_table(pa.table(columns, schema=schema), path, row_group_size=50_000)
    return path


def test_typed_parquet_loads_every_row(warehouse, tmp_path):
    data = payments_table(130_000)  # more than one DuckDB row group
    data["payment_value"] = [10.5 + i for i in range(130_000)]  # typed, as most Parquet is
    path = write(tmp_path / "payments.parquet", data)
    report = warehouse.load_parquet("olist_order_payments", path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (130_000, 130_000, 0)
    assert warehouse.row_count("olist_order_payments") == 130_000
    again = warehouse.load_parquet("olist_order_payments", path)  # replace mode: idempotent
    assert again.rows_loaded == 130_000 and warehouse.row_count("olist_order_payments") == 130_000
    total = warehouse.query("SELECT SUM(payment_value) AS s FROM olist_order_payments")["s"][0]
    assert float(total) == pytest.approx(sum(10.5 + i for i in range(130_000)))


def test_bad_rows_are_rejected_with_row_numbers_and_reasons(warehouse, tmp_path):
    data = payments_table(1000)
    data["payment_value"][10] = "n/a"               # not a decimal
    data["order_id"][200] = None                    # NULL in a NOT NULL column
    data["payment_installments"][300] = 10 ** 12    # does not fit the table's INTEGER
    path = write(tmp_path / "p.parquet", data)
    report = warehouse.load_parquet("olist_order_payments", path, max_errors=5)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (1000, 997, 3)
    rejects = report.rejects.set_index("line_number")
    assert list(rejects.index) == [11, 201, 301]  # 1-based row positions in the file
    assert rejects.loc[11, "column_name"] == "payment_value" and "n/a" in rejects.loc[11, "reason"]
    assert rejects.loc[201, "reason"] == "NULL in NOT NULL column order_id"
    assert rejects.loc[301, "column_name"] == "payment_installments"
    assert rejects.loc[11, "raw_line"].split(",")[-1] == "n/a"
    stored = warehouse.rejects(load_id=report.load_id)
    assert sorted(stored["line_number"]) == [11, 201, 301]


def test_default_max_errors_is_zero_like_redshift(warehouse, tmp_path):
    good = write(tmp_path / "good.parquet", payments_table(5))
    warehouse.load_parquet("olist_order_payments", good)
    data = payments_table(5, start=100)
    data["payment_value"][2] = "x"
    bad = write(tmp_path / "bad.parquet", data)
    with pytest.raises(MaxErrorsExceeded, match=r"bad.parquet, line 3, column payment_value") as info:
        warehouse.load_parquet("olist_order_payments", bad)
    assert warehouse.row_count("olist_order_payments") == 5  # unchanged
    assert len(warehouse.rejects(load_id=info.value.report.load_id)) == 1  # nothing lost


def test_columns_are_checked_by_position_naming_file_and_column(warehouse, tmp_path):
    data = payments_table(3)
    swapped = {k: data[k] for k in ["order_id", "payment_type", "payment_sequential",
                                    "payment_installments", "payment_value"]}
    path = write(tmp_path / "swapped.parquet", swapped)
    with pytest.raises(LoadError, match=r"swapped.parquet, column 2: .*'payment_type' where the "
                                        r"table expects 'payment_sequential'"):
        warehouse.load_parquet("olist_order_payments", path)
    short = write(tmp_path / "short.parquet", {k: data[k] for k in COLUMNS[:4]})
    with pytest.raises(LoadError, match=r"short.parquet: Parquet file has 4 columns.*missing.*payment_value"):
        warehouse.load_parquet("olist_order_payments", short)
    not_parquet = tmp_path / "fake.parquet"
    not_parquet.write_text("order_id\n")
    with pytest.raises(LoadError, match=r"fake.parquet: not a readable Parquet file"):
        warehouse.load_parquet("olist_order_payments", not_parquet)


def test_folder_of_parquet_files(warehouse, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    write(folder / "part-0.parquet", payments_table(10))
    write(folder / "part-1.parquet", payments_table(7, start=10))
    (folder / "notes.csv").write_text("ignored\n")
    report = warehouse.load_parquet("olist_order_payments", folder)
    assert report.rows_loaded == 17 and len(report.files) == 2


def test_redshift_parquet_copy_request_and_max_errors(tmp_path):
    wh = RedshiftWarehouse(transport=None, copy_role_arn="arn:aws:iam::123456789012:role/copy")
    wh._audit_ready = True
    wh.table_columns = lambda table: __import__("pandas").DataFrame({"name": COLUMNS})
    path = write(tmp_path / "p.parquet", payments_table(3))
    with pytest.raises(ValueError, match=r"max_errors=3: Redshift's COPY from Parquet has no MAXERROR"):
        wh.load_parquet("olist_order_payments", path, max_errors=3)
    from rfmkit.warehouse.dialect import CopyCommand

    command = CopyCommand("olist_order_payments", "s3://b/loads/1/", options={"FORMAT": "PARQUET"})
    statement = wh.copy_sql(command, "stage_1")
    assert statement == ("COPY \"stage_1\" FROM 's3://b/loads/1/' FORMAT PARQUET "
                         "IAM_ROLE 'arn:aws:iam::123456789012:role/copy'")
    assert "MAXERROR" not in statement and "IGNOREHEADER" not in statement
