"""SQL lives in ``sql/`` as files and is loaded by name, so it can be read, reviewed and shipped
with a model as text.

Values are bound as DuckDB ``$parameters``; ``{placeholders}`` take only identifiers and
expressions the code derives from the contract (never user input).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from pixie_assets.core.settings import PROJECT_ROOT

SQL_DIR = PROJECT_ROOT / "sql"

_PARAMETER = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@cache
def load_sql(name: str) -> str:
    """``load_sql("features")`` reads sql/features.sql; ``"labels/engagement"`` a subfolder."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"no SQL named {name!r}: {path} does not exist")
    return path.read_text()


def render_sql(name: str, **fragments: str) -> str:
    """``load_sql(name)`` with its ``{placeholders}`` filled by contract-derived fragments."""
    return load_sql(name).format(**fragments)


def bind(statement: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The subset of ``values`` the statement references: DuckDB rejects unused named
    parameters, and one set of values can serve several statements."""
    used = set(_PARAMETER.findall(statement))
    missing = used - values.keys()
    if missing:
        raise KeyError(f"SQL parameters without a value: {', '.join(sorted(missing))}")
    return {name: values[name] for name in used}
