"""COPY semantics on DuckDB: accounting, rejects, MAXERROR rollback, idempotent re-runs, bad input."""

from pathlib import Path

import pytest
from conftest import PAYMENTS_HEADER, write_payments

from rfmkit.warehouse import LoadError, MaxErrorsExceeded


def good_rows(n: int, start: int = 0) -> list[str]:
    return [f"{i:032x},1,credit_card,{1 + i % 10},{10 + i}.50" for i in range(start, start + n)]


def test_real_payments_file_loads_completely(warehouse, real_payments):
    report = warehouse.load_csv("olist_order_payments", real_payments)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (103_886, 103_886, 0)
    assert warehouse.row_count("olist_order_payments") == 103_886
    # Split payments survive: 99,440 distinct orders in 103,886 rows.
    assert warehouse.query("SELECT COUNT(DISTINCT order_id) AS n FROM olist_order_payments")["n"][0] == 99_440


@pytest.fixture
def corrupted(tmp_path) -> tuple[Path, dict[int, str]]:
    rows = good_rows(1000)
    damage = {
        10: ("abc,1,credit_card,x,10.00", "payment_installments"),       # not a number
        200: ("abd,1,credit_card,1", "payment_value"),                   # a column missing
        300: ("abe,1,boleto,1,5.00,extra", None),                        # a column too many
        400: (",1,boleto,1,5.00", "order_id"),                           # NULL key
        500: ("abf,1,boleto,1,1e", "payment_value"),                     # bad decimal
    }
    for index, (text, _) in damage.items():
        rows[index] = text
    path = write_payments(tmp_path / "payments.csv", rows)
    # file line = data index + 2 (line 1 is the header)
    return path, {index + 2: column for index, (_, column) in damage.items()}


def test_corrupted_lines_are_rejected_with_reasons(warehouse, corrupted):
    path, expected = corrupted
    report = warehouse.load_csv("olist_order_payments", path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (1000, 995, 5)
    assert list(report.rejects["line_number"]) == sorted(expected)
    for row in report.rejects.itertuples():
        assert row.reason, row
        assert row.file_name == str(path)
        if expected[row.line_number]:
            assert row.column_name == expected[row.line_number]
        assert row.raw_line == path.read_text().splitlines()[row.line_number - 1]
    stored = warehouse.rejects(load_id=report.load_id)
    assert len(stored) == 5 and set(stored["line_number"]) == set(expected)
    assert warehouse.row_count("olist_order_payments") == 995


def test_max_errors_exceeded_fails_and_leaves_table_unchanged(warehouse, corrupted, tmp_path):
    path, _ = corrupted
    warehouse.load_csv("olist_order_payments", write_payments(tmp_path / "ok.csv", good_rows(7)))
    with pytest.raises(MaxErrorsExceeded, match=r"5 rows rejected, more than max_errors=3.*unchanged") as info:
        warehouse.load_csv("olist_order_payments", path, max_errors=3)
    assert "line 12" in str(info.value)
    assert warehouse.row_count("olist_order_payments") == 7
    history = warehouse.load_history("olist_order_payments")
    assert list(history["status"]) == ["failed", "loaded"]
    # The rejected rows of the failed load are kept for inspection.
    assert len(warehouse.rejects(load_id=info.value.report.load_id)) == 5


def test_second_load_of_same_file_does_not_duplicate(warehouse, tmp_path):
    path = write_payments(tmp_path / "p.csv", good_rows(50))
    for _ in range(2):
        warehouse.load_csv("olist_order_payments", path)
    assert warehouse.row_count("olist_order_payments") == 50
    assert len(warehouse.load_history()) == 2


def test_append_mode_skips_a_file_already_loaded(warehouse, tmp_path):
    first = write_payments(tmp_path / "a.csv", good_rows(10))
    second = write_payments(tmp_path / "b.csv", good_rows(5, start=10))
    warehouse.load_csv("olist_order_payments", first, mode="append")
    again = warehouse.load_csv("olist_order_payments", first, mode="append")
    warehouse.load_csv("olist_order_payments", second, mode="append")
    assert again.status == "skipped"
    assert warehouse.row_count("olist_order_payments") == 15


def test_append_of_a_folder_loads_the_new_file_and_records_the_known_one_as_skipped(warehouse, tmp_path):
    folder = tmp_path / "drops"
    folder.mkdir()
    write_payments(folder / "a.csv", good_rows(10))
    warehouse.load_csv("olist_order_payments", folder, mode="append")
    write_payments(folder / "b.csv", good_rows(5, start=10))  # the next day's drop lands beside it
    report = warehouse.load_csv("olist_order_payments", folder, mode="append")
    assert (report.status, report.rows_read, report.rows_loaded) == ("loaded", 5, 5)
    assert warehouse.row_count("olist_order_payments") == 15
    audit = warehouse.load_history("olist_order_payments").query("load_id == @report.load_id")
    status = dict(zip(audit["file_name"].map(lambda f: f.rsplit("/", 1)[-1]), audit["status"], strict=True))
    assert status == {"a.csv": "skipped", "b.csv": "loaded"}


def test_merge_mode_upserts_on_key(warehouse, tmp_path):
    warehouse.load_csv("olist_order_payments", write_payments(tmp_path / "a.csv", good_rows(10)))
    changed = [f"{i:032x},1,boleto,1,99.00" for i in range(5, 15)]
    warehouse.load_csv("olist_order_payments", write_payments(tmp_path / "b.csv", changed), mode="merge",
                       key=("order_id", "payment_sequential"))
    frame = warehouse.query("SELECT payment_type, COUNT(*) AS n FROM olist_order_payments GROUP BY 1 ORDER BY 1")
    assert frame.to_dict("list") == {"payment_type": ["boleto", "credit_card"], "n": [10, 5]}


def test_merge_without_key_is_a_parameter_error(warehouse, tmp_path):
    with pytest.raises(ValueError, match="mode='merge' needs key"):
        warehouse.load_csv("olist_order_payments", write_payments(tmp_path / "a.csv", good_rows(1)), mode="merge")


def test_wrong_header_names_file_line_and_column(warehouse, tmp_path):
    path = write_payments(tmp_path / "h.csv", good_rows(3),
                          header="order_id,payment_sequential,payment_kind,payment_installments,payment_value")
    with pytest.raises(LoadError, match=r"h.csv, line 1, column 3: header has 'payment_kind' where the table "
                                        r"expects 'payment_type'"):
        warehouse.load_csv("olist_order_payments", path)


def test_header_with_missing_column(warehouse, tmp_path):
    path = write_payments(tmp_path / "h.csv", [], header="order_id,payment_sequential")
    with pytest.raises(LoadError, match="header has 2 columns, the table has 5"):
        warehouse.load_csv("olist_order_payments", path)


def test_missing_and_empty_files(warehouse, tmp_path):
    with pytest.raises(LoadError, match="no such file"):
        warehouse.load_csv("olist_order_payments", tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(LoadError, match="empty.csv: file is empty"):
        warehouse.load_csv("olist_order_payments", empty)


def test_header_only_file_loads_zero_rows(warehouse, tmp_path):
    report = warehouse.load_csv("olist_order_payments", write_payments(tmp_path / "h.csv", []))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (0, 0, 0)


def test_unknown_table(warehouse, tmp_path):
    with pytest.raises(LoadError, match="table nope does not exist"):
        warehouse.load_csv("nope", write_payments(tmp_path / "a.csv", good_rows(1)))


def test_blank_lines_are_counted_separately(warehouse, tmp_path):
    path = tmp_path / "b.csv"
    path.write_text(PAYMENTS_HEADER + "\n" + "\n".join(good_rows(2)) + "\n\n" + good_rows(1, 5)[0] + "\n")
    report = warehouse.load_csv("olist_order_payments", path)
    assert (report.rows_read, report.rows_loaded, report.blank_lines) == (3, 3, 1)


def test_quoted_line_breaks_keep_accounting_exact(warehouse, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('"customer_id","customer_unique_id","customer_zip_code_prefix","customer_city","customer_state"\n'
                    'a,b,01037,"sao\npaulo",SP\nc,d,20000,rio,RJ\n')
    report = warehouse.load_csv("olist_customers", path)
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (2, 2, 0)
    # Leading zeros of zip prefixes are kept (text column).
    assert warehouse.query("SELECT customer_zip_code_prefix AS z FROM olist_customers ORDER BY 1")["z"][0] == "01037"


def test_folder_source_loads_every_file(warehouse, tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    write_payments(folder / "part1.csv", good_rows(3))
    write_payments(folder / "part2.csv", good_rows(4, start=3))
    report = warehouse.load_csv("olist_order_payments", folder)
    assert (len(report.files), report.rows_loaded) == (2, 7)


def test_copy_statement_in_a_script(warehouse, tmp_path):
    path = write_payments(tmp_path / "p.csv", good_rows(4))
    results = warehouse.run_script(f"COPY olist_order_payments FROM '{path}' FORMAT AS CSV IGNOREHEADER 1 "
                                   f"MAXERROR 0 EMPTYASNULL; SELECT 1")
    assert results[0].rows_loaded == 4 and results[1] is None


def test_unload_writes_redshift_style_files(warehouse, tmp_path):
    warehouse.load_csv("olist_order_payments", write_payments(tmp_path / "p.csv", good_rows(3)))
    files = warehouse.unload_query("SELECT order_id, payment_value FROM olist_order_payments ORDER BY 1",
                                   tmp_path / "out" / "payments_")
    assert files == [str(tmp_path / "out" / "payments_000.csv")]
    lines = Path(files[0]).read_text().splitlines()
    assert lines[0] == "order_id,payment_value" and len(lines) == 4
    results = warehouse.run_script(f"UNLOAD ('select 1 as x') TO '{tmp_path}/x_' CSV PARALLEL OFF")
    assert Path(results[0][0]).read_text() == "1\n"
    with pytest.raises(LoadError, match="ALLOWOVERWRITE"):
        warehouse.run_script(f"UNLOAD ('select 1 as x') TO '{tmp_path}/x_' CSV PARALLEL OFF")


def test_load_larger_than_one_duckdb_row_group_lands_every_row(warehouse, tmp_path):
    """Regression: DuckDB 2.0.0 inserted nothing when a staged read_csv table of more than
    122,880 rows was copied inside the same transaction; the loader stages outside it now and
    checks that the rows inserted equal the rows staged."""
    rows = [f"o{i:07d},1,credit_card,1,{i % 1000}.50" for i in range(130_000)]
    path = write_payments(tmp_path / "many.csv", rows)
    report = warehouse.load_csv("olist_order_payments", path, max_errors=0)
    assert report.rows_loaded == 130_000 == warehouse.row_count("olist_order_payments")
    again = warehouse.load_csv("olist_order_payments", path, mode="merge",
                               key=["order_id", "payment_sequential"])
    assert again.rows_loaded == 130_000 == warehouse.row_count("olist_order_payments")


def test_a_header_only_file_does_not_empty_a_table_unless_allowed(warehouse, tmp_path):
    full = write_payments(tmp_path / "full.csv", [f"o{i},1,credit_card,1,{i}.5" for i in range(1000)])
    warehouse.load_csv("olist_order_payments", full)
    empty = write_payments(tmp_path / "empty.csv", [])
    with pytest.raises(LoadError, match="would delete its 1,000 rows.*allow_empty=True"):
        warehouse.load_csv("olist_order_payments", empty)
    assert warehouse.row_count("olist_order_payments") == 1000
    assert warehouse.load_history("olist_order_payments")["status"].iloc[0] == "failed"
    report = warehouse.load_csv("olist_order_payments", empty, allow_empty=True)
    assert report.status == "loaded" and warehouse.row_count("olist_order_payments") == 0


def _source(kind: str, folder: Path) -> Path:
    path = folder / kind
    if kind == "empty.csv":
        path.write_text("")
    elif kind == "bad_header.csv":
        path.write_text("a,b\n1,2\n")
    elif kind == "no_csv_folder":
        path.mkdir()
    return path


@pytest.mark.parametrize("kind, expected", [
    ("missing.csv", "no such file"), ("empty.csv", "file is empty"),
    ("bad_header.csv", "line 1, column 1"), ("no_csv_folder", "folder has no files"),
])
def test_failures_before_any_row_is_read_are_recorded_in_load_audit(warehouse, tmp_path, kind, expected):
    source = _source(kind, tmp_path)
    with pytest.raises(LoadError, match=expected) as caught:
        warehouse.load_csv("olist_order_payments", source)
    history = warehouse.load_history("olist_order_payments")
    assert len(history) == 1
    row = history.iloc[0]
    assert row["status"] == "failed" and expected in row["message"] and row["file_name"] == str(source)
    assert (row["rows_read"], row["rows_loaded"], row["rows_rejected"]) == (0, 0, 0)
    assert caught.value.report.status == "failed"


def test_a_prefix_source_names_the_files_it_matched(warehouse, tmp_path):
    folder = tmp_path / "files"
    folder.mkdir()
    write_payments(folder / "base.csv", ["a,1,credit_card,1,10.5"])
    report = warehouse.load_csv("olist_order_payments", folder / "bas")
    assert report.files == [str(folder / "base.csv")]
    assert "is a prefix: it matched 1 file(s): base.csv" in str(report)
    history = warehouse.load_history("olist_order_payments")
    assert "base.csv" in history["message"].iloc[0] and history["file_name"].iloc[0].endswith("base.csv")


def test_reject_reasons_for_wrong_column_counts_are_stated_once_with_the_columns(warehouse, tmp_path):
    path = write_payments(tmp_path / "p.csv", ["a,1,credit_card,1,10.5", "b,1,credit_card,1,10.5,extra",
                                               "c,1,credit_card"])
    rejects = warehouse.load_csv("olist_order_payments", path).rejects.set_index("line_number")
    assert rejects.loc[3, "reason"] == "TOO MANY COLUMNS: expected 5 columns, found 6"
    assert rejects.loc[3, "column_name"] == "(column 6 and after)"
    assert rejects.loc[4, "reason"] == "MISSING COLUMNS: expected 5 columns, found 3"
    assert rejects.loc[4, "column_name"] == "payment_installments, payment_value"


@pytest.mark.parametrize("mode", ["replace", "append", "merge"])
def test_a_null_key_is_rejected_with_its_line_in_every_mode(warehouse, tmp_path, mode):
    """replace/append load straight into the table, merge through a stage: the same reject."""
    rows = good_rows(3)
    rows[1] = ",1,boleto,1,5.00"
    path = write_payments(tmp_path / "payments.csv", rows)
    report = warehouse.load_csv("olist_order_payments", path, mode=mode, key=("order_id", "payment_sequential"))
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (3, 2, 1)
    assert list(report.rejects["line_number"]) == [3] and list(report.rejects["column_name"]) == ["order_id"]
    assert warehouse.row_count("olist_order_payments") == 2
