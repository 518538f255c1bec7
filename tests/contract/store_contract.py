"""The contract of `hub.store.port.RegionalStore`, one suite for every implementation.

`RegionalStoreContract` holds the tests; a test module subclasses it once per implementation and
provides a `store` fixture giving an empty store (tests/contract/test_store_memory.py,
tests/contract/test_store_sql.py for SQLite and PostgreSQL). Nothing here knows which
implementation runs.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from hub.core.contribution import CustomerChannel, CustomerRecord
from hub.core.offer import FieldGroup, OfferType
from hub.core.regional import OfferStatus
from hub.store import InMemoryStore, RegionalStore, StoredRejection, StoreError
from tests.support.regional_changes import (
    CAEN,
    CHERBOURG,
    PARIS_SUMMER,
    ROUEN,
    T0,
    TOPIC,
    change,
    in_paris_time,
    private_block,
)


def rejection(
    event_id: str,
    contributor: str = "ot-caen",
    minutes: int = 0,
    rule_ids: tuple[str, ...] = ("convention",),
) -> StoredRejection:
    return StoredRejection(
        event_id=event_id,
        contributor=contributor,
        offer_id=f"offer-of-{event_id}",
        occurred_at=T0 + timedelta(minutes=minutes),
        rule_ids=rule_ids,
        message=f"{event_id}: no convention covers the prices group; ask the CDT",
        field_groups=(FieldGroup.PRICES,),
    )


def customer(event_id: str, collector: str = "ot-caen", minutes: int = 0) -> CustomerRecord:
    return CustomerRecord(
        event_id=event_id,
        collector=collector,
        collected_at=T0 + timedelta(minutes=minutes),
        channel=CustomerChannel.WEB_FORM,
        full_name="Camille Durand",
        email="camille.durand@mail.example",
        phone="+33 6 98 76 54 32",
        postal_code="14000",
        message="Brochure des gîtes, svp",
        consent_marketing=True,
    )


class RegionalStoreContract:
    """What every `RegionalStore` does; subclasses provide the `store` fixture (an empty store)."""

    # ------------------------------------------------------------ applying changes

    def test_an_applied_change_reads_back_as_the_current_offer(self, store: RegionalStore) -> None:
        created = change("HOT-1", 1, commune=ROUEN, private=private_block("rappeler lundi"))
        store.apply([created], {(TOPIC, 0): 1})

        offer = store.offer("HOT-1")
        assert offer is not None
        assert (offer.offer_id, offer.offer_type, offer.status, offer.version) == (
            "HOT-1",
            OfferType.HOT,
            OfferStatus.ACTIVE,
            1,
        )
        assert offer.public == created.public
        assert offer.private == created.private
        assert offer.provenance == created.provenance
        assert offer.contributor_versions == created.contributor_versions
        assert (offer.department, offer.commune_insee) == ("76", ROUEN)

    def test_an_unknown_offer_has_no_state_and_no_history(self, store: RegionalStore) -> None:
        store.apply([change("HOT-1", 1)], {})

        assert store.offer("HOT-2") is None
        assert store.history("HOT-2") == []

    def test_offers_page_through_every_current_offer_in_code_point_order_of_their_ids(
        self, store: RegionalStore
    ) -> None:
        # Upper before lower case and digits by character: what a locale-aware sort gets wrong.
        ids = ["hot-1", "HOT-2", "HOT-10", "RES-b", "RES-B", "LOI-é"]
        store.apply(
            [
                change("HOT-2", 1, private=private_block("clé sous le paillasson")),
                change("hot-1", 1, commune=ROUEN, contributor="ot-rouen"),
                change("HOT-10", 1),
                change("HOT-10", 2, status=OfferStatus.WITHDRAWN),
                change("RES-b", 1, offer_type=OfferType.RES),
                change("RES-B", 1, status=OfferStatus.DELETED),
                change("LOI-é", 1, offer_type=OfferType.LOI),
            ],
            {},
        )

        pages: list[list[str]] = []
        after = ""
        while page := store.offers(after=after, limit=2):
            pages.append([offer.offer_id for offer in page])
            assert page == [store.offer(offer.offer_id) for offer in page]
            after = page[-1].offer_id

        assert [offer_id for page in pages for offer_id in page] == sorted(ids)
        assert [len(page) for page in pages] == [2, 2, 2]

    def test_offers_after_the_last_id_or_with_no_room_are_none(self, store: RegionalStore) -> None:
        store.apply([change("HOT-1", 1), change("HOT-2", 1)], {})

        assert store.offers(after="HOT-2") == []
        assert store.offers(limit=0) == []
        assert [offer.offer_id for offer in store.offers(after="HOT-1")] == ["HOT-2"]
        assert InMemoryStore().offers() == []

    def test_a_newer_version_replaces_the_state_and_extends_the_history(
        self, store: RegionalStore
    ) -> None:
        first = change("HOT-1", 1, commune=CAEN)
        second = change("HOT-1", 2, commune=CHERBOURG, contributor="ot-cherbourg")
        store.apply([first], {})
        store.apply([second], {})

        offer = store.offer("HOT-1")
        assert offer is not None
        assert (offer.version, offer.public, offer.department) == (2, second.public, "50")
        history = store.history("HOT-1")
        assert [(v.version, v.event_id, v.contributor, v.source_version) for v in history] == [
            (1, first.event_id, "cdt-14", first.source_version),
            (2, second.event_id, "ot-cherbourg", second.source_version),
        ]
        assert history[1].changed_groups == second.changed_groups
        assert history[1].occurred_at == second.occurred_at
        assert history[1].status is OfferStatus.ACTIVE

    def test_times_in_any_zone_read_back_as_the_same_instants(self, store: RegionalStore) -> None:
        created = in_paris_time(change("HOT-1", 1))
        store.apply([created], {})

        offer = store.offer("HOT-1")
        assert offer is not None
        assert [p.occurred_at for p in offer.provenance] == [
            p.occurred_at for p in created.provenance
        ]
        assert store.history("HOT-1")[0].occurred_at == created.occurred_at

    def test_a_redelivered_change_has_no_effect(self, store: RegionalStore) -> None:
        first, second = change("HOT-1", 1), change("HOT-1", 2)
        store.apply([first, second], {(TOPIC, 0): 2})
        digest = store.digest()

        store.apply([first, second], {(TOPIC, 0): 2})

        offer = store.offer("HOT-1")
        assert offer is not None
        assert offer.version == 2
        assert [v.version for v in store.history("HOT-1")] == [1, 2]
        assert store.digest() == digest

    def test_a_stale_version_has_no_effect_even_with_new_content(
        self, store: RegionalStore
    ) -> None:
        store.apply([change("HOT-1", 2, name="Hôtel du Port")], {})

        store.apply([change("HOT-1", 1, name="Autre nom"), change("HOT-1", 2, name="Autre")], {})

        offer = store.offer("HOT-1")
        assert offer is not None
        assert offer.public.names is not None
        assert offer.public.names[0].text == "Hôtel du Port"
        assert [v.version for v in store.history("HOT-1")] == [2]

    def test_a_stale_version_later_in_the_same_batch_has_no_effect(
        self, store: RegionalStore
    ) -> None:
        store.apply([change("HOT-1", 2, name="Deux"), change("HOT-1", 1, name="Un")], {})

        offer = store.offer("HOT-1")
        assert offer is not None
        assert offer.version == 2
        assert [v.version for v in store.history("HOT-1")] == [2]

    def test_several_versions_of_one_offer_in_a_batch_all_reach_the_history(
        self, store: RegionalStore
    ) -> None:
        versions = [change("HOT-1", v, name=f"v{v}") for v in (1, 2, 3)]
        store.apply(versions, {})

        offer = store.offer("HOT-1")
        assert offer is not None
        assert offer.public == versions[-1].public
        assert [v.event_id for v in store.history("HOT-1")] == [v.event_id for v in versions]

    def test_a_deleted_offer_keeps_its_history_but_no_fields_nor_department(
        self, store: RegionalStore
    ) -> None:
        store.apply([change("HOT-1", 1), change("HOT-1", 2, status=OfferStatus.DELETED)], {})

        offer = store.offer("HOT-1")
        assert offer is not None
        assert offer.status is OfferStatus.DELETED
        assert offer.public.groups() == ()
        assert (offer.department, offer.commune_insee, offer.provenance) == (None, None, ())
        assert len(store.history("HOT-1")) == 2

    # ------------------------------------------------------------ positions and transactions

    def test_positions_are_saved_with_the_rows(self, store: RegionalStore) -> None:
        assert store.positions() == {}

        store.apply([change("HOT-1", 1)], {(TOPIC, 0): 41, (TOPIC, 3): 7})

        assert store.positions() == {(TOPIC, 0): 41, (TOPIC, 3): 7}

    def test_positions_only_move_forward(self, store: RegionalStore) -> None:
        store.apply([], {(TOPIC, 0): 10, (TOPIC, 1): 5})

        store.apply([], {(TOPIC, 0): 4, (TOPIC, 1): 6, (TOPIC, 2): 1})

        assert store.positions() == {(TOPIC, 0): 10, (TOPIC, 1): 6, (TOPIC, 2): 1}

    def test_an_invalid_change_rolls_back_the_whole_batch_and_its_positions(
        self, store: RegionalStore
    ) -> None:
        store.apply([change("HOT-1", 1)], {(TOPIC, 0): 1})
        digest = store.digest()
        leaking = change("RES-2", 1)
        leaking = replace(leaking, public=replace(leaking.public, private=private_block("x")))

        with pytest.raises(StoreError, match=r"offer 'RES-2' version 1.*private"):
            store.apply([change("HOT-1", 2), change("LOI-3", 1), leaking], {(TOPIC, 0): 4})

        assert store.positions() == {(TOPIC, 0): 1}
        assert store.offer("LOI-3") is None
        assert [v.version for v in store.history("HOT-1")] == [1]
        assert store.digest() == digest

    def test_a_price_the_wire_cannot_carry_is_refused_with_its_field(
        self, store: RegionalStore
    ) -> None:
        with pytest.raises(StoreError, match=r"'FMA-9' version 1.*prices\.lines\[0\]\.minimum"):
            store.apply([change("FMA-9", 1, price=Decimal("9.999"))], {(TOPIC, 0): 1})

        assert store.offer("FMA-9") is None
        assert store.positions() == {}

    @pytest.mark.parametrize("version", [0, -1])
    def test_a_version_below_one_is_refused(self, store: RegionalStore, version: int) -> None:
        with pytest.raises(StoreError, match="versions start at 1"):
            store.apply([change("HOT-1", version)], {})

        assert store.offer("HOT-1") is None

    @pytest.mark.parametrize("position", [(TOPIC, -1, 3), (TOPIC, 0, -3), ("", 0, 3)])
    def test_an_impossible_position_is_refused_and_nothing_is_written(
        self, store: RegionalStore, position: tuple[str, int, int]
    ) -> None:
        topic, partition, offset = position

        with pytest.raises(StoreError, match="impossible"):
            store.apply([change("HOT-1", 1)], {(topic, partition): offset})

        assert store.offer("HOT-1") is None
        assert store.positions() == {}

    # ------------------------------------------------------------ privacy

    def test_the_private_block_is_stored_apart_and_replaced_with_each_version(
        self, store: RegionalStore
    ) -> None:
        store.apply([change("HOT-1", 1, private=private_block("clé chez la voisine"))], {})
        offer = store.offer("HOT-1")
        assert offer is not None
        assert offer.private == private_block("clé chez la voisine")
        assert offer.public.private is None

        store.apply([change("HOT-1", 2, private=None)], {})

        offer = store.offer("HOT-1")
        assert offer is not None
        assert offer.private is None

    def test_the_digest_ignores_the_content_of_private_blocks(self, store: RegionalStore) -> None:
        changes = [change(f"HOT-{n}", 1, private=private_block(f"note {n}")) for n in (1, 2)]
        store.apply(changes, {})
        # Digests are equal across implementations by definition: compare with a reference.
        reference = InMemoryStore()
        reference.apply([replace(c, private=private_block("autre chose")) for c in changes], {})
        changed_public = InMemoryStore()
        changed_public.apply([changes[0], change("HOT-2", 1, name="Autre", private=None)], {})

        assert store.digest() == reference.digest()
        assert store.digest() != changed_public.digest()

    def test_customer_data_is_kept_only_in_its_own_records(self, store: RegionalStore) -> None:
        store.apply([change("HOT-1", 1)], {})
        before = (store.digest(), store.counts(), store.rejections())

        store.record_customer_data(
            [customer("form:1"), customer("form:2", collector="ot-rouen", minutes=5)],
            {("sitn.private.customer-data", 0): 2},
        )

        assert (store.digest(), store.counts(), store.rejections()) == before
        assert [r.event_id for r in store.customer_data()] == ["form:1", "form:2"]
        assert store.customer_data("ot-rouen") == [
            customer("form:2", collector="ot-rouen", minutes=5)
        ]
        assert store.positions()[("sitn.private.customer-data", 0)] == 2

    def test_records_with_naive_times_are_refused_and_nothing_is_written(
        self, store: RegionalStore
    ) -> None:
        naive = T0.replace(tzinfo=None)

        with pytest.raises(StoreError, match=r"rejection of event 'e2'.*UTC offset"):
            store.record_rejections(
                [rejection("e1"), replace(rejection("e2"), occurred_at=naive)], {(TOPIC, 0): 2}
            )
        with pytest.raises(StoreError, match=r"customer record of event 'form:2'.*UTC offset"):
            store.record_customer_data(
                [customer("form:1"), replace(customer("form:2"), collected_at=naive)], {}
            )

        assert (store.rejections(), store.customer_data(), store.positions()) == ([], [], {})

    def test_a_customer_record_delivered_twice_is_stored_once(self, store: RegionalStore) -> None:
        store.record_customer_data([customer("form:1")], {})
        store.record_customer_data([customer("form:1"), customer("form:1")], {})

        assert store.customer_data() == [customer("form:1")]

    # ------------------------------------------------------------ reading

    def test_counts_by_type_department_and_status(self, store: RegionalStore) -> None:
        store.apply(
            [
                change("HOT-1", 1, commune=CAEN),
                change("HOT-2", 1, commune=CAEN),
                change("HOT-3", 1, commune=ROUEN),
                change("RES-4", 1, commune=CAEN, offer_type=OfferType.RES),
                change("RES-4", 2, offer_type=OfferType.RES, status=OfferStatus.WITHDRAWN),
                change("HOT-5", 1, status=OfferStatus.DELETED),
            ],
            {},
        )

        assert store.counts() == {
            (OfferType.HOT, "14", OfferStatus.ACTIVE): 2,
            (OfferType.HOT, "76", OfferStatus.ACTIVE): 1,
            (OfferType.RES, "14", OfferStatus.WITHDRAWN): 1,
            (OfferType.HOT, None, OfferStatus.DELETED): 1,
        }

    def test_rejections_are_listed_newest_first_by_contributor(self, store: RegionalStore) -> None:
        store.record_rejections(
            [
                rejection("e1", "ot-caen", minutes=1),
                rejection("e2", "ot-rouen", minutes=2),
                rejection("e3", "ot-caen", minutes=3),
                rejection("e0", "ot-caen", minutes=3),
            ],
            {("sitn.rejections", 0): 4},
        )

        assert [r.event_id for r in store.rejections("ot-caen")] == ["e0", "e3", "e1"]
        assert [r.event_id for r in store.rejections()] == ["e0", "e3", "e2", "e1"]
        assert [r.event_id for r in store.rejections(limit=2)] == ["e0", "e3"]
        assert store.rejections("ot-rouen") == [rejection("e2", "ot-rouen", minutes=2)]
        assert store.positions() == {("sitn.rejections", 0): 4}

    def test_rejections_resume_in_the_order_they_were_recorded(self, store: RegionalStore) -> None:
        # Recorded late, an early event still comes after what a reader has already seen.
        store.record_rejections([rejection("e5", minutes=5), rejection("x1", "ot-rouen")], {})
        store.record_rejections([rejection("e1", minutes=1), rejection("e5", minutes=5)], {})
        store.record_rejections([rejection("e9", minutes=9)], {})

        seen = store.rejections_after("ot-caen")
        assert [(r.rejection.event_id, r.rejection) for r in seen] == [
            ("e5", rejection("e5", minutes=5)),
            ("e1", rejection("e1", minutes=1)),
            ("e9", rejection("e9", minutes=9)),
        ]
        assert seen[0].seq < seen[1].seq < seen[2].seq
        assert store.rejections_after("ot-caen", after=seen[0].seq, limit=1) == [seen[1]]
        assert store.rejections_after("ot-caen", after=seen[2].seq) == []
        assert [r.rejection.event_id for r in store.rejections_after("ot-rouen")] == ["x1"]

    def test_rejections_are_counted_per_contributor_from_a_time_on(
        self, store: RegionalStore
    ) -> None:
        store.record_rejections(
            [
                rejection("e1", "ot-caen", minutes=1),
                rejection("e2", "ot-caen", minutes=2),
                rejection("e2", "ot-caen", minutes=2, rule_ids=("charte.email",)),
                rejection("e3", "ot-caen", minutes=3),
                rejection("r1", "ot-rouen", minutes=1),
                rejection("r3", "ot-rouen", minutes=3),
            ],
            {},
        )
        store.record_rejections([rejection("e3", "ot-caen", minutes=3)], {})  # redelivered

        assert store.rejection_counts(T0) == {"ot-caen": 4, "ot-rouen": 2}
        # The bound is included, whatever the offset it is given in.
        assert store.rejection_counts((T0 + timedelta(minutes=2)).astimezone(PARIS_SUMMER)) == {
            "ot-caen": 3,
            "ot-rouen": 1,
        }
        assert store.rejection_counts(T0 + timedelta(minutes=4)) == {}

    def test_rejections_are_counted_by_when_the_hub_judged_them_not_by_their_event_time(
        self, store: RegionalStore
    ) -> None:
        # An import dated by its source's last update, a year before, judged at T0 + 10 min.
        judged = T0 + timedelta(minutes=10)
        old_event = replace(rejection("i1", "ot-import", minutes=-525_600), judged_at=judged)
        # A rejection stored by an older hub, without the time it was judged: its event time.
        unjudged = rejection("u1", "ot-older", minutes=5)
        store.record_rejections([old_event, unjudged], {})

        assert store.rejection_counts(T0) == {"ot-import": 1, "ot-older": 1}
        assert store.rejection_counts(T0 + timedelta(minutes=6)) == {"ot-import": 1}
        assert store.rejection_counts(judged + timedelta(seconds=1)) == {}
        [kept] = [r for r in store.rejections() if r.event_id == "i1"]
        assert kept == old_event
        assert kept.judged_at is not None
        assert kept.judged_at.utcoffset() is not None

    def test_rejections_are_not_counted_from_a_time_without_offset(
        self, store: RegionalStore
    ) -> None:
        with pytest.raises(StoreError, match="give a UTC offset"):
            store.rejection_counts(T0.replace(tzinfo=None))
        assert store.rejections_after("nobody") == []

    def test_a_rejection_is_stored_once_per_event_and_rule_ids(self, store: RegionalStore) -> None:
        store.record_rejections([rejection("e1")], {})
        store.record_rejections(
            [rejection("e1"), rejection("e1", rule_ids=("charte.commune", "charte.url"))], {}
        )

        stored = store.rejections()
        assert sorted(r.rule_ids for r in stored) == [
            ("charte.commune", "charte.url"),
            ("convention",),
        ]

    # ------------------------------------------------------------ digest

    def test_the_digest_of_an_empty_store_differs_from_one_with_an_offer(
        self, store: RegionalStore
    ) -> None:
        empty = store.digest()

        store.apply([change("HOT-1", 1)], {})

        assert len(empty) == 64
        assert store.digest() != empty

    def test_the_digest_follows_public_content_status_and_provenance(
        self, store: RegionalStore
    ) -> None:
        store.apply([change("HOT-1", 1)], {})
        digests = {store.digest()}

        store.apply([change("HOT-1", 2, name="Nouveau nom")], {})
        digests.add(store.digest())
        store.apply([change("HOT-1", 3, name="Nouveau nom", status=OfferStatus.WITHDRAWN)], {})
        digests.add(store.digest())

        assert len(digests) == 3

    def test_the_digest_ignores_positions_history_and_rejections(
        self, store: RegionalStore
    ) -> None:
        store.apply([change("HOT-1", 1)], {(TOPIC, 0): 1})
        digest = store.digest()

        store.apply([], {(TOPIC, 0): 9})
        store.record_rejections([rejection("e1")], {})

        assert store.digest() == digest

    def test_the_digest_with_positions_is_the_digest_at_those_positions(
        self, store: RegionalStore
    ) -> None:
        store.apply([change("HOT-1", 1), change("RES-2", 1, commune=ROUEN)], {(TOPIC, 0): 2})
        store.apply([change("HOT-1", 2, name="Nouveau nom")], {(TOPIC, 0): 3, (TOPIC, 1): 1})

        read = store.digest_with_positions()

        assert read.digest == store.digest()
        assert read.positions == store.positions() == {(TOPIC, 0): 3, (TOPIC, 1): 1}

    def test_the_digest_with_positions_reads_one_state_while_changes_are_applied(
        self, store: RegionalStore
    ) -> None:
        batches = [[change(f"HOT-{n % 4}", n // 4 + 1, name=f"Version {n}")] for n in range(24)]
        # The digest after each batch, keyed by the position that batch records.
        expected: dict[tuple[tuple[str, int, int], ...], str] = {(): InMemoryStore().digest()}
        replay = InMemoryStore()
        for number, batch in enumerate(batches, start=1):
            replay.apply(batch, {(TOPIC, 0): number})
            expected[((TOPIC, 0, number),)] = replay.digest()

        def write() -> None:
            for number, batch in enumerate(batches, start=1):
                store.apply(batch, {(TOPIC, 0): number})

        writer = threading.Thread(target=write)
        seen = []
        writer.start()
        while True:
            finished = not writer.is_alive()  # then one last read, after every batch
            read = store.digest_with_positions()
            seen.append((tuple((t, p, o) for (t, p), o in read.positions.items()), read.digest))
            if finished:
                break
        writer.join()

        assert seen[-1][0] == ((TOPIC, 0, len(batches)),)
        for positions, digest in seen:
            assert digest == expected[positions], f"digest not the one at {positions}"
