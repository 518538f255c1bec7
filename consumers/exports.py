"""File exports of a diffuser's current scope (architecture §9), for brochures and bulk loads.

`export_scope` writes what a diffuser is entitled to now: the upserts its feed currently holds
(`FeedStore.snapshot`, pinned at the feed's head when the export starts), never a removed offer.
The bodies are the feed API's own, so a file says exactly what the API would serve:

- ``jsonl``: one native JSON object per line and per offer (`consumers.api.native.change_json`, as
  the API's snapshot lines);
- ``jsonld``: one JSON-LD document, the `@context` inline and the offers as nodes of its `@graph`
  (`consumers.api.jsonld.offer_document` without its own `@context`), with the diffuser and the
  cursor.

Guarantees: the export streams (one offer in memory at a time, the SQL store reads in batches);
writing to a path is atomic (a temporary file beside it, flushed to disk, then renamed over it, so
a reader never sees half a file and a failed export leaves the old file as it was); the summary
names the feed cursor the file reflects: following the feed's changes after it brings a reader of
the file up to date. Views pass through `OfferFields.public()` in the renderers, so no private
field can reach a file whatever a store holds.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final, Literal, get_args

from consumers.api import jsonld, native
from consumers.api.native import encode
from consumers.feeds.cursor import FeedCursor
from consumers.feeds.port import FeedEntry, FeedStore

ExportFormat = Literal["jsonl", "jsonld"]
EXPORT_FORMATS: Final[tuple[ExportFormat, ...]] = get_args(ExportFormat)

# Called with the number of offers just written (1 per offer).
Progress = Callable[[int], None]


class ExportError(ValueError):
    """An export the caller asked for cannot be made (nothing was written at the target)."""


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote: how many offers, and the feed cursor the file reflects."""

    diffuser_id: str
    format: ExportFormat
    offers: int
    cursor: FeedCursor  # the feed's head when the export began (START: the feed was empty)


def export_scope(
    feeds: FeedStore,
    diffuser_id: str,
    fmt: ExportFormat,
    out: IO[bytes] | Path | str,
    progress: Progress | None = None,
) -> ExportSummary:
    """Writes the diffuser's current scope to `out` (a binary stream, or a path written atomically).

    Raises `ExportError` for an unknown format (before writing anything).
    """
    if fmt not in EXPORT_FORMATS:
        raise ExportError(
            f"export format {fmt!r} is unknown; use one of {', '.join(EXPORT_FORMATS)}"
        )
    if isinstance(out, str | Path):
        with _atomic(Path(out)) as stream:
            return _write(feeds, diffuser_id, fmt, stream, progress)
    return _write(feeds, diffuser_id, fmt, out, progress)


def _write(
    feeds: FeedStore,
    diffuser_id: str,
    fmt: ExportFormat,
    out: IO[bytes],
    progress: Progress | None,
) -> ExportSummary:
    cursor = feeds.head(diffuser_id)
    entries = feeds.snapshot(diffuser_id, upto=cursor)
    if fmt == "jsonl":
        written = _write_lines(entries, cursor, out, progress)
    else:
        written = _write_document(diffuser_id, cursor, entries, out, progress)
    out.flush()
    return ExportSummary(diffuser_id, fmt, written, cursor)


def _write_lines(
    entries: Iterator[FeedEntry], cursor: FeedCursor, out: IO[bytes], progress: Progress | None
) -> int:
    written = 0
    for entry in entries:
        out.write(encode(native.change_json(entry, cursor)) + b"\n")
        written += 1
        if progress is not None:
            progress(1)
    return written


def _write_document(
    diffuser_id: str,
    cursor: FeedCursor,
    entries: Iterator[FeedEntry],
    out: IO[bytes],
    progress: Progress | None,
) -> int:
    # The document is written piece by piece so that the graph never sits whole in memory: the
    # header's members, then one node per line, then the closing brackets.
    header = encode(
        {"@context": jsonld.CONTEXT, "sitn:diffuser": diffuser_id, "sitn:cursor": str(cursor)}
    )
    out.write(header[:-1] + b',"@graph":[')
    written = 0
    for entry in entries:
        document = jsonld.offer_document(entry)
        node = {key: value for key, value in document.items() if key != "@context"}
        out.write((b",\n" if written else b"\n") + encode(node))
        written += 1
        if progress is not None:
            progress(1)
    out.write(b"\n]}\n")
    return written


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    """A stream onto a temporary file beside `path`, renamed to `path` only if all went well."""
    folder = path.parent
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: folder {folder} does not exist; create it first")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            # mkstemp makes the file private to its owner; an export is meant to be shared,
            # like the file it replaces.
            os.fchmod(stream.fileno(), path.stat().st_mode & 0o777 if path.exists() else 0o644)
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
