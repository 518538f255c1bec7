"""docs/publishing.md says what `sitn publish` reads: its examples are read and pass the charte,
and it names every field group, offer type and enum value a line may hold."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest

from hub.core.offer import (
    LANGUAGES,
    ClassificationScheme,
    ContactKind,
    DiffuserClass,
    DiffusionStatus,
    Disability,
    FieldGroup,
    OfferType,
    Weekday,
)
from hub.records import PAYLOAD_TAGS
from hub.reference import load_normandy_territory
from producers.jsonlines import read_changes
from producers.publisher import validate

DOC = Path(__file__).resolve().parents[2] / "docs" / "publishing.md"


def json_blocks() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_document_has_examples() -> None:
    assert len(json_blocks()) >= 2


@pytest.mark.parametrize("block", json_blocks())
def test_every_example_line_is_read_and_passes_the_charte(block: str) -> None:
    changes, problems = read_changes(block.splitlines(keepends=True), "cdt-calvados")

    assert problems == []
    assert changes
    territory = load_normandy_territory()
    for _, change in changes:
        assert validate(change, territory) == ()


def test_the_examples_create_change_and_withdraw_one_offer_in_order() -> None:
    *_, example = json_blocks()
    changes, _ = read_changes(example.splitlines(keepends=True), "cdt-calvados")

    kinds = [PAYLOAD_TAGS[type(change.payload)] for _, change in changes]
    assert kinds == ["created", "changed", "withdrawn"]
    assert len({change.offer_id for _, change in changes}) == 1


@pytest.mark.parametrize(
    "values",
    [
        FieldGroup,
        OfferType,
        ContactKind,
        Weekday,
        ClassificationScheme,
        Disability,
        DiffuserClass,
        DiffusionStatus,
    ],
    ids=lambda e: e.__name__,
)
def test_every_value_of_the_model_is_named(values: type[StrEnum]) -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [v.value for v in values if not re.search(rf"\b{re.escape(v.value)}\b", text)]
    assert missing == []


def test_every_payload_type_and_language_is_named() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert all(f"`{tag}`" in text for tag in PAYLOAD_TAGS.values())
    assert " ".join(LANGUAGES) in text
