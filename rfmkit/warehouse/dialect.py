"""Redshift SQL on DuckDB: statement splitting, transpiling, and the COPY/UNLOAD rewrites.

sqlglot does most of the work. What it cannot do is handled here, explicitly:
- DISTKEY/DISTSTYLE/SORTKEY/BACKUP and column ENCODE have no DuckDB meaning: removed.
- IDENTITY columns: DuckDB has none; they become a sequence default.
- PRIMARY/FOREIGN KEY and UNIQUE are informational on Redshift but enforced by DuckDB; they are
  dropped so both backends load the same rows and the quality checks report violations.
- COPY and UNLOAD: sqlglot mis-parses COPY options (a flag swallows the next option) and keeps
  UNLOAD as an opaque command, so both are parsed here into small dataclasses that each backend
  executes its own way (DuckDB: read_csv with rejects / COPY ... TO).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError
from sqlglot.tokens import Tokenizer, TokenType


class SqlError(ValueError):
    """SQL that cannot be parsed or rewritten; the message says where."""


def split_statements(sql: str) -> list[str]:
    """Split a script into statements on top-level semicolons (quotes and comments respected)."""
    try:
        tokens = Tokenizer(dialect="redshift").tokenize(sql)
    except Exception as exc:  # sqlglot raises TokenError with position info
        raise SqlError(f"cannot tokenize SQL: {exc}") from exc
    statements, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append(sql[start : token.start])
            start = token.end + 1
    statements.append(sql[start:])
    return [s.strip() for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    without_comments = re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S)
    return bool(without_comments.strip())


def statement_kind(statement: str) -> str:
    """'copy', 'unload' or 'sql' by the statement's first keyword."""
    body = re.sub(r"^(\s|--[^\n]*\n|/\*.*?\*/)*", "", statement, flags=re.S)
    first = body.split(None, 1)[0].upper() if body else ""
    return {"COPY": "copy", "UNLOAD": "unload"}.get(first, "sql")


def parameter_names(statement: str) -> set[str]:
    """Names of the `:name` placeholders a Redshift statement binds."""
    try:
        tree = sqlglot.parse_one(statement, read="redshift")
    except ParseError:
        return set(re.findall(r"(?<!:):([A-Za-z_]\w*)", statement))
    return {p.name for p in tree.find_all(exp.Placeholder) if p.name}


def to_duckdb(statement: str) -> list[str]:
    """Transpile one Redshift statement to DuckDB statements (`:name` becomes `$name`).

    Usually one statement; an IDENTITY column adds the CREATE SEQUENCE it needs first.
    """
    try:
        tree = sqlglot.parse_one(statement, read="redshift")
    except ParseError as exc:
        raise SqlError(f"cannot parse as Redshift SQL: {exc}") from exc
    prelude: list[str] = []
    if isinstance(tree, exp.Create):
        prelude = _rewrite_create_for_duckdb(tree)
    return [*prelude, tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.IGNORE)]


_DROPPED_PROPERTIES = (
    exp.DistKeyProperty, exp.DistStyleProperty, exp.SortKeyProperty, exp.BackupProperty,
)
_DROPPED_CONSTRAINTS = (
    exp.EncodeColumnConstraint, exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint,
    exp.Reference,
)


def _rewrite_create_for_duckdb(create: exp.Create) -> list[str]:
    for prop in list(create.find_all(*_DROPPED_PROPERTIES)):
        prop.pop()
    properties = create.args.get("properties")
    if properties is not None and not properties.expressions:
        properties.pop()
    table = create.this.this if isinstance(create.this, exp.Schema) else create.this
    table_name = table.name if isinstance(table, exp.Table) else "t"
    prelude = []
    for constraint in list(create.find_all(exp.ColumnConstraint)):
        kind = constraint.args.get("kind")
        if isinstance(kind, _DROPPED_CONSTRAINTS):
            constraint.pop()
        elif isinstance(kind, exp.GeneratedAsIdentityColumnConstraint):
            column = constraint.parent
            seq = f"{table_name}_{column.name}_seq"
            prelude.append(f'CREATE SEQUENCE IF NOT EXISTS "{seq}"')
            constraint.replace(exp.ColumnConstraint(
                kind=exp.DefaultColumnConstraint(this=sqlglot.parse_one(f"nextval('{seq}')"))))
    # Table-level PRIMARY KEY (...) / FOREIGN KEY (...) / UNIQUE (...)
    for node in list(create.find_all(exp.PrimaryKey, exp.ForeignKey, exp.UniqueColumnConstraint)):
        if isinstance(node.parent, exp.Schema):
            node.pop()
    # VARCHAR(MAX), TEXT(n): DuckDB strings have no length.
    for dtype in create.find_all(exp.DataType):
        if dtype.is_type(*exp.DataType.TEXT_TYPES):
            dtype.set("expressions", [])
    return prelude


# ---------------------------------------------------------------- COPY and UNLOAD

# Options that take a value; the rest are flags. AS between option and value is optional.
_COPY_VALUE_OPTIONS = {
    "FORMAT", "DELIMITER", "IGNOREHEADER", "MAXERROR", "TIMEFORMAT", "DATEFORMAT", "IAM_ROLE",
    "REGION", "CREDENTIALS", "QUOTE", "ENCODING", "NULL", "COMPUPDATE", "STATUPDATE",
}
_COPY_FLAGS = {
    "CSV", "EMPTYASNULL", "BLANKSASNULL", "ACCEPTINVCHARS", "GZIP", "TRUNCATECOLUMNS",
    "REMOVEQUOTES", "FILLRECORD", "TRIMBLANKS", "MANIFEST", "ACCEPTANYDATE", "IGNOREBLANKLINES",
}
_UNLOAD_VALUE_OPTIONS = {
    "FORMAT", "DELIMITER", "IAM_ROLE", "REGION", "PARALLEL", "EXTENSION", "MAXFILESIZE", "NULL",
    "CREDENTIALS",
}
_UNLOAD_FLAGS = {"CSV", "HEADER", "ALLOWOVERWRITE", "GZIP", "MANIFEST", "CLEANPATH", "ADDQUOTES"}


@dataclass
class CopyCommand:
    """A Redshift COPY: load `source` (file, folder, S3 key prefix) into `table`."""

    table: str
    source: str
    columns: list[str] = field(default_factory=list)
    options: dict[str, str | bool] = field(default_factory=dict)

    @property
    def ignore_header(self) -> int:
        return int(self.options.get("IGNOREHEADER", 0))

    @property
    def max_errors(self) -> int:
        return int(self.options.get("MAXERROR", 0))

    @property
    def delimiter(self) -> str:
        default = "," if self.options.get("CSV") else "|"
        return str(self.options.get("DELIMITER", default))

    def to_redshift(self) -> str:
        cols = f" ({', '.join(quote_ident(c) for c in self.columns)})" if self.columns else ""
        return (f"COPY {quote_table(self.table)}{cols} FROM {quote_literal(self.source)} "
                + _render_options(self.options)).strip()


@dataclass
class UnloadCommand:
    """A Redshift UNLOAD: write the result of `query` to files starting with `destination`."""

    query: str
    destination: str
    options: dict[str, str | bool] = field(default_factory=dict)

    @property
    def header(self) -> bool:
        return bool(self.options.get("HEADER"))

    @property
    def parallel(self) -> bool:
        return str(self.options.get("PARALLEL", "ON")).upper() in ("ON", "TRUE")

    def to_redshift(self) -> str:
        return (f"UNLOAD ({quote_literal(self.query)}) TO {quote_literal(self.destination)} "
                + _render_options(self.options)).strip()


def _render_options(options: dict[str, str | bool]) -> str:
    parts = []
    for name, value in options.items():
        if value is True:
            parts.append(name)
        elif name == "NULL":
            parts.append(f"NULL AS {quote_literal(str(value))}")
        elif name in ("FORMAT", "PARALLEL", "COMPUPDATE", "STATUPDATE") or (
            name == "IAM_ROLE" and str(value).lower() == "default"
        ) or name in ("IGNOREHEADER", "MAXERROR", "MAXFILESIZE"):
            parts.append(f"{name} {value}")
        else:
            parts.append(f"{name} {quote_literal(str(value))}")
    return " ".join(parts)


def parse_copy(statement: str) -> CopyCommand:
    tokens = _tokens(statement)
    pos = _expect(tokens, 0, "COPY", statement)
    table, pos = _read_name(tokens, pos, statement)
    columns: list[str] = []
    if pos < len(tokens) and tokens[pos].token_type == TokenType.L_PAREN:
        pos += 1
        while tokens[pos].token_type != TokenType.R_PAREN:
            if tokens[pos].token_type != TokenType.COMMA:
                columns.append(tokens[pos].text)
            pos += 1
        pos += 1
    pos = _expect(tokens, pos, "FROM", statement)
    source, pos = _read_string(tokens, pos, statement, "COPY ... FROM")
    options = _read_options(tokens, pos, statement, _COPY_VALUE_OPTIONS, _COPY_FLAGS)
    return CopyCommand(table=table, source=source, columns=columns, options=options)


def parse_unload(statement: str) -> UnloadCommand:
    tokens = _tokens(statement)
    pos = _expect(tokens, 0, "UNLOAD", statement)
    if tokens[pos].token_type != TokenType.L_PAREN:
        raise SqlError(f"UNLOAD needs ('select ...'): {statement[:80]!r}")
    query, pos = _read_string(tokens, pos + 1, statement, "UNLOAD (")
    if pos >= len(tokens) or tokens[pos].token_type != TokenType.R_PAREN:
        raise SqlError(f"UNLOAD: missing ')' after the query: {statement[:80]!r}")
    pos = _expect(tokens, pos + 1, "TO", statement)
    destination, pos = _read_string(tokens, pos, statement, "UNLOAD ... TO")
    options = _read_options(tokens, pos, statement, _UNLOAD_VALUE_OPTIONS, _UNLOAD_FLAGS)
    return UnloadCommand(query=query, destination=destination, options=options)


def _tokens(statement: str):
    return Tokenizer(dialect="redshift").tokenize(statement)


def _expect(tokens, pos: int, word: str, statement: str) -> int:
    if pos >= len(tokens) or tokens[pos].text.upper() != word:
        found = tokens[pos].text if pos < len(tokens) else "end of statement"
        raise SqlError(f"expected {word} but found {found!r} in {statement[:80]!r}")
    return pos + 1


def _read_name(tokens, pos: int, statement: str) -> tuple[str, int]:
    parts = [tokens[pos].text]
    pos += 1
    while pos + 1 < len(tokens) and tokens[pos].token_type == TokenType.DOT:
        parts.append(tokens[pos + 1].text)
        pos += 2
    return ".".join(parts), pos


def _read_string(tokens, pos: int, statement: str, where: str) -> tuple[str, int]:
    if pos >= len(tokens) or tokens[pos].token_type != TokenType.STRING:
        raise SqlError(f"{where}: expected a quoted string in {statement[:80]!r}")
    return tokens[pos].text, pos + 1


def _read_options(tokens, pos, statement, value_options, flags) -> dict[str, str | bool]:
    options: dict[str, str | bool] = {}
    while pos < len(tokens):
        name = tokens[pos].text.upper()
        pos += 1
        if name in flags:
            # ACCEPTINVCHARS may carry a replacement character.
            if name == "ACCEPTINVCHARS" and pos < len(tokens) and \
                    tokens[pos].token_type == TokenType.STRING:
                options[name] = tokens[pos].text
                pos += 1
            else:
                options[name] = True
            continue
        if name not in value_options:
            raise SqlError(f"unsupported option {name} in {statement[:80]!r}")
        if pos < len(tokens) and tokens[pos].text.upper() == "AS":
            pos += 1
        if pos >= len(tokens):
            raise SqlError(f"option {name} needs a value in {statement[:80]!r}")
        value = tokens[pos].text
        pos += 1
        if name == "MAXFILESIZE" and pos < len(tokens) and tokens[pos].text.upper() in ("MB", "GB"):
            value = f"{value} {tokens[pos].text.upper()}"
            pos += 1
        if name == "FORMAT" and value.upper() == "CSV":
            options["CSV"] = True
            continue
        options[name] = value
    return options


# ---------------------------------------------------------------- quoting

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def quote_ident(name: str) -> str:
    """Double-quote an identifier (both dialects), rejecting characters that cannot be quoted."""
    if not name or "\x00" in name:
        raise SqlError(f"invalid identifier {name!r}")
    return '"' + name.replace('"', '""') + '"'


def quote_table(name: str) -> str:
    """Quote a possibly schema-qualified table name, part by part."""
    return ".".join(quote_ident(part) for part in name.split("."))


def quote_literal(value: str) -> str:
    """A SQL string literal: for COPY/UNLOAD (no bind parameters there) and the kit's own constants."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


_TIME_TOKENS = [("YYYY", "%Y"), ("MM", "%m"), ("DD", "%d"), ("HH24", "%H"), ("HH", "%H"),
                ("MI", "%M"), ("SS", "%S")]


def redshift_time_format(fmt: str | None) -> str | None:
    """Translate a Redshift TIMEFORMAT/DATEFORMAT ('YYYY-MM-DD HH:MI:SS') to strptime codes."""
    if not fmt or fmt.lower() == "auto":
        return None
    out = fmt
    for token, code in _TIME_TOKENS:
        out = out.replace(token, code)
    return out
