"""A rejection read from its topic is stored with the time the hub judged it."""

from __future__ import annotations

from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord

from hub.core.collection import Rejection
from hub.core.offer import FieldGroup
from hub.store_projector import judged_rejection
from hub.wire import encode_rejection

# A DATAtourisme import dates its changes by the source's last update, long before the hub saw it.
SOURCE_UPDATED = datetime(2024, 5, 2, 8, 0, tzinfo=UTC)
JUDGED = datetime(2026, 12, 4, 18, 30, 15, 250_000, tzinfo=UTC)


def test_the_store_keeps_the_time_of_the_rejection_record_as_when_it_was_judged() -> None:
    rejection = Rejection(
        event_id="ot-bayeux/HOTNOR014V500001/2",
        contributor="ot-bayeux",
        offer_id="HOTNOR014V500001",
        occurred_at=SOURCE_UPDATED,
        rule_ids=("charte.prices.order",),
        message="the minimum price is above the maximum",
        rejected_groups=(FieldGroup.PRICES,),
    )
    value = encode_rejection(rejection)
    record = ConsumerRecord(
        "sitn.rejections", 3, 41, int(JUDGED.timestamp() * 1000), 0, b"k", value, None, 1, 1, []
    )

    stored = judged_rejection(record)

    assert stored.occurred_at == SOURCE_UPDATED
    assert stored.judged_at == JUDGED
    assert (stored.event_id, stored.rule_ids, stored.field_groups) == (
        rejection.event_id,
        rejection.rule_ids,
        rejection.rejected_groups,
    )
