import re

import pytest

from rfmkit.data import calibration
from rfmkit.data.olist import TABLES
from rfmkit.data.synthetic import generate, rows_at_scale, scale_for_payment_rows
from rfmkit.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture(scope="module")
def scale_one(tmp_path_factory):
    out = generate(tmp_path_factory.mktemp("scale1"), scale=1.0, seed=42, progress=False)
    wh = DuckDBWarehouse()
    wh.run_file("010_raw_tables.sql")
    for table, path in out.files.items():
        report = wh.load_csv(table, path, max_errors=0)
        assert report.rows_rejected == 0
    yield out, wh
    wh.close()


def test_scale_one_matches_the_real_facts(scale_one):
    _, wh = scale_one
    facts = calibration.compare(wh).set_index("fact")
    assert abs(facts.loc["orders", "measured"] - 99_441) <= 994  # ± 1 %
    assert abs(facts.loc["repeat-customer share", "measured"] - 3.0) <= 0.5
    for payment_type in ("credit_card", "boleto", "voucher", "debit_card"):
        assert abs(facts.loc[f"{payment_type} share", "measured"] - facts.loc[f"{payment_type} share", "real"]) <= 1
    assert facts["within"].all(), facts[~facts["within"]]


def test_status_mix_and_empty_timestamps(scale_one):
    _, wh = scale_one
    status = wh.query("SELECT order_status, COUNT(*) AS n FROM olist_orders GROUP BY 1").set_index("order_status")["n"]
    assert status["delivered"] / status.sum() == pytest.approx(96_478 / 99_441, abs=0.005)
    assert set(status.index) <= {"delivered", "shipped", "canceled", "unavailable", "invoiced", "processing",
                                 "created", "approved"}
    # Kaggle leaves timestamps empty until reached: no delivery date for undelivered orders.
    undelivered = wh.query("SELECT COUNT(*) AS n FROM olist_orders WHERE order_status IN ('shipped', 'invoiced') "
                           "AND order_delivered_customer_date IS NOT NULL")["n"][0]
    assert undelivered == 0


def test_kaggle_file_format(scale_one):
    out, _ = scale_one
    for spec in TABLES.values():
        with out.files[spec.table].open() as fh:
            header = fh.readline().rstrip("\n")
            assert header == ",".join(f'"{c}"' for c in spec.columns)
            lines = [fh.readline().rstrip("\n") for _ in range(200)]
        for line in lines:
            assert "\r" not in line and len(line.split(",")) == len(spec.columns)
    orders = out.files["olist_orders"].read_text().splitlines()[1:500]
    stamp = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
    for line in orders:
        fields = line.split(",")
        assert stamp.match(fields[3]) and all(f == "" or stamp.match(f) for f in fields[4:])
        order_id = fields[0]
        assert (order_id.startswith('"') == order_id.strip('"')[0].isdigit()) and len(order_id.strip('"')) == 32
    values = [line.rsplit(",", 1)[1] for line in out.files["olist_order_payments"].read_text().splitlines()[1:200]]
    assert all(re.match(r"^\d+\.\d{2}$", v) for v in values)


def test_same_seed_gives_identical_bytes_and_other_seed_differs(tmp_path):
    a = generate(tmp_path / "a", scale=0.01, seed=3, progress=False)
    b = generate(tmp_path / "b", scale=0.01, seed=3, progress=False)
    c = generate(tmp_path / "c", scale=0.01, seed=4, progress=False)
    for table in TABLES:
        assert a.files[table].read_bytes() == b.files[table].read_bytes()
        assert a.files[table].read_bytes() != c.files[table].read_bytes()


def test_chunked_generation_keeps_keys_unique(tmp_path):
    out = generate(tmp_path, scale=0.05, seed=1, progress=False, people_per_chunk=700)
    wh = DuckDBWarehouse()
    wh.run_file("010_raw_tables.sql")
    for table, path in out.files.items():
        wh.load_csv(table, path, max_errors=0)
    from rfmkit.data.quality import run_checks

    checks = run_checks(wh)
    assert checks["passed"].all(), checks[~checks["passed"]]
    assert out.rows["olist_orders"] == pytest.approx(rows_at_scale(0.05)["orders"], rel=0.03)


def test_scale_helpers_and_bad_scale(tmp_path):
    assert scale_for_payment_rows(10_000_000) == pytest.approx(96.26, abs=0.01)
    with pytest.raises(ValueError, match="parameter scale"):
        generate(tmp_path, scale=0)
