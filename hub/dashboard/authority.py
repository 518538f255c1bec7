"""Human names for what the store records by id: organisations and the rules that allowed a change.

A field group's provenance names its `authority` as the collection rules wrote it:
``principle:<cdt>`` (a CDT in its department), ``exception:<id>`` (an exception of the consortium
convention let the CRT collect) or ``convention:<id>`` (a contribution convention). `describe`
turns it into a sentence from the registry; an id the registry does not hold (any more) is shown
as it is, with the raw authority always kept beside the sentence, so nothing is hidden.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.core.registry import Registry, Validity


@dataclass(frozen=True)
class Authority:
    """A provenance authority: its kind, the id it names, and a sentence an operator reads."""

    raw: str  # as stored, e.g. "convention:cc-ot-bayeux-2020"
    kind: str  # "principle", "exception", "convention", or "" if unrecognised
    target: str  # the CDT's, exception's or convention's id
    label: str  # e.g. "Contribution convention cc-ot-bayeux-2020 of Bayeux Bessin Tourisme ..."


def organisation_name(registry: Registry, org_id: str) -> str:
    """The organisation's name, or its id if the registry does not know it."""
    org = registry.organisation(org_id)
    return org.name if org is not None else org_id


def validity_text(validity: Validity) -> str:
    if validity.valid_from is None and validity.valid_until is None:
        return "no end date"
    start = f"from {validity.valid_from.isoformat()}" if validity.valid_from else "open start"
    end = f"until {validity.valid_until.isoformat()}" if validity.valid_until else "no end date"
    return f"{start}, {end}"


def describe(registry: Registry, authority: str) -> Authority:
    """The authority `authority` explained from `registry` (see the module docstring)."""
    kind, _, target = authority.partition(":")
    if kind == "principle":
        org = registry.organisation(target)
        where = f", department {org.department}" if org is not None and org.department else ""
        label = f"Principle: the CDT {organisation_name(registry, target)} in its department"
        return Authority(authority, kind, target, label + where)
    if kind == "exception":
        found = next(
            (
                e
                for e in (registry.consortium.exceptions if registry.consortium else ())
                if e.exception_id == target
            ),
            None,
        )
        if found is None:
            label = f"Exception {target} of the consortium convention (not in the registry now)"
        else:
            note = f": {found.note.strip()}" if found.note.strip() else ""
            label = f"Exception {target} of the consortium convention{note}"
        return Authority(authority, kind, target, label)
    if kind == "convention":
        convention = next(
            (c for c in registry.contribution_conventions if c.convention_id == target), None
        )
        if convention is None:
            label = f"Contribution convention {target} (not in the registry now)"
        else:
            label = (
                f"Contribution convention {target} of "
                f"{organisation_name(registry, convention.contributor)} "
                f"({validity_text(convention.validity)})"
            )
        return Authority(authority, kind, target, label)
    return Authority(authority, "", authority, f"Unrecognised authority {authority!r}")
