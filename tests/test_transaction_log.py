"""The mapping layer: someone else's transaction log goes through the same RFM SQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rfm_reference import rfm_reference

from rfmkit import rfm
from rfmkit.transaction_log import (
    MappingError,
    TransactionMapping,
    load_transaction_log,
    map_table,
    read_header,
)

# An online-retail style log: line items, semicolon-separated, US dates, quantity × unit price,
# a return invoice (negative quantity), a row without a customer and a status column.
RETAIL_ROWS = [
    "Invoice;StockCode;Description;Quantity;InvoiceDate;Price;Customer ID;Country;State",
    '489434;85048;"LED LIGHT; WARM";12;12/1/2009 07:45;6.95;13085;United Kingdom;paid',
    "489434;79323P;PINK CHERRY LIGHTS;12;12/1/2009 07:45;6.75;13085;United Kingdom;paid",
    "489435;22350;CAT BOWL;12;12/1/2009 07:46;2.55;13085;United Kingdom;paid",
    "489436;48173C;DOOR MAT;10;12/2/2009 09:06;5.95;13078;United Kingdom;paid",
    "C489449;22087;PAPER BUNTING;-12;12/3/2009 10:33;2.95;13078;United Kingdom;paid",
    "489450;21871;SAVE THE PLANET MUG;1;12/3/2009 10:40;1.25;;United Kingdom;paid",
    "489451;21523;FANCY FONT MAT;3;12/4/2009 16:15;7.49;15362;France;cancelled",
    "489452;21755;LOVE BUILDING;4;12/5/2009 12:00;5.45;15362;France;paid",
    "489453;21754;HOME BUILDING;2;12/5/2009 12:01;5.45;18102;Germany;paid",
]
RETAIL_MAPPING = TransactionMapping(customer="Customer ID", order="Invoice",
                                    timestamp="InvoiceDate", amount=("Quantity", "Price"),
                                    status="State")


@pytest.fixture
def retail_log(tmp_path) -> Path:
    path = tmp_path / "online_retail.csv"
    path.write_text("\n".join(RETAIL_ROWS) + "\n")
    return path


def retail_reference(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, sep=";", dtype={"Customer ID": "string"})
    frame = frame[frame["Customer ID"].notna() & (frame["State"] == "paid")]
    frame = frame.assign(cents=(frame["Quantity"] * frame["Price"] * 100).round().astype("int64"),
                         time=pd.to_datetime(frame["InvoiceDate"], format="%m/%d/%Y %H:%M"))
    orders = frame.groupby(["Customer ID", "Invoice"], as_index=False).agg(
        time=("time", "min"), cents=("cents", "sum"))
    return rfm_reference(orders.rename(columns={"Customer ID": "customer", "Invoice": "order"}))


def test_a_retail_log_is_scored_by_the_same_sql(warehouse, retail_log):
    report = load_transaction_log(warehouse, retail_log, RETAIL_MAPPING,
                                  time_format="MM/DD/YYYY HH24:MI")
    assert report.balanced and report.rows_loaded == 9 and report.rows_rejected == 0
    result = rfm.score(warehouse, order_statuses=["paid"], progress=None)
    ref = retail_reference(retail_log)
    got = warehouse.query("SELECT * FROM rfm_scores").set_index("customer_id").sort_index()
    assert result.customers == len(ref) == 4
    assert list(got.index) == list(ref.index)
    assert got["recency_days"].tolist() == ref["recency_days"].tolist()
    assert got["frequency"].tolist() == ref["frequency"].tolist()
    cents = (got["monetary"].astype(float) * 100).round().astype("int64")
    assert cents.tolist() == ref["monetary_cents"].tolist()
    for letter in "rfm":
        assert got[f"{letter}_score"].tolist() == ref[f"{letter}_score"].tolist()
    # 13085: invoices 489434 (two lines: 83.40 + 81.00) and 489435 (30.60)
    assert float(got.loc["13085", "monetary"]) == pytest.approx(195.00)
    acc = rfm.accounting(warehouse).set_index(["stage", "outcome"])["n"]
    assert acc["transaction rows", "no customer"] == 1
    assert acc["transaction rows", "order status not counted"] == 1
    assert acc["orders", "return or refund (negative total)"] == 1


def test_without_an_order_column_same_customer_same_time_is_one_order(warehouse, tmp_path):
    # CDNOW style: customer, date as YYYYMMDD, amount; no order id, one row per transaction
    path = tmp_path / "cdnow.csv"
    path.write_text("cust,date,qty,dollars\n1,19970101,1,11.77\n1,19970101,2,9.00\n"
                    "1,19970118,1,20.00\n2,19970102,2,89.00\n")
    mapping = TransactionMapping.from_params({"customer": "cust", "timestamp": "date",
                                              "amount": "dollars"})
    load_transaction_log(warehouse, path, mapping, time_format="YYYYMMDD")
    rfm.score(warehouse, progress=None)
    got = warehouse.query("SELECT customer_id, recency_days, frequency, monetary FROM rfm_scores "
                          "ORDER BY customer_id")
    got["monetary"] = got["monetary"].astype(float)
    assert got.values.tolist() == [["1", 1, 2, 40.77], ["2", 17, 1, 89.0]]


def test_missing_columns_are_named_with_suggestions(warehouse, retail_log):
    mapping = TransactionMapping(customer="CustomerID", timestamp="InvoiceDate",
                                 amount=("Quantity", "UnitPrice"))
    with pytest.raises(MappingError) as caught:
        load_transaction_log(warehouse, retail_log, mapping)
    message = str(caught.value)
    assert str(retail_log) in message
    assert "'CustomerID' (did you mean 'Customer ID'?)" in message
    assert "'UnitPrice'" in message and "it has: Invoice, StockCode" in message
    assert not warehouse.table_exists("raw_transaction_log")  # nothing half-done


def test_bad_rows_are_rejected_with_line_and_column(warehouse, retail_log):
    lines = retail_log.read_text().splitlines()
    lines[3] = lines[3].replace("12/1/2009 07:46", "yesterday")
    lines[4] = lines[4].replace(";10;", ";ten;")
    retail_log.write_text("\n".join(lines) + "\n")
    report = load_transaction_log(warehouse, retail_log, RETAIL_MAPPING,
                                  time_format="MM/DD/YYYY HH24:MI")
    assert report.rows_rejected == 2 and report.rows_loaded == 7 and report.balanced
    rejects = report.rejects.sort_values("line_number")
    assert rejects["line_number"].tolist() == [4, 5]
    assert rejects["column_name"].tolist() == ["InvoiceDate", "Quantity"]


@pytest.mark.parametrize("values, message", [
    ({"customer": "c", "timestamp": "t"}, r"holds \['amount'\]"),
    ({"customer": "c", "timestamp": "t", "amount": "a", "price": "p"}, r"unknown key\(s\) \['price'\]"),
])
def test_mapping_parameter_errors_name_the_parameter(values, message):
    with pytest.raises(MappingError, match=f"parameter log_columns: .*{message}"):
        TransactionMapping.from_params(values)


def test_header_problems_are_reported_with_file_and_column(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(MappingError, match="empty.csv: file is empty"):
        read_header(empty)
    blank = tmp_path / "blank.csv"
    blank.write_text("a,,c\n1,2,3\n")
    with pytest.raises(MappingError, match="blank.csv, line 1, column 2: empty column name"):
        read_header(blank)
    twice = tmp_path / "twice.csv"
    twice.write_text("a,b,A\n1,2,3\n")
    with pytest.raises(MappingError, match="duplicate column"):
        read_header(twice)
    with pytest.raises(MappingError, match="file not found"):
        read_header(tmp_path / "nope.csv")
    tabbed = tmp_path / "tabbed.tsv"
    tabbed.write_text("x\ty\n1\t2\n")
    assert read_header(tabbed) == (["x", "y"], "\t")


def test_map_table_uses_a_table_already_in_the_warehouse(warehouse):
    warehouse.execute("CREATE TABLE sales (buyer VARCHAR(10), ts TIMESTAMP, total DECIMAL(10,2))")
    warehouse.execute("INSERT INTO sales VALUES ('x', '2020-01-01 10:00:00', 5.00), "
                      "('x', '2020-01-03 10:00:00', 7.50), ('y', '2020-01-02 00:00:00', 1.00)")
    map_table(warehouse, "sales", TransactionMapping(customer="buyer", timestamp="ts",
                                                      amount="total"))
    rfm.score(warehouse, progress=None)
    got = warehouse.query("SELECT customer_id, recency_days, frequency, monetary FROM rfm_scores "
                          "ORDER BY customer_id")
    got["monetary"] = got["monetary"].astype(float)
    assert got.values.tolist() == [["x", 1, 2, 12.5], ["y", 2, 1, 1.0]]
    with pytest.raises(MappingError, match="table nope does not exist"):
        map_table(warehouse, "nope", TransactionMapping(customer="a", timestamp="b", amount="c"))
    with pytest.raises(MappingError, match="table sales: no column"):
        map_table(warehouse, "sales", TransactionMapping(customer="a", timestamp="ts",
                                                          amount="total"))


# CDNOW's public sample as it is published: no header, whitespace-separated (leading spaces and runs
# of spaces), CRLF line ends: customer id, date (YYYYMMDD), number of CDs, dollar value.
CDNOW_ROWS = ["00001 19970101  1  11.77", "00002 19970112  1  12.00", "00002 19970112  5  77.00",
              "00003 19970102  2  20.76", "00003 19970330  2  20.76", "00003 19970402  2  19.54",
              "00004 19970101  2  29.33"]


def cdnow_file(folder: Path) -> Path:
    path = folder / "CDNOW_master.txt"
    path.write_bytes("".join(f"  {row}\r\n" for row in CDNOW_ROWS).encode())
    return path


def test_a_whitespace_separated_log_without_header_is_mapped_by_position(warehouse, tmp_path):
    path = cdnow_file(tmp_path)
    mapping = TransactionMapping.from_params({"customer": 1, "timestamp": 2, "amount": 4})
    report = load_transaction_log(warehouse, path, mapping, time_format="YYYYMMDD", has_header=False,
                                  staging_dir=tmp_path / "staging")
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (7, 7, 0)
    assert "whitespace-separated CDNOW_master.txt" in report.message
    assert path.read_bytes().startswith(b"  00001 19970101")  # the user's file is left as it was
    rfm.score(warehouse, progress=None)
    got = warehouse.query("SELECT customer_id, frequency, monetary FROM rfm_scores ORDER BY customer_id")
    assert list(got["customer_id"]) == ["00001", "00002", "00003", "00004"]
    assert list(got["frequency"]) == [1, 1, 3, 1]  # customer 2's two rows share a date: one order
    assert [float(m) for m in got["monetary"]] == [11.77, 89.0, 61.06, 29.33]


def test_a_bad_value_in_a_whitespace_log_is_rejected_at_its_original_line(warehouse, tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("cust date amount\n1 20200101 5.0\n\n2 2020-13-45 7.0\n3 20200103 x\n")
    mapping = TransactionMapping.from_params({"customer": "cust", "timestamp": "date", "amount": "amount"})
    report = load_transaction_log(warehouse, path, mapping, time_format="YYYYMMDD", staging_dir=tmp_path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (3, 1, 2)
    assert list(report.rejects["line_number"]) == [4, 5]


@pytest.mark.parametrize("text, expected", [
    ("a,b,c\n1,2,3\n", ","), ("a;b;c\n1;2;3\n", ";"), ("a\tb\tc\n1\t2\t3\n", "\t"),
    ("a|b|c\n1|2|3\n", "|"), ("a b  c\n 1  2 3\n", " "), ("only\none\n", ","),
])
def test_the_delimiter_is_detected_including_whitespace_runs(tmp_path, text, expected):
    path = tmp_path / "log.txt"
    path.write_text(text)
    assert read_header(path)[1] == expected


def test_a_mapping_error_says_which_delimiter_was_assumed(warehouse, tmp_path):
    path = cdnow_file(tmp_path)
    mapping = TransactionMapping.from_params({"customer": "customer_id", "timestamp": "date", "amount": "dollar_value"})
    with pytest.raises(MappingError, match=r"read with delimiter whitespace \(detected\).*log_delimiter"):
        load_transaction_log(warehouse, path, mapping)
    with pytest.raises(MappingError, match="log_columns: amount=9 is not a column position; the file has 4"):
        load_transaction_log(warehouse, path, TransactionMapping.from_params(
            {"customer": 1, "timestamp": 2, "amount": 9}), has_header=False)
    with pytest.raises(MappingError, match="log_delimiter='colon'"):
        load_transaction_log(warehouse, path, mapping, delimiter="colon")
