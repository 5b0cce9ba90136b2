from pathlib import Path

import pytest
import sqlglot

from rfmkit.paths import SQL_DIR
from rfmkit.warehouse.dialect import (
    SqlError,
    parameter_names,
    parse_copy,
    parse_unload,
    quote_ident,
    quote_literal,
    redshift_time_format,
    split_statements,
    statement_kind,
    to_duckdb,
)
from rfmkit.warehouse.duckdb import DuckDBWarehouse


@pytest.mark.parametrize("path", sorted(SQL_DIR.glob("*.sql")), ids=lambda p: p.name)
def test_every_sql_file_parses_as_redshift(path: Path):
    statements = split_statements(path.read_text())
    assert statements, f"{path.name} has no statements"
    for statement in statements:
        if statement_kind(statement) == "sql":
            sqlglot.parse_one(statement, read="redshift", error_level=sqlglot.ErrorLevel.RAISE)


def test_split_respects_quotes_and_comments():
    script = "SELECT 'a;b' AS x; -- a comment; still comment\nSELECT 2 /* ; */; ;"
    assert split_statements(script) == ["SELECT 'a;b' AS x", "-- a comment; still comment\nSELECT 2 /* ; */"]


def test_statement_kind_skips_leading_comments():
    assert statement_kind("-- load\nCOPY t FROM 'x' CSV") == "copy"
    assert statement_kind("/* x */ unload ('select 1') to 'y'") == "unload"
    assert statement_kind("SELECT 1") == "sql"


def test_create_table_drops_redshift_physical_design_and_keys():
    sql = ("CREATE TABLE t (id INT IDENTITY(1,1), a VARCHAR(32) NOT NULL ENCODE zstd, b VARCHAR(MAX), "
           "PRIMARY KEY (a)) DISTSTYLE KEY DISTKEY (a) SORTKEY (a)")
    statements = to_duckdb(sql)
    ddl = statements[-1].upper()
    for gone in ("ENCODE", "DISTKEY", "SORTKEY", "PRIMARY KEY", "IDENTITY"):
        assert gone not in ddl
    assert "NOT NULL" in ddl
    wh = DuckDBWarehouse()
    wh.execute(sql)
    wh.execute("INSERT INTO t (a, b) VALUES ('x', 'y'), ('x', 'z')")  # keys informational, as on Redshift
    assert list(wh.query("SELECT id FROM t ORDER BY id")["id"]) == [1, 2]


def test_placeholders_become_duckdb_parameters():
    assert parameter_names("SELECT * FROM t WHERE d >= :since AND s IN (:a, :b)") == {"since", "a", "b"}
    assert "$since" in to_duckdb("SELECT * FROM t WHERE d >= :since")[0]


def test_redshift_functions_run_on_duckdb():
    wh = DuckDBWarehouse()
    row = wh.query("SELECT DATEDIFF(day, '2018-01-01'::date, '2018-03-01'::date) AS d, NVL(NULL, 'x') AS n, "
                   "GETDATE() IS NOT NULL AS now_ok").iloc[0]
    assert (row.d, row.n, bool(row.now_ok)) == (59, "x", True)


def test_parse_copy_reads_flags_and_values():
    # sqlglot's own parser lets EMPTYASNULL swallow REGION; ours must not.
    cmd = parse_copy("COPY public.t (a, b) FROM 's3://b/k/' IAM_ROLE 'arn:aws:iam::1:role/r' "
                     "FORMAT AS CSV DELIMITER ',' IGNOREHEADER 1 MAXERROR AS 5 "
                     "TIMEFORMAT 'YYYY-MM-DD HH:MI:SS' EMPTYASNULL REGION 'us-east-1'")
    assert (cmd.table, cmd.source, cmd.columns) == ("public.t", "s3://b/k/", ["a", "b"])
    assert cmd.options["CSV"] is True and cmd.options["EMPTYASNULL"] is True
    assert cmd.options["REGION"] == "us-east-1"
    assert (cmd.ignore_header, cmd.max_errors) == (1, 5)
    again = parse_copy(cmd.to_redshift())
    assert again == cmd


def test_parse_copy_rejects_unknown_option():
    with pytest.raises(SqlError, match="unsupported option FROBNICATE"):
        parse_copy("COPY t FROM 'x.csv' CSV FROBNICATE")


def test_parse_unload():
    cmd = parse_unload("UNLOAD ('select * from t where s = ''a''') TO 's3://b/p_' IAM_ROLE default "
                       "CSV HEADER PARALLEL OFF ALLOWOVERWRITE EXTENSION 'csv'")
    assert cmd.query == "select * from t where s = 'a'"
    assert cmd.header and not cmd.parallel and cmd.options["IAM_ROLE"] == "default"
    assert parse_unload(cmd.to_redshift()) == cmd


def test_quoting():
    assert quote_ident('we"ird') == '"we""ird"'
    assert quote_literal("it's") == "'it''s'"
    with pytest.raises(SqlError):
        quote_ident("")


def test_time_format_translation():
    assert redshift_time_format("YYYY-MM-DD HH:MI:SS") == "%Y-%m-%d %H:%M:%S"
    assert redshift_time_format("auto") is None
