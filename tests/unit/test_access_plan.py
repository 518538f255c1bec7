"""The rights the registry implies: each party only what its role needs (hub.access.plan)."""

from __future__ import annotations

import dataclasses

from hub.access.plan import (
    OPERATOR,
    Grant,
    Operation,
    ResourceKind,
    access_plan,
    is_hub_principal,
)
from hub.registry.format import load_normandy_registry


def rights_of(principal: str) -> set[str]:
    return {
        grant.describe() for grant in access_plan(load_normandy_registry()).grants_of(principal)
    }


def test_a_contributor_may_write_its_own_topic_and_transactions_and_nothing_else() -> None:
    assert rights_of("org.cdt-calvados") == {
        "write topic sitn.contrib.cdt-calvados",
        "describe topic sitn.contrib.cdt-calvados",
        "write transactional_id sitn-publisher-cdt-calvados",
        "describe transactional_id sitn-publisher-cdt-calvados",
    }


def test_a_diffuser_may_read_only_its_own_feed_topic_with_its_own_groups() -> None:
    assert rights_of("diffuser.datatourisme") == {
        "read topic sitn.feed.datatourisme",
        "describe topic sitn.feed.datatourisme",
        "read group sitn.connect.datatourisme.*",
    }


def test_only_the_operator_may_write_the_registry() -> None:
    plan = access_plan(load_normandy_registry())
    writers = {
        grant.principal
        for grant in plan.grants
        if grant.name == "sitn.registry" and grant.operation is Operation.WRITE
    }
    assert writers == {OPERATOR}


def test_the_operator_may_create_the_contributors_topics_as_registry_apply_does() -> None:
    assert rights_of("sitn-operator") == {
        "read topic sitn.registry",
        "write topic sitn.registry",
        "describe topic sitn.registry",
        "create topic sitn.contrib.*",
        "describe topic sitn.contrib.*",
    }


def test_no_diffusers_group_prefix_is_the_start_of_anothers() -> None:
    plan = access_plan(load_normandy_registry())
    prefixes = [g.name for g in plan.grants if g.kind is ResourceKind.GROUP]
    assert not [(a, b) for a in prefixes for b in prefixes if a != b and b.startswith(a)]


def test_nobody_but_the_stages_reads_regional_changes_rejections_or_customer_data() -> None:
    plan = access_plan(load_normandy_registry())
    private = {"sitn.regional.changes", "sitn.rejections", "sitn.private.customer-data"}
    assert not [grant for grant in plan.grants if grant.name in private]


def test_every_principal_is_one_a_sync_may_remove_and_the_administrator_is_not() -> None:
    plan = access_plan(load_normandy_registry())
    assert all(is_hub_principal(principal) for principal in plan.principals)
    assert all(is_hub_principal(grant.principal) for grant in plan.grants)
    assert not is_hub_principal("sitn-admin")
    assert not is_hub_principal("sitn-controller")


def test_an_organisation_removed_from_the_registry_has_no_principal_nor_right_left() -> None:
    registry = load_normandy_registry()
    organisations = {k: v for k, v in registry.organisations.items() if k != "ot-deauville"}
    plan = access_plan(dataclasses.replace(registry, organisations=organisations))
    assert "org.ot-deauville" not in plan.principals
    assert not plan.grants_of("org.ot-deauville")


def test_the_plan_does_not_depend_on_the_registrys_order() -> None:
    registry = load_normandy_registry()
    reversed_registry = dataclasses.replace(
        registry,
        organisations=dict(reversed(list(registry.organisations.items()))),
        diffusers=dict(reversed(list(registry.diffusers.items()))),
    )
    assert access_plan(reversed_registry) == access_plan(registry)


def test_a_grant_reads_as_its_operation_kind_and_pattern() -> None:
    grant = Grant("diffuser.x", ResourceKind.GROUP, "sitn.connect.x.", Operation.READ, True)
    assert grant.describe() == "read group sitn.connect.x.*"
