"""The JSON-lines input of `sitn publish`: one change per line, in `hub.records`' JSON shape.

A line is a contribution as `hub.records.contribution_to_json` writes it (what `sitn demo
generate` produces; docs/publishing.md describes it for contributors). `event_id` is ignored
(the publisher derives it), `contributor` is optional but must be the publishing organisation if
given, and `source_version` is optional (the publisher numbers the change). Every problem is
reported with its line number and field path; reading never stops at the first bad line, so a
contributor sees all of them at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from hub.record_error import RecordError
from hub.records import contribution_from_json
from producers.publisher import Change


@dataclass(frozen=True)
class LineProblem:
    line: int
    offer_id: str | None
    field: str
    message: str

    def describe(self) -> str:
        offer = f" (offer {self.offer_id})" if self.offer_id else ""
        where = f"{self.field}: " if self.field else ""
        return f"line {self.line}{offer}: {where}{self.message}"


def read_changes(
    lines: Iterable[str], contributor: str
) -> tuple[list[tuple[int, Change]], list[LineProblem]]:
    """The changes of a JSON-lines text, each with its line number, and the problems found."""
    changes: list[tuple[int, Change]] = []
    problems: list[LineProblem] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(LineProblem(number, None, "", f"not valid JSON ({error.msg})"))
            continue
        if not isinstance(data, dict):
            problems.append(LineProblem(number, None, "", "a line must hold one JSON object"))
            continue
        offer_id = data.get("offer_id") if isinstance(data.get("offer_id"), str) else None
        claimed = data.get("contributor", contributor)
        if claimed != contributor:
            problems.append(
                LineProblem(
                    number,
                    offer_id,
                    "contributor",
                    f"the line is from {claimed!r} but you publish as {contributor!r}; "
                    "publish each organisation's file with its own --as",
                )
            )
            continue
        version = data.get("source_version")
        # The envelope fields the publisher owns get placeholders so the model can check the rest.
        envelope = {**data, "event_id": "-", "contributor": contributor, "source_version": 1}
        try:
            contribution = contribution_from_json(envelope)
        except RecordError as error:
            problems.append(LineProblem(number, offer_id, error.field_path, error.message))
            continue
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            problems.append(
                LineProblem(number, offer_id, "source_version", f"{version!r} is not an integer")
            )
            continue
        changes.append(
            (
                number,
                Change(
                    offer_id=contribution.offer_id,
                    payload=contribution.payload,
                    occurred_at=contribution.occurred_at,
                    source_system=contribution.source_system,
                    source_id=contribution.source_id,
                    source_version=version,
                ),
            )
        )
    return changes, problems
