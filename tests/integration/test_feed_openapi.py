"""schemathesis against the feed API's own OpenAPI document: every operation keeps its promises.

Requests are generated from the document (valid and invalid parameters, the documented examples,
the coverage phase's edge cases) and sent in-process to an app over real in-memory stores that
hold the documented example ids; every response is checked by schemathesis's default checks (no
server error, status codes, content types, headers and bodies as documented, authentication
enforced, invalid input rejected). A valid key of the path's owner is sent with each request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.specs.openapi.schemas import OpenApiSchema

from consumers.api import create_app
from consumers.feeds import InMemoryFeedStore, hash_key
from hub.core.diffusion import DiffusionReason
from hub.core.offer import FieldGroup, OfferType
from hub.registry.format import load_normandy_registry
from hub.registry.source import FixedRegistry
from hub.store import InMemoryStore, StoredRejection
from tests.support.diffusion_changes import removal, upsert
from tests.support.regional_changes import T0

# The ids the OpenAPI document gives as examples, so that generated requests reach real data.
DIFFUSER = "tourisme-fr"
OFFER = "HOTNOR0140000123"
CONTRIBUTOR = "ot-caen-la-mer"
KEYS = {"diffuser": "schemathesis-diffuser-key", "contributor": "schemathesis-contributor-key"}


def api_schema() -> OpenApiSchema:
    feeds = InMemoryFeedStore()
    feeds.append(
        [
            upsert(OFFER, 1, diffuser=DIFFUSER),
            upsert("FMA-2", 1, diffuser=DIFFUSER, offer_type=OfferType.FMA),
            upsert(OFFER, 2, diffuser=DIFFUSER, name="Hôtel de la Plage"),
            removal("FMA-2", 2, diffuser=DIFFUSER, reason=DiffusionReason.UNPUBLISHED),
        ],
        {},
    )
    feeds.set_key("diffuser", DIFFUSER, hash_key(KEYS["diffuser"]), at=T0)
    feeds.set_key("contributor", CONTRIBUTOR, hash_key(KEYS["contributor"]), at=T0)
    store = InMemoryStore()
    store.record_rejections(
        [
            StoredRejection(
                event_id=f"e-{n}",
                contributor=CONTRIBUTOR,
                offer_id=OFFER,
                occurred_at=T0 + timedelta(minutes=n),
                rule_ids=("charte.url",),
                message=f"e-{n}: contacts[0].value is not a URL; write it as https://...",
                field_groups=(FieldGroup.CONTACTS,),
            )
            for n in range(3)
        ],
        {},
    )
    api = create_app(
        feeds, store, registry=FixedRegistry(load_normandy_registry()), public_docs=True
    )
    return schemathesis.openapi.from_asgi("/openapi.json", api)


# Loaded when the module is collected: schemathesis's lazy `from_fixture` loader reads a pytest
# internal that pytest 9 no longer has.
schema = api_schema()


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_the_openapi_document(case: Case[Any]) -> None:
    owner = "contributor" if case.path.startswith("/v1/contributors/") else "diffuser"
    case.call_and_validate(headers={"X-API-Key": KEYS[owner]})
