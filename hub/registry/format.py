"""The registry file (TOML, `docs/registry.md`): read it into a `Registry`, or list what is wrong.

Guarantees: `parse_registry` never raises on bad input and never stops at the first problem; it
returns either a `Registry` (collections sorted by id) or every `RegistryProblem` it found, each
naming the file, the entry (section, position, id) or the line of a TOML syntax error, and what to
fix. Each entry's own keys are checked by `hub.core.registry_events.decode_entry` (so the file and
the `sitn.registry` events share one definition of an entry); this module adds what needs the
whole file or the reference data: duplicate ids, references between entries, communes that are
not Normandy's, one CRT, one CDT per department, conventions that fit their contributor.
`registry_to_toml` writes a registry back as a file that parses to the same registry.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from importlib.resources import files
from pathlib import Path

from hub.core.registry import (
    ContributionConvention,
    Organisation,
    OrgKind,
    Registry,
)
from hub.core.registry_events import (
    EntryKind,
    RegistryValue,
    decode_entry,
    entry_for,
    entry_keys,
    id_of,
    registry_of,
    registry_values,
)
from hub.core.territory import Territory
from hub.reference import load_normandy_territory

NORMANDY_REGISTRY_FILE = "normandy.toml"

# The file's sections, in the order problems are reported and entries are written.
SECTIONS: Mapping[str, EntryKind] = {
    "organisation": EntryKind.ORGANISATION,
    "consortium": EntryKind.CONSORTIUM,
    "contribution_convention": EntryKind.CONTRIBUTION_CONVENTION,
    "concession": EntryKind.CONCESSION,
    "diffuser": EntryKind.DIFFUSER,
    "diffusion_convention": EntryKind.DIFFUSION_CONVENTION,
}
SINGLE_SECTIONS = ("consortium",)  # a table; every other section is an array of tables
_SECTION_OF = {kind: name for name, kind in SECTIONS.items()}
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


class RegistryFileError(RuntimeError):
    """The shipped registry does not load (a broken install or a bad edit of normandy.toml)."""


@dataclass(frozen=True)
class RegistryProblem:
    """One thing wrong in a registry file, located as precisely as the file allows."""

    source: str
    message: str
    section: str | None = None
    index: int | None = None  # 1-based position among the section's entries
    entry_id: str | None = None
    line: int | None = None  # TOML syntax errors only

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}, line {self.line}"
        if self.section is not None:
            table = (
                f"[{self.section}]" if self.section in SINGLE_SECTIONS else f"[[{self.section}]]"
            )
            position = f" #{self.index}" if self.index is not None else ""
            name = f" ({self.entry_id})" if self.entry_id is not None else ""
            where = f"{where}: {table}{position}{name}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class _Located:
    section: str
    index: int | None
    entry_id: str | None
    value: RegistryValue


def parse_registry(
    text: str, source: str, territory: Territory | None = None
) -> Registry | tuple[RegistryProblem, ...]:
    """The registry a TOML text describes, or every problem in it.

    `source` names the text in problems (usually its path); `territory` defaults to Normandy's
    communes from the package's reference data.
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = _TOML_LINE.search(str(error))
        line = int(found.group(1)) if found else None
        message = _TOML_LINE.sub("", str(error)).strip()
        return (RegistryProblem(source, f"not valid TOML: {message}", line=line),)
    problems: list[RegistryProblem] = []
    located: list[_Located] = []
    for key in document:
        if key not in SECTIONS:
            problems.append(
                RegistryProblem(
                    source,
                    f"unknown section {key!r}; the sections are {', '.join(SECTIONS)}",
                )
            )
    for section, kind in SECTIONS.items():
        tables = _tables(document, section, source, problems)
        seen: dict[str, int] = {}
        for index, table in tables:
            here = functools.partial(RegistryProblem, source, section=section, index=index)
            raw_id = table.get("id")
            if not isinstance(raw_id, str) or not raw_id:
                problems.append(here(f"'id' is missing or not a text; got {raw_id!r}"))
                continue
            if raw_id in seen:
                problems.append(
                    here(
                        f"duplicate id: entry #{seen[raw_id]} already uses {raw_id!r}; "
                        "ids are unique within a section",
                        entry_id=raw_id,
                    )
                )
                continue
            seen[raw_id] = index or 1
            body = {k: _jsonable(v) for k, v in table.items() if k != "id"}
            value = decode_entry(kind, raw_id, body)
            if isinstance(value, tuple):
                problems.extend(here(message, entry_id=raw_id) for message in value)
            else:
                located.append(_Located(section, index, raw_id, value))
    problems.extend(_cross_problems(located, source, territory or load_normandy_territory()))
    if problems:
        order = list(SECTIONS)
        return tuple(
            sorted(
                problems,
                key=lambda p: (
                    -1 if p.section is None else order.index(p.section),
                    p.index or 0,
                ),
            )
        )
    return registry_of([item.value for item in located])


def load_registry_file(
    path: Path, territory: Territory | None = None
) -> Registry | tuple[RegistryProblem, ...]:
    """`parse_registry` on a file; an unreadable file is a problem too, not an exception."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        return (RegistryProblem(str(path), f"cannot be read as UTF-8 text: {error}"),)
    return parse_registry(text, str(path), territory)


def normandy_registry_text() -> str:
    """The text of the registry shipped with the package (`hub/registry/normandy.toml`)."""
    return files(__package__).joinpath(NORMANDY_REGISTRY_FILE).read_text(encoding="utf-8")


@functools.cache
def load_normandy_registry() -> Registry:
    """The shipped Normandy registry; raises `RegistryFileError` listing its problems if broken."""
    parsed = parse_registry(normandy_registry_text(), f"hub/registry/{NORMANDY_REGISTRY_FILE}")
    if isinstance(parsed, tuple):
        raise RegistryFileError("\n".join(str(problem) for problem in parsed))
    return parsed


# ---------------------------------------------------------------- reading


def _tables(
    document: Mapping[str, object], section: str, source: str, problems: list[RegistryProblem]
) -> list[tuple[int | None, Mapping[str, object]]]:
    raw = document.get(section)
    if raw is None:
        return []
    if section in SINGLE_SECTIONS:
        if isinstance(raw, dict):
            return [(None, raw)]
        problems.append(
            RegistryProblem(
                source,
                f"write [{section}] once (a single table), not [[{section}]]",
                section=section,
            )
        )
        return []
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        problems.append(
            RegistryProblem(
                source,
                f"write one [[{section}]] table per entry (an array of tables)",
                section=section,
            )
        )
        return []
    return list(enumerate(raw, start=1))


def _jsonable(value: object) -> object:
    """TOML values as the JSON-able body the decoder reads: dates become ISO texts."""
    if isinstance(value, datetime | time):
        return value.isoformat()  # the decoder names it: "is not a date such as 2024-01-31"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value


# ---------------------------------------------------------------- checks across entries


def _cross_problems(
    located: Sequence[_Located], source: str, territory: Territory
) -> Iterable[RegistryProblem]:
    organisations = {
        item.value.org_id: item.value for item in located if isinstance(item.value, Organisation)
    }
    diffusers = {item.entry_id for item in located if item.section == "diffuser"}
    crts: list[str] = []
    cdts: dict[str, str] = {}
    for item in located:

        def problem(message: str, item: _Located = item) -> RegistryProblem:
            return RegistryProblem(
                source, message, section=item.section, index=item.index, entry_id=item.entry_id
            )

        value = item.value
        for code in _communes_of(value):
            if code not in territory:
                yield problem(
                    f"commune {code} is not a Normandy commune (INSEE codes are listed in "
                    "hub/reference/normandy-communes.csv)"
                )
        if isinstance(value, Organisation):
            if value.kind is OrgKind.CRT:
                if crts:
                    yield problem(f"{crts[0]} is already the CRT; there is one CRT")
                crts.append(value.org_id)
            if value.kind is OrgKind.CDT and value.department is not None:
                other = cdts.setdefault(value.department, value.org_id)
                if other != value.org_id:
                    yield problem(
                        f"{other} is already the CDT of department {value.department}; "
                        "there is one CDT per department"
                    )
            continue
        for field_name, reference in _references(item):
            if field_name == "diffuser":
                if reference not in diffusers:
                    yield problem(
                        f"unknown diffuser {reference!r} in diffuser; declare it in a "
                        "[[diffuser]] entry or fix the id"
                    )
            elif reference not in organisations:
                yield problem(
                    f"unknown organisation {reference!r} in {field_name}; declare it in an "
                    "[[organisation]] entry or fix the id"
                )
        if isinstance(value, ContributionConvention):
            contributor = organisations.get(value.contributor)
            if contributor is not None:
                yield from map(problem, _convention_fit(value, contributor))


def _communes_of(value: RegistryValue) -> tuple[str, ...]:
    if isinstance(value, Organisation | ContributionConvention):
        return value.communes
    return ()


def _references(item: _Located) -> list[tuple[str, str]]:
    """(key, id) of every organisation or diffuser an entry refers to."""
    value = item.value
    body = entry_for(value).body
    keys = {
        "contribution_convention": ("contributor",),
        "concession": ("contributor",),
        "diffuser": ("org",),
        "diffusion_convention": ("diffuser",),
    }.get(item.section, ())
    return [(key, ref) for key in keys if isinstance(ref := body.get(key), str)]


def _convention_fit(convention: ContributionConvention, org: Organisation) -> Iterable[str]:
    if org.kind is OrgKind.CDT:
        yield (
            f"{org.org_id} is a CDT: a CDT contributes for its whole department by principle "
            "and needs no contribution convention; remove this entry"
        )
    elif org.kind is OrgKind.CRT:
        yield (
            f"{org.org_id} is the CRT: its direct collection is listed as exceptions of the "
            "consortium convention ([[consortium.exception]]); move this entry there"
        )
    elif org.communes:
        outside = [code for code in convention.communes if code not in org.communes]
        if outside:
            yield (
                f"commune(s) {', '.join(outside)} are outside {org.org_id}'s territory; add "
                "them to the organisation's communes or remove them from the convention"
            )
        # Even its own department is wider than an organisation whose territory is communes.
        if convention.departments:
            yield (
                f"department(s) {', '.join(convention.departments)} are wider than "
                f"{org.org_id}'s territory; list its communes instead"
            )
    elif org.department is not None:
        elsewhere = [c for c in convention.communes if not c.startswith(org.department)]
        wider = [d for d in convention.departments if d != org.department]
        if elsewhere or wider:
            yield (
                f"{', '.join([*wider, *elsewhere])} lie outside {org.org_id}'s department "
                f"{org.department}"
            )


# ---------------------------------------------------------------- writing


def registry_to_toml(registry: Registry) -> str:
    """A registry file for `registry` (parsing it gives `registry` back)."""
    by_section: dict[str, list[RegistryValue]] = {name: [] for name in SECTIONS}
    for value in registry_values(registry):
        by_section[_SECTION_OF[entry_for(value).kind]].append(value)
    blocks: list[str] = []
    for section, values in by_section.items():
        kind = SECTIONS[section]
        for value in sorted(values, key=id_of):
            body = dict(entry_for(value).body)
            exceptions = body.pop("exception", [])
            header = f"[{section}]" if section in SINGLE_SECTIONS else f"[[{section}]]"
            lines = [header, f"id = {_toml(id_of(value))}"]
            lines.extend(_toml_pairs(body, entry_keys(kind)))
            for exception in exceptions if isinstance(exceptions, list) else []:
                if isinstance(exception, Mapping):
                    lines.extend(["", f"[[{section}.exception]]"])
                    lines.extend(_toml_pairs(exception, ("id", *exception)))
            blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


_DATE_KEYS = ("valid_from", "valid_until")


def _toml_pairs(body: Mapping[str, object], order: Iterable[str]) -> list[str]:
    keys = list(dict.fromkeys(key for key in order if key in body))
    lines: list[str] = []
    for key in keys:
        value = body[key]
        if value is None or value == [] or value == "":
            continue  # absent means the same as empty: the file stays short
        if key in _DATE_KEYS and isinstance(value, str):
            lines.append(f"{key} = {value}")  # TOML dates are written bare
        elif isinstance(value, list) and len(f"{key} = {_toml(value)}") > _WIDTH:
            lines.append(f"{key} = [")
            lines.extend(_wrapped([_toml(item) + "," for item in value]))
            lines.append("]")
        else:
            lines.append(f"{key} = {_toml(value)}")
    return lines


_WIDTH = 100


def _wrapped(items: Sequence[str]) -> list[str]:
    lines: list[str] = []
    current = ""
    for item in items:
        if current and len(current) + 1 + len(item) > _WIDTH - 4:
            lines.append(f"    {current}")
            current = item
        else:
            current = f"{current} {item}" if current else item
    if current:
        lines.append(f"    {current}")
    return lines


def _toml(value: object) -> str:
    if isinstance(value, str):
        # A JSON string is a TOML basic string, once DEL (allowed by JSON) is escaped.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"registry bodies hold texts and lists only; got {value!r}")
