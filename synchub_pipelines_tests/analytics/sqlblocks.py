"""The SQL the README and docs show analysts: fenced blocks, their statements and parameters.

A block is what sits between a ```` ```sql ```` fence and its closing fence (indented fences,
as in a list item, included). `where` is `path:line` of the opening fence, which is what a
failing test names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w+-]*)\s*$")
# `:name` the way SQLAlchemy, psql and sqlite3 read it (not `::type`, not inside a word).
PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# What an SQL block starts with (after comments); a block that is not SQL is not sql-fenced.
SQL_START = re.compile(r"^\s*(SELECT|WITH|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP)\b", re.I)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    n = 0
    while n < len(lines):
        opening = FENCE.match(lines[n])
        if not opening:
            n += 1
            continue
        indent = len(opening["indent"])
        body: list[str] = []
        end = n + 1
        while end < len(lines) and not (FENCE.match(lines[end]) and lines[end].strip() == "```"):
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        found.append(Block(path, n + 1, opening["lang"].lower(), "\n".join(body) + "\n"))
        n = end + 1
    return found


def sql_blocks(paths: list[Path] | None = None) -> list[Block]:
    return [b for p in paths or documents() for b in blocks(p) if b.lang == "sql"]


def strip_comments(sql: str) -> str:
    """The SQL without `--` comments (string literals kept whole)."""
    out: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(sql):
        c = sql[i]
        if quote:
            out.append(c)
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
            out.append(c)
        elif sql.startswith("--", i):
            while i < len(sql) and sql[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def without_literals(sql: str) -> str:
    """The SQL with comments removed and string literals emptied (for pattern checks)."""
    return re.sub(r"'(?:[^']|'')*'", "''", strip_comments(sql))


def statements(sql: str) -> list[str]:
    """The block's statements, split on `;` outside literals and comments."""
    found: list[str] = []
    current: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(sql):
        c = sql[i]
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = len(sql) if end < 0 else end
            current.append(sql[i:end])
            i = end
            continue
        elif c == ";":
            found.append("".join(current))
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    found.append("".join(current))
    return [s.strip() for s in found if strip_comments(s).strip()]


def tables_read(sql: str) -> set[str]:
    """The tables a block reads (names after FROM or JOIN that no WITH defines)."""
    code = without_literals(sql)
    named = set(re.findall(r"(?i)\b(\w+)\s+AS\s*\(", code))
    read = set(re.findall(r"(?i)\b(?:FROM|JOIN)\s+([A-Za-z_]\w*)", code))
    return {t.lower() for t in read - named}


def parameters(sql: str) -> set[str]:
    return set(PARAMETER.findall(without_literals(sql)))


def comment_parameters(sql: str) -> set[str]:
    """`:name` inside comments: SQLAlchemy would bind them, psql and sqlite3 would not."""
    comments = "\n".join(line.partition("--")[2] for line in sql.splitlines() if "--" in line)
    return set(PARAMETER.findall(comments))


# Constructs that fail on one of the two warehouses, or mean something else there.
NOT_PORTABLE: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"\bCURRENT_(DATE|TIMESTAMP)\s*[-+]", re.I),
        "date arithmetic: on SQLite CURRENT_DATE - 7 is the number 2019 (every date is "
        "greater), bind the bound as a parameter",
    ),
    (
        re.compile(r"\bCAST\s*\((?:[^()]|\([^()]*\))*\bAS\s+(DATE|TIMESTAMP\w*)\s*\)", re.I),
        "CAST(… AS DATE) is the year on SQLite (numeric affinity)",
    ),
    (re.compile(r"::"), "`::type` casts are PostgreSQL-only"),
    (re.compile(r"\bINTERVAL\b", re.I), "INTERVAL is PostgreSQL-only"),
    (
        re.compile(r"\b(EXTRACT|DATE_TRUNC|DATE_PART|AGE|NOW|TO_CHAR|TO_DATE)\s*\(", re.I),
        "a PostgreSQL-only date function",
    ),
    (
        re.compile(r"\b(JULIANDAY|STRFTIME|DATETIME|UNIXEPOCH|TIMEDIFF)\s*\(", re.I),
        "a SQLite-only date function",
    ),
    (re.compile(r"\bjsonb?_\w+\s*\(|\bjson_each\b", re.I), "JSON functions differ per database"),
    (re.compile(r"\bILIKE\b", re.I), "ILIKE is PostgreSQL-only"),
    (re.compile(r"\b(STRING_AGG|GROUP_CONCAT|ARRAY_AGG)\s*\(", re.I), "not on both databases"),
]


def portability_problems(block: Block) -> list[str]:
    problems: list[str] = []
    for offset, line in enumerate(block.text.splitlines(), start=1):
        code = without_literals(line)
        for pattern, why in NOT_PORTABLE:
            if pattern.search(code):
                problems.append(
                    f"{block.path.relative_to(ROOT)}:{block.line + offset}: {line.strip()!r}: {why}"
                )
    for name in sorted(comment_parameters(block.text)):
        problems.append(
            f"{block.where}: `:{name}` inside a comment (SQLAlchemy would bind it; write the "
            "parameter's name without the colon there)"
        )
    return problems
