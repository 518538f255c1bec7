"""Topic names: one contributor topic per organisation, with ids that cannot smuggle a dot."""

from __future__ import annotations

import pytest

from hub.topics import OFFER_PARTITIONS, REGIONAL_CHANGES, contrib_topic, hub_topics


def test_each_contributor_writes_to_its_own_topic() -> None:
    assert contrib_topic("cdt-14") == "sitn.contrib.cdt-14"


@pytest.mark.parametrize("bad", ["", "CDT14", "cdt.14", "x", "ot calvados", "-cdt"])
def test_an_invalid_organisation_id_is_refused_with_its_value(bad: str) -> None:
    with pytest.raises(ValueError, match="organisation id"):
        contrib_topic(bad)


def test_the_regional_history_is_kept_forever_and_partitioned_by_offer() -> None:
    spec = next(spec for spec in hub_topics() if spec.name == REGIONAL_CHANGES)
    assert spec.partitions == OFFER_PARTITIONS
    assert ("retention.ms", "-1") in spec.config
