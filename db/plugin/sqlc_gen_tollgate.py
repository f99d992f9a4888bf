"""sqlc-gen-tollgate: a sqlc process plugin emitting psycopg 3 async functions and msgspec Structs.

sqlc runs the ``sqlc-gen-tollgate`` executable next to this file (``process.format: json``): it writes a
``GenerateRequest`` as protojson on stdin and reads a ``GenerateResponse`` from stdout. protojson encodes
``bytes`` fields as base64, so ``plugin_options`` / ``global_options`` arrive base64-encoded JSON and every
``files[].contents`` we answer with must be base64 too.

Output, per sqlc ``sql`` block (one service):

* ``models.py``: one frozen ``msgspec.Struct`` per table (fields in column order, so ``Model(*row)``
  works) and one ``Literal[...]`` alias per enum;
* one module per queries file: a ``Final[LiteralString]`` constant per query (the SQL exactly as sqlc
  emitted it, ``$n`` placeholders and all), a Row Struct when the result is not exactly one table's
  columns, and an ``async def`` taking the connection first and keyword-only parameters. Queries run
  through ``psycopg.AsyncRawCursor`` (server-side ``$n`` binding) with tuple rows;
* ``__init__.py``.

Stdlib only, and deterministic: the same request always yields byte-identical files.

Options (``options: {tollgate: {...}}`` at the top of sqlc.yaml, or per ``codegen`` entry):

* ``source_root`` (str): prefix of the queries path in the header, the directory of sqlc.yaml relative
  to the repository root (``"db/"``).
* ``overrides`` (list): ``{db_type: "numeric", py_type: "float"}`` or ``{column: "api.jobs.metadata",
  py_type: "dict[str, str]"}``, with an optional ``imports: ["module", ...]`` for what ``py_type`` needs.
* ``rename`` (map): ``{"api.aliases": "Alias"}`` when the singulariser guesses a struct name wrong.
"""

from __future__ import annotations

import base64
import json
import keyword
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PLUGIN_NAME = "sqlc-gen-tollgate"
LINE_LENGTH = 110
INDENT = "    "

# ----------------------------------------------------------------------------------------------- types

# Normalised Postgres type name -> (Python annotation, modules it needs).
_SCALARS: dict[str, tuple[str, tuple[str, ...]]] = {}


def _register(py: str, imports: tuple[str, ...], *names: str) -> None:
    for name in names:
        _SCALARS[name] = (py, imports)


_register("uuid.UUID", ("uuid",), "uuid")
_register(
    "str",
    (),
    "text",
    "varchar",
    "character varying",
    "bpchar",
    "char",
    "character",
    "citext",
    "name",
)
_register(
    "int",
    (),
    "int2",
    "int4",
    "int8",
    "smallint",
    "integer",
    "int",
    "bigint",
    "serial",
    "serial2",
    "serial4",
    "serial8",
    "smallserial",
    "bigserial",
    "oid",
)
_register("decimal.Decimal", ("decimal",), "numeric", "decimal")
_register("float", (), "float4", "float8", "real", "double precision", "float")
_register("bool", (), "bool", "boolean")
_register(
    "datetime.datetime",
    ("datetime",),
    "timestamptz",
    "timestamp",
    "timestamp with time zone",
    "timestamp without time zone",
)
_register("datetime.date", ("datetime",), "date")
_register("datetime.time", ("datetime",), "time", "timetz", "time with time zone", "time without time zone")
_register("datetime.timedelta", ("datetime",), "interval")
_register("bytes", (), "bytea")
_register("Any", (), "json", "jsonb")

_JSON_TYPES = frozenset({"json", "jsonb"})
# psycopg loads inet/cidr as ipaddress objects; a parameter may be given as str (sent untyped, the
# server casts it). Cast to text in SQL (``ip::text``) to read a str.
_INET_RESULT = (
    "ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Interface | ipaddress.IPv6Interface"
)
_CIDR_RESULT = "ipaddress.IPv4Network | ipaddress.IPv6Network"
# Element types psycopg has array loaders for without registration (builtin oids).
_NATIVE_ARRAY_ELEMENTS = frozenset(_SCALARS) - {"citext"} | {"inet", "cidr"}


class PluginError(Exception):
    """A query or schema the plugin cannot turn into code; the message tells the author what to fix."""


def _norm_type(t: Mapping[str, Any]) -> tuple[str, str]:
    """Return (schema, name) of a sqlc type reference, with ``pg_catalog`` dropped and names lowered."""
    schema = (t.get("schema") or "").lower()
    name = (t.get("name") or "").lower()
    if not schema and "." in name:
        schema, name = name.split(".", 1)
    if schema == "pg_catalog":
        schema = ""
    return schema, name


# --------------------------------------------------------------------------------------------- naming


def camel(snake: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", snake) if part)


def snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = re.sub(r"[^0-9A-Za-z]+", "_", s).strip("_").lower()
    return s


def upper_snake(name: str) -> str:
    return snake(name).upper()


def singular(word: str) -> str:
    """English-ish singular of the last word of a snake_case table name."""
    head, _, last = word.rpartition("_")
    lower = last.lower()
    if lower.endswith("ies") and len(lower) > 3:
        last = last[:-3] + "y"
    elif lower.endswith(("sses", "uses", "xes", "ches", "shes", "zzes")):
        last = last[:-2]
    elif lower.endswith("s") and not lower.endswith(("ss", "us", "is")):
        last = last[:-1]
    return f"{head}_{last}" if head else last


def py_ident(name: str, fallback: str) -> str:
    ident = snake(name) if name else ""
    if not ident:
        ident = fallback
    if ident[0].isdigit():
        ident = f"_{ident}"
    if keyword.iskeyword(ident) or keyword.issoftkeyword(ident) or ident in {"conn", "msgspec", "models"}:
        ident = f"{ident}_"
    return ident


def dedupe(names: Iterable[str]) -> list[str]:
    seen: dict[str, int] = {}
    out: list[str] = []
    taken = set()
    for name in names:
        candidate = name
        n = seen.get(name, 1)
        while candidate in taken:
            n += 1
            candidate = f"{name}_{n}"
        seen[name] = n
        taken.add(candidate)
        out.append(candidate)
    return out


def pystr(text: str) -> str:
    """A double-quoted Python literal (json's escaping is valid Python)."""
    return json.dumps(text)


def sql_literal(text: str) -> str:
    """The SQL as an exact triple-quoted literal (escaping only what would end or bend it)."""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').replace("\r", "\\r")
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    return f'"""{body}"""'


def constant_lines(name: str, sql: str) -> list[str]:
    literal = sql_literal(sql)
    line = f"{name}: Final[LiteralString] = {literal}"
    if "\n" in literal or len(line) <= LINE_LENGTH:
        return [line]
    return [f"{name}: Final[LiteralString] = (", f"{INDENT}{literal}", ")"]


# ---------------------------------------------------------------------------------------------- model


@dataclass
class Context:
    enums: dict[tuple[str, str], str]  # (schema, name) -> alias name in models
    enum_values: dict[tuple[str, str], list[str]]
    tables: dict[tuple[str, str], Table]
    default_schema: str
    overrides_type: dict[tuple[str, str], tuple[str, tuple[str, ...]]]
    overrides_column: dict[tuple[str, str, str], tuple[str, tuple[str, ...]]]


@dataclass
class Table:
    schema: str
    name: str
    struct: str
    comment: str
    columns: list[Mapping[str, Any]]


@dataclass
class PyType:
    annotation: str  # without " | None"
    imports: set[str] = field(default_factory=set)
    uses_models: bool = False
    is_json: bool = False
    note: str = ""

    def nullable(self, not_null: bool) -> str:
        return self.annotation if not_null else f"{self.annotation} | None"


def _enum_key(ctx: Context, schema: str, name: str) -> tuple[str, str] | None:
    for key in ((schema, name), (ctx.default_schema, name)) if schema else ((ctx.default_schema, name),):
        if key in ctx.enums:
            return key
    if not schema:
        matches = [k for k in ctx.enums if k[1] == name]
        if len(matches) == 1:
            return matches[0]
    return None


def py_type(ctx: Context, col: Mapping[str, Any], *, for_param: bool, in_models: bool) -> PyType:
    """Python type of a column or parameter, without nullability."""
    schema, name = _norm_type(col.get("type") or {})
    table = col.get("table") or {}
    dims = int(col.get("array_dims") or 0) or (1 if col.get("is_array") else 0)

    override: tuple[str, tuple[str, ...]] | None = None
    if table.get("name") and col.get("name"):
        tkey = (
            (table.get("schema") or ctx.default_schema).lower(),
            table["name"].lower(),
            col["name"].lower(),
        )
        override = ctx.overrides_column.get(tkey)
    if override is None:
        override = ctx.overrides_type.get((schema, name)) or ctx.overrides_type.get(("", name))
    if override is not None:
        base = PyType(override[0], set(override[1]))
        is_native_element = True
    elif (ekey := _enum_key(ctx, schema, name)) is not None:
        alias = ctx.enums[ekey]
        base = PyType(alias if in_models else f"models.{alias}", uses_models=not in_models)
        is_native_element = False
    elif name in ("inet", "cidr") and not schema:
        if for_param:
            base = PyType("str")
        else:
            base = PyType(_INET_RESULT if name == "inet" else _CIDR_RESULT, {"ipaddress"})
        is_native_element = True
    elif name in _SCALARS and not schema:
        py, imports = _SCALARS[name]
        base = PyType(py, set(imports), is_json=name in _JSON_TYPES)
        is_native_element = name in _NATIVE_ARRAY_ELEMENTS
    else:
        shown = f"{schema}.{name}" if schema else (name or "?")
        base = PyType("Any", note=f"unmapped Postgres type {shown}")
        is_native_element = True

    if dims == 0:
        return base
    if not for_param and not is_native_element:
        # psycopg has no loader for arrays of unregistered types (enums, citext): it returns the array
        # literal as a str. Say so rather than lie; cast in SQL (``col::text[]``) to get a list.
        shown = f"{schema}.{name}" if schema else name
        return PyType("str", note=f"{shown}[] is read as a Postgres array literal; cast to text[] for a list")
    annotation = base.annotation
    for _ in range(dims):
        annotation = f"list[{annotation}]"
    return PyType(annotation, base.imports, base.uses_models, is_json=False, note=base.note)


# ------------------------------------------------------------------------------------------- emitting


def header(source: str) -> str:
    return f"# Code generated by {PLUGIN_NAME} from {source}. DO NOT EDIT.\n"


def docstring(text: str, indent: str) -> list[str]:
    text = text.strip().replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if not text:
        return []
    lines = text.splitlines()
    if len(lines) == 1:
        return [f'{indent}"""{lines[0]}"""']
    return [f'{indent}"""{lines[0]}', *[f"{indent}{ln}".rstrip() for ln in lines[1:]], f'{indent}"""']


def struct_lines(
    name: str,
    fields: Sequence[tuple[str, str, str]],
    doc: str = "",
) -> list[str]:
    """``class Name(msgspec.Struct, frozen=True)`` with (name, annotation, comment) fields."""
    lines = [f"class {name}(msgspec.Struct, frozen=True):"]
    lines += docstring(doc, INDENT)
    if doc.strip() and fields:
        lines.append("")
    for fname, annotation, comment in fields:
        line = f"{INDENT}{fname}: {annotation}"
        if comment:
            line += f"  # {comment}"
        lines.append(line)
    if not fields:
        lines.append(f"{INDENT}pass")
    return lines


def call_lines(indent: str, head: str, args: Sequence[str], tail: str) -> list[str]:
    """``head(arg, arg)tail`` on one line when it fits, else one argument per line (ruff style)."""
    one = f"{indent}{head}{', '.join(args)}{tail}"
    if len(one) <= LINE_LENGTH:
        return [one]
    return [f"{indent}{head}", *[f"{indent}{INDENT}{a}," for a in args], f"{indent}{tail.lstrip()}"]


def tuple_expr(items: Sequence[str]) -> str:
    if len(items) == 1:
        return f"({items[0]},)"
    return f"({', '.join(items)})"


@dataclass
class Imports:
    modules: set[str] = field(default_factory=set)
    typing: set[str] = field(default_factory=set)
    abc: set[str] = field(default_factory=set)
    psycopg: set[str] = field(default_factory=set)
    rows: bool = False
    jsonb: bool = False
    msgspec: bool = False
    models: bool = False

    def add(self, t: PyType) -> None:
        self.modules |= t.imports
        if "Any" in t.annotation:
            self.typing.add("Any")
        self.models |= t.uses_models

    def render(self) -> list[str]:
        lines = ["from __future__ import annotations", ""]
        std = [f"import {m}" for m in sorted(self.modules)]
        if self.abc:
            std.append(f"from collections.abc import {', '.join(sorted(self.abc))}")
        if self.typing:
            std.append(f"from typing import {', '.join(sorted(self.typing))}")
        if std:
            lines += [*std, ""]
        third = []
        if self.msgspec:
            third.append("import msgspec")
        if self.psycopg:
            third.append(f"from psycopg import {', '.join(sorted(self.psycopg))}")
        if self.rows:
            third.append("from psycopg.rows import tuple_row")
        if self.jsonb:
            third.append("from psycopg.types.json import Jsonb")
        if third:
            lines += [*third, ""]
        if self.models:
            lines += ["from . import models", ""]
        return lines


def _module(source: str, doc: str, imports: Imports, items: Sequence[list[str]]) -> str:
    """Header, docstring, imports, then top-level items two blank lines apart (ruff format's layout)."""
    out = [header(source).rstrip("\n"), *docstring(doc, ""), ""]
    out += imports.render()
    while out[-1] == "":
        out.pop()
    for item in items:
        out += ["", "", *item]
    return "\n".join(out) + "\n"


# ------------------------------------------------------------------------------------------- catalog


def build_context(request: Mapping[str, Any], options: Mapping[str, Any]) -> Context:
    catalog = request.get("catalog") or {}
    default_schema = (catalog.get("default_schema") or "public").lower()
    rename = {k.lower(): v for k, v in (options.get("rename") or {}).items()}
    enums: dict[tuple[str, str], str] = {}
    enum_values: dict[tuple[str, str], list[str]] = {}
    tables: dict[tuple[str, str], Table] = {}
    taken: dict[str, str] = {}

    def claim(name: str, what: str) -> str:
        if name in taken:
            raise PluginError(
                f"{what} and {taken[name]} both map to the Python name {name!r}; "
                f"add a rename option in sqlc.yaml"
            )
        taken[name] = what
        return name

    for schema in catalog.get("schemas") or []:
        sname = (schema.get("name") or "").lower()
        if sname in ("pg_catalog", "information_schema", "pg_temp"):
            continue
        for enum in schema.get("enums") or []:
            key = (sname, enum["name"].lower())
            alias = rename.get(f"{key[0]}.{key[1]}") or camel(key[1])
            enums[key] = claim(alias, f"enum {key[0]}.{key[1]}")
            enum_values[key] = list(enum.get("vals") or [])
        for table in schema.get("tables") or []:
            rel = table["rel"]
            key = ((rel.get("schema") or sname).lower(), rel["name"].lower())
            struct = rename.get(f"{key[0]}.{key[1]}") or camel(singular(key[1]))
            tables[key] = Table(
                key[0],
                key[1],
                claim(struct, f"table {key[0]}.{key[1]}"),
                table.get("comment") or "",
                table["columns"],
            )

    overrides_type: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    overrides_column: dict[tuple[str, str, str], tuple[str, tuple[str, ...]]] = {}
    for ov in options.get("overrides") or []:
        py = ov.get("py_type")
        if not py:
            raise PluginError(f"override {ov!r} has no py_type")
        imports = tuple(ov.get("imports") or ())
        if ov.get("db_type"):
            overrides_type[_norm_type({"name": ov["db_type"]})] = (py, imports)
        elif ov.get("column"):
            parts = ov["column"].lower().split(".")
            if len(parts) == 2:
                parts.insert(0, default_schema)
            if len(parts) != 3:
                raise PluginError(f"override column {ov['column']!r} must be schema.table.column")
            overrides_column[(parts[0], parts[1], parts[2])] = (py, imports)
        else:
            raise PluginError(f"override {ov!r} needs db_type or column")
    return Context(enums, enum_values, tables, default_schema, overrides_type, overrides_column)


def models_module(ctx: Context, source: str) -> str:
    imports = Imports(msgspec=bool(ctx.tables))
    items: list[list[str]] = []
    if ctx.enums:
        imports.typing.add("Literal")
        enum_lines: list[str] = []
        for key in sorted(ctx.enums):
            vals = ctx.enum_values[key]
            lit = f"{ctx.enums[key]} = Literal[{', '.join(pystr(v) for v in vals)}]"
            if len(lit) > LINE_LENGTH:
                lit = f"{ctx.enums[key]} = Literal[\n" + "".join(f"{INDENT}{pystr(v)},\n" for v in vals) + "]"
            enum_lines.append(lit)
        items.append(enum_lines)
    for key in sorted(ctx.tables):
        table = ctx.tables[key]
        names = dedupe(py_ident(c.get("name") or "", f"column_{i + 1}") for i, c in enumerate(table.columns))
        fields = []
        for fname, col in zip(names, table.columns, strict=True):
            t = py_type(ctx, col, for_param=False, in_models=True)
            imports.add(t)
            comment = " ".join(x for x in ((col.get("comment") or "").strip(), t.note) if x)
            fields.append((fname, t.nullable(bool(col.get("not_null"))), comment.replace("\n", " ")))
        doc = table.comment or f"A row of {table.schema}.{table.name}."
        items.append(struct_lines(table.struct, fields, doc))
    return _module(source, "Table rows and enum types of the schema.", imports, items)


# ------------------------------------------------------------------------------------------- queries

_COPY_RE = re.compile(
    r"^\s*INSERT\s+INTO\s+(?P<table>[\w.\"]+)\s*\((?P<cols>[^)]*)\)\s*VALUES\s*\((?P<vals>[^)]*)\)\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass
class Param:
    name: str
    type: PyType
    not_null: bool
    number: int

    @property
    def annotation(self) -> str:
        return self.type.nullable(self.not_null)

    def bind(self, expr: str) -> str:
        if not self.type.is_json:
            return expr
        if self.not_null:
            return f"Jsonb({expr})"
        return f"None if {expr} is None else Jsonb({expr})"


def _params(ctx: Context, query: Mapping[str, Any]) -> list[Param]:
    raw = sorted(query.get("params") or [], key=lambda p: p["number"])
    numbers = [p["number"] for p in raw]
    if numbers != list(range(1, len(raw) + 1)):
        raise PluginError(f"{query['name']}: parameters are not numbered $1..$n ({numbers})")
    names = dedupe(py_ident(p["column"].get("name") or "", f"column_{p['number']}") for p in raw)
    params = []
    for name, p in zip(names, raw, strict=True):
        col = p["column"]
        params.append(
            Param(
                name,
                py_type(ctx, col, for_param=True, in_models=False),
                bool(col.get("not_null")),
                p["number"],
            )
        )
    return params


def _same_columns(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return (
        (a.get("name") or "") == (b.get("name") or "")
        and bool(a.get("not_null")) == bool(b.get("not_null"))
        and _norm_type(a.get("type") or {}) == _norm_type(b.get("type") or {})
        and int(a.get("array_dims") or 0) == int(b.get("array_dims") or 0)
        and bool(a.get("is_array")) == bool(b.get("is_array"))
    )


def _whole_table(ctx: Context, columns: Sequence[Mapping[str, Any]]) -> Table | None:
    """The table whose full column list the result is, in order, if any."""
    if not columns or any(c.get("embed_table") for c in columns):
        return None
    first = columns[0].get("table") or {}
    if not first.get("name"):
        return None
    key = ((first.get("schema") or ctx.default_schema).lower(), first["name"].lower())
    table = ctx.tables.get(key)
    if table is None or len(table.columns) != len(columns):
        return None
    for col, tcol in zip(columns, table.columns, strict=True):
        t = col.get("table") or {}
        if ((t.get("schema") or ctx.default_schema).lower(), (t.get("name") or "").lower()) != key:
            return None
        if not _same_columns(col, tcol):
            return None
    return table


@dataclass
class Result:
    """How a query's rows become Python values."""

    annotation: str  # row type
    struct: list[str] | None  # Row class lines, if one is generated
    construct: str  # expression building one value from ``row``


def _embed_name(ctx: Context, col: Mapping[str, Any]) -> str:
    """``sqlc.embed(t)`` fields are named after the table's struct: ``job``, ``company``."""
    embed = col.get("embed_table")
    if not embed:
        return ""
    table = ctx.tables.get(((embed.get("schema") or ctx.default_schema).lower(), embed["name"].lower()))
    return snake(table.struct) if table else ""


def _result(ctx: Context, query: Mapping[str, Any], imports: Imports) -> Result:
    columns = query.get("columns") or []
    if not columns:
        raise PluginError(f"{query['name']}: {query['cmd']} needs a result, but the query returns no columns")
    table = _whole_table(ctx, columns)
    if table is not None:
        imports.models = True
        return Result(f"models.{table.struct}", None, f"models.{table.struct}(*row)")
    row_name = f"{camel(query['name'])}Row"
    names = dedupe(
        py_ident(_embed_name(ctx, c) or c.get("name") or "", f"column_{i + 1}") for i, c in enumerate(columns)
    )
    fields = []
    args: list[str] = []
    pos = 0
    for fname, col in zip(names, columns, strict=True):
        embed = col.get("embed_table")
        if embed:
            key = ((embed.get("schema") or ctx.default_schema).lower(), embed["name"].lower())
            etable = ctx.tables.get(key)
            if etable is None:
                raise PluginError(f"{query['name']}: sqlc.embed of unknown table {key[0]}.{key[1]}")
            imports.models = True
            fields.append((fname, f"models.{etable.struct}", ""))
            n = len(etable.columns)
            args.append(f"models.{etable.struct}(*row[{pos}:{pos + n}])")
            pos += n
            continue
        t = py_type(ctx, col, for_param=False, in_models=False)
        imports.add(t)
        fields.append((fname, t.nullable(bool(col.get("not_null"))), t.note))
        args.append(f"row[{pos}]")
        pos += 1
    imports.msgspec = True
    if all(a == f"row[{i}]" for i, a in enumerate(args)):
        construct = f"{row_name}(*row)"
    else:
        construct = f"{row_name}({', '.join(args)})"
    return Result(row_name, struct_lines(row_name, fields), construct)


def _signature(fn: str, params: Sequence[str], returns: str) -> list[str]:
    args = ["conn: AsyncConnection[Any]"]
    if params:
        args += ["*", *params]
    return call_lines("", f"async def {fn}(", args, f") -> {returns}:")


def _execute(const: str, params: Sequence[Param]) -> list[str]:
    indent = INDENT * 2
    if not params:
        return [f"{indent}await cur.execute({const})"]
    values = [p.bind(p.name) for p in params]
    lines = call_lines(indent, "await cur.execute(", [const, tuple_expr(values)], ")")
    if len(lines) == 1 or all(len(ln) <= LINE_LENGTH for ln in lines):
        return lines
    # The tuple alone is too long: one value per line, as ruff format would.
    return [
        f"{indent}await cur.execute(",
        f"{indent}{INDENT}{const},",
        f"{indent}{INDENT}(",
        *[f"{indent}{INDENT * 2}{v}," for v in values],
        f"{indent}{INDENT}),",
        f"{indent})",
    ]


def _return_row(construct: str) -> list[str]:
    lines = [f"{INDENT}if row is None:", f"{INDENT * 2}return None"]
    one = f"{INDENT}return {construct}"
    if len(one) <= LINE_LENGTH or "(" not in construct:
        return [*lines, one]
    head, _, rest = construct.partition("(")
    args = _split_args(rest[:-1])
    return [*lines, *call_lines(INDENT, f"return {head}(", args, ")")]


def _split_args(text: str) -> list[str]:
    """Split a call's argument text on top-level commas."""
    args, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            args.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        args.append(cur.strip())
    return args


def query_items(ctx: Context, query: Mapping[str, Any], imports: Imports) -> list[list[str]]:
    """Top-level items (SQL constant, Row Struct, function) generated for one query."""
    name = query["name"]
    cmd = query["cmd"]
    const = upper_snake(name)
    fn = py_ident(name, "query")
    doc = "\n".join(c.strip() for c in query.get("comments") or [])
    imports.psycopg.add("AsyncConnection")
    imports.typing |= {"Any", "Final", "LiteralString"}

    if cmd == ":copyfrom":
        return _copyfrom_items(ctx, query, imports, const=const, fn=fn, doc=doc)

    params = _params(ctx, query)
    for p in params:
        imports.add(p.type)
        imports.jsonb |= p.type.is_json
    items = [constant_lines(const, query["text"])]
    execute = _execute(const, params)
    imports.psycopg.add("AsyncRawCursor")
    rows_cursor = f"{INDENT}async with AsyncRawCursor(conn, row_factory=tuple_row) as cur:"
    plain_cursor = f"{INDENT}async with AsyncRawCursor(conn) as cur:"
    body: list[str]
    if cmd in (":one", ":many"):
        imports.rows = True
        result = _result(ctx, query, imports)
        if result.struct:
            items.append(result.struct)
        if cmd == ":one":
            returns = f"{result.annotation} | None"
            body = [
                rows_cursor,
                *execute,
                f"{INDENT * 2}row = await cur.fetchone()",
                *_return_row(result.construct),
            ]
        else:
            returns = f"list[{result.annotation}]"
            body = [
                rows_cursor,
                *execute,
                f"{INDENT * 2}rows = await cur.fetchall()",
                f"{INDENT}return [{result.construct} for row in rows]",
            ]
    elif cmd == ":exec":
        returns = "None"
        body = [plain_cursor, *execute]
    elif cmd == ":execrows":
        returns = "int"
        body = [plain_cursor, *execute, f"{INDENT * 2}return cur.rowcount"]
    else:
        raise PluginError(
            f"{name}: command {cmd} is not supported by {PLUGIN_NAME} "
            "(use :one, :many, :exec, :execrows or :copyfrom)"
        )
    function = [f"# {p.name}: {p.type.note}" for p in params if p.type.note]
    function += _signature(fn, [f"{p.name}: {p.annotation}" for p in params], returns)
    function += docstring(doc, INDENT)
    function += body
    items.append(function)
    return items


def _copyfrom_items(
    ctx: Context, query: Mapping[str, Any], imports: Imports, *, const: str, fn: str, doc: str
) -> list[list[str]]:
    name = query["name"]
    match = _COPY_RE.match(query["text"])
    params = _params(ctx, query)
    if match is None:
        raise PluginError(f"{name}: :copyfrom needs a plain INSERT INTO table (columns) VALUES ($1, ...)")  # noqa: S608 - a message
    cols = [c.strip() for c in match["cols"].split(",")]
    vals = [v.strip() for v in match["vals"].split(",")]
    if (
        vals != [f"${i}" for i in range(1, len(vals) + 1)]
        or len(vals) != len(cols)
        or len(params) != len(cols)
    ):
        raise PluginError(
            f"{name}: :copyfrom needs VALUES ($1, $2, ...) with one parameter per column, in order"
        )
    copy_sql = f"COPY {match['table']} ({', '.join(cols)}) FROM STDIN"
    params_name = f"{camel(name)}Params"
    imports.msgspec = True
    imports.abc.add("Iterable")
    fields = []
    for p in params:
        imports.add(p.type)
        imports.jsonb |= p.type.is_json
        fields.append((p.name, p.annotation, p.type.note))
    values = [p.bind(f"r.{p.name}") for p in params]
    write = call_lines(INDENT * 4, "await copy.write_row(", [tuple_expr(values)], ")")
    if len(write) > 1:
        write = [
            f"{INDENT * 4}await copy.write_row(",
            f"{INDENT * 5}(",
            *[f"{INDENT * 6}{v}," for v in values],
            f"{INDENT * 5})",
            f"{INDENT * 4})",
        ]
    function = _signature(fn, [f"rows: Iterable[{params_name}]"], "int")
    function += docstring(doc, INDENT)
    function += [
        f"{INDENT}async with conn.cursor() as cur:",
        f"{INDENT * 2}async with cur.copy({const}) as copy:",
        f"{INDENT * 3}for r in rows:",
        *write,
        f"{INDENT * 2}return cur.rowcount",
    ]
    return [
        constant_lines(const, copy_sql),
        struct_lines(params_name, fields, f"One row for {fn}."),
        function,
    ]


def queries_module(ctx: Context, source: str, queries: Sequence[Mapping[str, Any]]) -> str:
    imports = Imports()
    items: list[list[str]] = []
    seen: set[str] = set()
    for query in queries:
        fn = py_ident(query["name"], "query")
        if fn in seen:
            raise PluginError(f"{source}: two queries map to the function name {fn}")
        seen.add(fn)
        items += query_items(ctx, query, imports)
    return _module(source, "", imports, items)


# ------------------------------------------------------------------------------------------- request


def _decode_options(raw: Any) -> dict[str, Any]:
    if not raw:
        return {}
    if isinstance(raw, str):
        raw = base64.b64decode(raw)
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise PluginError("plugin options must be a mapping")
    return value


def generate(request: Mapping[str, Any]) -> dict[str, str]:
    """File name -> contents for one GenerateRequest (already JSON-decoded)."""
    options = _decode_options(request.get("global_options"))
    options.update(_decode_options(request.get("plugin_options")))
    ctx = build_context(request, options)
    settings = request.get("settings") or {}
    root = options.get("source_root") or ""
    queries_dirs = settings.get("queries") or []
    queries_dir = queries_dirs[0] if len(queries_dirs) == 1 else ""
    schema_dirs = settings.get("schema") or []

    def source_of(filename: str) -> str:
        base = queries_dir.rstrip("/") + "/" if queries_dir and not queries_dir.endswith(".sql") else ""
        return _clean_path(root + base + filename)

    schema_src = ", ".join(_clean_path(root + s) for s in schema_dirs) or "the schema"
    files = {
        "__init__.py": header(_clean_path(root + "sqlc.yaml") if root else "sqlc.yaml")
        + '"""Generated query code: one module per queries file, plus ``models``."""\n',
        "models.py": models_module(ctx, schema_src),
    }
    by_file: dict[str, list[Mapping[str, Any]]] = {}
    for query in request.get("queries") or []:
        by_file.setdefault(query.get("filename") or "queries.sql", []).append(query)
    for filename in sorted(by_file):
        stem = filename.rsplit("/", 1)[-1].removesuffix(".sql")
        module = py_ident(stem, "queries")
        if f"{module}.py" in files:
            raise PluginError(f"queries file {filename} maps to {module}.py, which is taken")
        files[f"{module}.py"] = queries_module(ctx, source_of(filename), by_file[filename])
    return files


def _clean_path(path: str) -> str:
    parts: list[str] = []
    for part in path.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == ".." and parts and parts[-1] != "..":
            parts.pop()
        else:
            parts.append(part)
    return "/".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    method = argv[1] if len(argv) > 1 else ""
    if method and not method.endswith("/Generate"):
        print(f"{PLUGIN_NAME}: unsupported method {method}", file=sys.stderr)
        return 2
    request = json.loads(sys.stdin.buffer.read() or b"{}")
    try:
        files = generate(request)
    except PluginError as exc:
        print(f"{PLUGIN_NAME}: {exc}", file=sys.stderr)
        return 1
    response = {
        "files": [
            {"name": name, "contents": base64.b64encode(contents.encode()).decode("ascii")}
            for name, contents in sorted(files.items())
        ]
    }
    sys.stdout.write(json.dumps(response))
    sys.stdout.flush()
    return 0
