"""Reference data shipped inside the package, read with importlib.resources (never ../shared).

`load_normandy_territory()` reads `normandy-communes.csv` (INSEE's Code officiel géographique,
see SOURCE.md) once per process and returns the pure `Territory` the collection rules use. A
missing or malformed file raises `ReferenceDataError` naming the file, the line and what to fix;
a file that loads is complete: it has the expected header and communes in all five departments.
"""

from __future__ import annotations

import csv
import functools
import io
from importlib.resources import files
from importlib.resources.abc import Traversable

from hub.core.territory import Commune, Territory, TerritoryError

COMMUNES_FILE = "normandy-communes.csv"
COMMUNES_HEADER: tuple[str, ...] = ("insee_code", "department", "name")


class ReferenceDataError(RuntimeError):
    """The packaged reference data is missing or malformed (a broken install or a bad copy)."""


@functools.cache
def load_normandy_territory() -> Territory:
    """Normandy's communes from the package's CSV file; read once, then served from memory."""
    return load_territory(files(__name__).joinpath(COMMUNES_FILE))


def load_territory(resource: Traversable) -> Territory:
    """A territory from a communes CSV (header `insee_code,department,name`, UTF-8)."""
    try:
        # utf-8-sig: a copy saved by a spreadsheet may start with a byte-order mark.
        text = resource.read_text(encoding="utf-8-sig")
    except FileNotFoundError as error:
        raise ReferenceDataError(
            f"reference file {resource} is missing; reinstall the package "
            f"(it ships hub/reference/{COMMUNES_FILE})"
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ReferenceDataError(
            f"reference file {resource} cannot be read as UTF-8 text: {error}"
        ) from error
    return parse_communes(text, source=str(resource))


def parse_communes(text: str, source: str) -> Territory:
    """A territory from the text of a communes CSV; `source` names it in error messages."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or tuple(header) != COMMUNES_HEADER:
            raise ReferenceDataError(
                f"{source}, line 1: header is {header!r}; expected {','.join(COMMUNES_HEADER)}"
            )
        communes = [_commune(row, source, reader.line_num) for row in reader]
    except csv.Error as error:
        raise ReferenceDataError(f"{source}, line {reader.line_num}: {error}") from error
    try:
        territory = Territory(communes)
    except TerritoryError as error:
        raise ReferenceDataError(f"{source}: {error}") from error
    empty = [d for d in territory.departments if not any(c.department == d for c in communes)]
    if empty:
        raise ReferenceDataError(
            f"{source}: no commune in department(s) {', '.join(empty)}; the file looks "
            "truncated, copy it again from the shared reference data"
        )
    return territory


def _commune(row: list[str], source: str, line: int) -> Commune:
    if len(row) != len(COMMUNES_HEADER):
        raise ReferenceDataError(
            f"{source}, line {line}: {len(row)} column(s) in {row!r}; expected "
            f"{len(COMMUNES_HEADER)} ({','.join(COMMUNES_HEADER)})"
        )
    insee, department, name = (cell.strip() for cell in row)
    return Commune(insee=insee, department=department, name=name)
