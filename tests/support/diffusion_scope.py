"""A small regional base and the feed the diffusion rules made of it (export and resync tests).

On the shipped Normandy registry, for the Calvados board's site (`site-cdt-calvados`:
institutional, department 14, every public group, all languages), with offers entered by the
Calvados board, whose standard concession allows institutional diffusers:

- HOT-1 (Caen), in scope, with a private block holding `PRIVATE_CANARY`;
- RES-2 (Caen), in scope;
- LOI-3 (Caen), in scope at version 1, withdrawn at version 2: the feed ends with its removal;
- HOT-4 (Rouen, department 76), never in this diffuser's scope.

The store also keeps a customer record full of `CUSTOMER_CANARY` (a member's web form). The feed
is made by the diffusion projector's own `diffuse`, as the worker makes it.
"""

from __future__ import annotations

from datetime import timedelta

from consumers.diffusion_projector import diffuse
from consumers.feeds import FeedStore
from hub.core.contribution import CustomerChannel, CustomerRecord
from hub.core.offer import Contact, ContactKind, OfferType, PrivateBlock
from hub.core.regional import OfferStatus, RegionalChange
from hub.core.registry import Registry
from hub.store import RegionalStore
from tests.support.regional_changes import CAEN, ROUEN, T0, change

DIFFUSER = "site-cdt-calvados"
CONTRIBUTOR = "cdt-calvados"
IN_SCOPE = ("HOT-1", "RES-2")
WITHDRAWN = "LOI-3"
ELSEWHERE = "HOT-4"

PRIVATE_CANARY = "CANARI-PRIVE-4d2e81"
CUSTOMER_CANARY = "CANARI-CLIENT-9b71c3"


def regional_history() -> list[RegionalChange]:
    private = PrivateBlock(
        owner_contacts=(Contact(ContactKind.MOBILE, "+33 6 11 22 33 44", PRIVATE_CANARY),),
        contract_refs=(f"CONC-{PRIVATE_CANARY}",),
        internal_notes=f"clé chez la voisine {PRIVATE_CANARY}",
    )
    return [
        change("HOT-1", 1, commune=CAEN, contributor=CONTRIBUTOR, private=private),
        change("RES-2", 1, commune=CAEN, contributor=CONTRIBUTOR, offer_type=OfferType.RES),
        change("LOI-3", 1, commune=CAEN, contributor=CONTRIBUTOR, offer_type=OfferType.LOI),
        change(ELSEWHERE, 1, commune=ROUEN, contributor="cdt-seine-maritime"),
        change(
            "LOI-3",
            2,
            commune=CAEN,
            contributor=CONTRIBUTOR,
            offer_type=OfferType.LOI,
            status=OfferStatus.WITHDRAWN,
        ),
    ]


def customer_record() -> CustomerRecord:
    return CustomerRecord(
        event_id="web-form-1",
        collector="ot-caen-la-mer",
        collected_at=T0 + timedelta(hours=1),
        channel=CustomerChannel.WEB_FORM,
        full_name=f"Camille {CUSTOMER_CANARY}",
        email=f"{CUSTOMER_CANARY.lower()}@mail.example",
        phone="+33 6 98 76 54 32",
        postal_code="14000",
        message=f"Envoyez-moi la brochure {CUSTOMER_CANARY}",
        consent_marketing=True,
    )


def seed(store: RegionalStore, feeds: FeedStore, registry: Registry) -> None:
    """The regional base in `store` and the feeds the diffusion rules make of it in `feeds`."""
    history = regional_history()
    store.apply(history, {})
    store.record_customer_data([customer_record()], {})
    diffuse(feeds, registry, history, {})
