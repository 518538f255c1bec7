"""File exports of a diffuser's current scope (`consumers.exports`, `sitn diffusion export`).

The scope is the one of tests/support/diffusion_scope.py: two offers in the Calvados site's feed,
one withdrawn since it entered, one never in scope; a private block and a customer record carry
canary values that must reach no export. Stores run in memory, and on SQLite for the CLI.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from consumers.api import jsonld, native
from consumers.exports import EXPORT_FORMATS, ExportError, ExportFormat, export_scope
from consumers.feeds import FeedEntry, FeedStore, InMemoryFeedStore, SqlFeedStore
from consumers.feeds.cursor import FeedCursor
from hub.cli import app
from hub.registry.format import load_normandy_registry
from hub.store import InMemoryStore, SqlStore
from tests.support.diffusion_scope import (
    CUSTOMER_CANARY,
    DIFFUSER,
    ELSEWHERE,
    IN_SCOPE,
    PRIVATE_CANARY,
    WITHDRAWN,
    seed,
)


@pytest.fixture
def store() -> InMemoryStore:
    return InMemoryStore()


@pytest.fixture
def feeds(store: InMemoryStore) -> InMemoryFeedStore:
    feeds = InMemoryFeedStore()
    seed(store, feeds, load_normandy_registry())
    return feeds


def exported(feeds: FeedStore, fmt: ExportFormat) -> bytes:
    buffer = io.BytesIO()
    export_scope(feeds, DIFFUSER, fmt, buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- what an export holds


def test_a_json_lines_export_holds_one_native_object_per_offer_currently_in_the_feed(
    feeds: InMemoryFeedStore,
) -> None:
    buffer = io.BytesIO()
    summary = export_scope(feeds, DIFFUSER, "jsonl", buffer)

    lines = [json.loads(line) for line in buffer.getvalue().decode("utf-8").splitlines()]
    assert sorted(line["offer_id"] for line in lines) == sorted(IN_SCOPE)
    assert {line["kind"] for line in lines} == {"upsert"}
    head = feeds.head(DIFFUSER)
    assert lines == [native.change_json(entry, head) for entry in feeds.snapshot(DIFFUSER)]
    assert (summary.offers, summary.cursor, summary.format) == (
        len(IN_SCOPE),
        feeds.head(DIFFUSER),
        "jsonl",
    )


def test_a_json_ld_export_is_one_document_with_its_context_and_one_node_per_offer(
    feeds: InMemoryFeedStore,
) -> None:
    buffer = io.BytesIO()
    summary = export_scope(feeds, DIFFUSER, "jsonld", buffer)

    document = json.loads(buffer.getvalue())
    assert document["@context"] == jsonld.CONTEXT
    assert document["sitn:diffuser"] == DIFFUSER
    assert document["sitn:cursor"] == str(summary.cursor) == str(feeds.head(DIFFUSER))
    graph = document["@graph"]
    assert len(graph) == summary.offers == len(IN_SCOPE)
    assert sorted(node["@id"] for node in graph) == sorted(jsonld.offer_iri(o) for o in IN_SCOPE)
    assert all("@context" not in node for node in graph)
    expected = [jsonld.offer_document(entry) for entry in feeds.snapshot(DIFFUSER)]
    assert graph == [{k: v for k, v in e.items() if k != "@context"} for e in expected]


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_an_offer_removed_from_the_feed_or_never_in_it_is_not_exported(
    feeds: InMemoryFeedStore, fmt: ExportFormat
) -> None:
    text = exported(feeds, fmt).decode("utf-8")

    assert any(entry.change.offer_id == WITHDRAWN for entry in feeds.changes(DIFFUSER))
    for offer_id in (WITHDRAWN, ELSEWHERE):
        assert offer_id not in text
    for offer_id in IN_SCOPE:
        assert offer_id in text


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_no_private_field_nor_customer_data_reaches_an_export(
    store: InMemoryStore, feeds: InMemoryFeedStore, fmt: ExportFormat
) -> None:
    # The canaries are in the regional store, so their absence below means something.
    offer = store.offer(IN_SCOPE[0])
    assert offer is not None
    assert offer.private is not None
    assert PRIVATE_CANARY in (offer.private.internal_notes or "")
    assert any(CUSTOMER_CANARY in (r.full_name or "") for r in store.customer_data())

    data = exported(feeds, fmt)

    for canary in (PRIVATE_CANARY, CUSTOMER_CANARY, CUSTOMER_CANARY.lower()):
        assert canary.encode() not in data


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_an_empty_feed_exports_an_empty_but_valid_file(fmt: ExportFormat) -> None:
    data = exported(InMemoryFeedStore(), fmt)

    if fmt == "jsonl":
        assert data == b""
    else:
        assert json.loads(data)["@graph"] == []


def test_progress_is_reported_once_per_offer_written(feeds: InMemoryFeedStore) -> None:
    reported: list[int] = []

    summary = export_scope(feeds, DIFFUSER, "jsonl", io.BytesIO(), progress=reported.append)

    assert reported == [1] * summary.offers


def test_an_unknown_format_is_refused_and_no_file_is_written(
    feeds: InMemoryFeedStore, tmp_path: Path
) -> None:
    target = tmp_path / "brochure.csv"

    with pytest.raises(ExportError, match=r"format 'csv' is unknown; use one of jsonl, jsonld"):
        export_scope(feeds, DIFFUSER, "csv", target)  # type: ignore[arg-type]

    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- writing files atomically


class FailingFeedStore(InMemoryFeedStore):
    """A feed store whose snapshot breaks after its first entry (a database gone mid-export)."""

    def snapshot(self, diffuser_id: str, upto: FeedCursor | None = None) -> Iterator[FeedEntry]:
        entries = super().snapshot(diffuser_id, upto)
        yield next(entries)
        raise ConnectionError("the database went away")


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_an_export_to_a_path_replaces_the_file_and_leaves_nothing_beside_it(
    feeds: InMemoryFeedStore, tmp_path: Path, fmt: ExportFormat
) -> None:
    target = tmp_path / f"brochure.{fmt}"
    target.write_text("last year's brochure")

    summary = export_scope(feeds, DIFFUSER, fmt, target)

    assert target.read_bytes() == exported(feeds, fmt)
    assert summary.offers == len(IN_SCOPE)
    assert list(tmp_path.iterdir()) == [target]


def test_a_failed_export_leaves_the_previous_file_untouched_and_no_temporary_file(
    store: InMemoryStore, tmp_path: Path
) -> None:
    failing = FailingFeedStore()
    seed(store, failing, load_normandy_registry())
    target = tmp_path / "brochure.jsonl"
    target.write_text("last year's brochure")

    with pytest.raises(ConnectionError, match="went away"):
        export_scope(failing, DIFFUSER, "jsonl", target)

    assert target.read_text() == "last year's brochure"
    assert list(tmp_path.iterdir()) == [target]


def test_an_export_into_a_missing_folder_is_refused_with_the_folder(
    feeds: InMemoryFeedStore, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match=r"folder .*nowhere does not exist"):
        export_scope(feeds, DIFFUSER, "jsonl", tmp_path / "nowhere" / "brochure.jsonl")


# ---------------------------------------------------------------- SQLite and the command line


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"SITN_HOME": str(tmp_path), "SITN_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}"}


@pytest.fixture
def sqlite_seeded(env: dict[str, str]) -> Iterator[SqlFeedStore]:
    url = env["SITN_DATABASE_URL"]
    with SqlStore(url) as store, SqlFeedStore(url) as feeds:
        store.migrate()
        seed(store, feeds, load_normandy_registry())
        yield feeds


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_the_same_feed_exports_the_same_bytes_from_sqlite_and_from_memory(
    sqlite_seeded: SqlFeedStore, feeds: InMemoryFeedStore, fmt: ExportFormat
) -> None:
    assert exported(sqlite_seeded, fmt) == exported(feeds, fmt)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_the_export_command_writes_the_file_and_says_what_it_reflects(
    sqlite_seeded: SqlFeedStore, env: dict[str, str], tmp_path: Path, fmt: ExportFormat
) -> None:
    target = tmp_path / f"brochure.{fmt}"

    result = CliRunner().invoke(
        app, ["diffusion", "export", DIFFUSER, "--format", fmt, "--out", str(target)], env=env
    )

    assert result.exit_code == 0, result.output
    assert target.read_bytes() == exported(sqlite_seeded, fmt)
    head = sqlite_seeded.head(DIFFUSER)
    assert f"exported {len(IN_SCOPE)} offers of {DIFFUSER}" in result.stdout
    assert f"cursor {head}" in result.stdout


def test_the_export_command_refuses_a_diffuser_whose_feed_is_empty(
    sqlite_seeded: SqlFeedStore, env: dict[str, str], tmp_path: Path
) -> None:
    target = tmp_path / "brochure.jsonl"

    result = CliRunner().invoke(
        app, ["diffusion", "export", "site-cdt-calvdos", "--out", str(target)], env=env
    )

    assert result.exit_code == 2
    assert "diffuser 'site-cdt-calvdos' has no entry" in result.stderr
    assert not target.exists()


def test_the_export_command_refuses_an_unknown_format(env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["diffusion", "export", DIFFUSER, "--format", "xml", "--out", str(tmp_path / "x")],
        env=env,
    )

    assert result.exit_code == 2
    assert "--format 'xml' is unknown; use one of jsonl, jsonld" in result.stderr
