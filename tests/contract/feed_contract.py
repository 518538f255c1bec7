"""The contract of `consumers.feeds.port.FeedStore`, one suite for every implementation.

`FeedStoreContract` holds the tests; a test module subclasses it once per implementation and
provides a `feeds` fixture giving an empty store (tests/contract/test_feed_store.py: in memory,
SQLite and PostgreSQL). Nothing here knows which implementation runs.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from consumers.feeds import ApiKey, FeedError, FeedStore, KeyOwner, hash_key, key_id, new_key
from consumers.feeds.cursor import START
from consumers.feeds.port import TimelineRow
from hub.core.diffusion import DiffusionChange, DiffusionKind, DiffusionReason
from hub.core.offer import PrivateBlock
from hub.topics import offer_partition
from tests.support.diffusion_changes import (
    DIFFUSER,
    OTHER_DIFFUSER,
    cursor_at,
    in_paris_time,
    offer_ids,
    removal,
    upsert,
)
from tests.support.regional_changes import T0, public_fields

TOPIC = "sitn.regional.changes"


def changes_of(feeds: FeedStore, diffuser: str = DIFFUSER) -> list[tuple[int, str, int, str]]:
    """(seq, offer, version, kind) of every entry of the feed, in the feed's order."""
    return [
        (e.seq, e.change.offer_id, e.change.version, e.change.kind.value)
        for e in feeds.changes(diffuser, after=START, limit=10_000)
    ]


class FeedStoreContract:
    """What every `FeedStore` does; subclasses provide the `feeds` fixture (an empty store)."""

    # ------------------------------------------------------------ appending and reading

    def test_entries_read_back_with_a_gapless_sequence_per_diffuser_and_partition(
        self, feeds: FeedStore
    ) -> None:
        hotel, other, restaurant = offer_ids(5, "HOT", 2) + offer_ids(2, "RES", 1)
        entries = [
            upsert(hotel, 1),
            upsert(restaurant, 1, diffuser=OTHER_DIFFUSER),
            upsert(restaurant, 1),
            removal(hotel, 2),
            upsert(other, 1),
        ]
        feeds.append(entries, {(TOPIC, 0): 5})

        # By number, then partition: each partition's entries in their order, interleaved.
        assert changes_of(feeds) == [
            (1, restaurant, 1, "upsert"),
            (1, hotel, 1, "upsert"),
            (2, hotel, 2, "removal"),
            (3, other, 1, "upsert"),
        ]
        assert changes_of(feeds, OTHER_DIFFUSER) == [(1, restaurant, 1, "upsert")]
        assert feeds.head(DIFFUSER) == cursor_at(p2=1, p5=3)
        assert feeds.head(OTHER_DIFFUSER) == cursor_at(p2=1)
        assert feeds.head("nobody") == START
        assert [e.partition for e in feeds.changes(DIFFUSER)] == [2, 5, 5, 5]

    def test_changes_resume_after_a_cursor_page_by_page(self, feeds: FeedStore) -> None:
        offers = [f"HOT-{n}" for n in range(1, 8)]  # on partitions 0, 1, 4 and 5
        feeds.append([upsert(offer, 1) for offer in offers], {})

        pages: list[list[str]] = []
        cursor = START
        while page := feeds.changes(DIFFUSER, after=cursor, limit=3):
            pages.append([e.change.offer_id for e in page])
            cursor = cursor.past(page)

        assert [len(page) for page in pages] == [3, 3, 1]
        assert sorted(offer for page in pages for offer in page) == sorted(offers)
        assert cursor == feeds.head(DIFFUSER)
        assert feeds.changes(DIFFUSER, after=cursor) == []
        assert feeds.changes(DIFFUSER, after=START, limit=0) == []

    def test_a_cursor_behind_on_one_partition_gives_that_partitions_entries_only(
        self, feeds: FeedStore
    ) -> None:
        hotels, restaurants = offer_ids(0, "HOT", 2), offer_ids(3, "RES", 2)
        feeds.append([upsert(o, 1) for o in hotels + restaurants], {})
        # A reader that has partition 3 but not yet the second entry of partition 0, which
        # (with several writers) could have committed after partition 3's.
        cursor = cursor_at(p0=1, p3=2)

        assert [e.change.offer_id for e in feeds.changes(DIFFUSER, after=cursor)] == [hotels[1]]
        assert cursor.behind(feeds.head(DIFFUSER)) == 1

    def test_views_and_times_read_back_as_the_same_values(self, feeds: FeedStore) -> None:
        entry = in_paris_time(upsert("HOT-1", 1, name="Hôtel « Les Écluses »"))
        feeds.append([entry], {})

        stored = feeds.changes(DIFFUSER)[0].change
        assert stored == entry
        assert stored.occurred_at.utcoffset() is not None

    # ------------------------------------------------------------ idempotence and order

    def test_a_redelivered_batch_has_no_effect(self, feeds: FeedStore) -> None:
        batch = [upsert("HOT-1", 1), upsert("HOT-1", 2), removal("RES-2", 3)]
        feeds.append(batch, {(TOPIC, 0): 3})
        before = changes_of(feeds)

        feeds.append(batch, {(TOPIC, 0): 3})
        feeds.append(batch[1:], {(TOPIC, 0): 2})

        assert changes_of(feeds) == before
        assert feeds.positions() == {(TOPIC, 0): 3}

    def test_a_feed_never_goes_back_to_a_lower_version(self, feeds: FeedStore) -> None:
        feeds.append([upsert("HOT-1", 3)], {})

        feeds.append([upsert("HOT-1", 2, minutes=90), removal("HOT-1", 1, minutes=91)], {})

        assert changes_of(feeds) == [(1, "HOT-1", 3, "upsert")]

    def test_a_stale_entry_later_in_the_same_batch_is_ignored(self, feeds: FeedStore) -> None:
        feeds.append([upsert("HOT-1", 2), upsert("HOT-1", 1), upsert("HOT-1", 3)], {})

        assert changes_of(feeds) == [(1, "HOT-1", 2, "upsert"), (2, "HOT-1", 3, "upsert")]

    def test_a_time_driven_entry_at_the_same_version_is_taken(self, feeds: FeedStore) -> None:
        # Media rights ending change the view without a new regional version; so does a resync.
        feeds.append([upsert("HOT-1", 4, minutes=10)], {})

        feeds.append(
            [
                upsert("HOT-1", 4, minutes=60, name="sans photo"),
                upsert("HOT-1", 4, minutes=70, reason=DiffusionReason.RESYNC),
                upsert("HOT-1", 4, minutes=65),  # earlier than the last: never go back
            ],
            {},
        )

        assert [(e.change.occurred_at, e.change.reason) for e in feeds.changes(DIFFUSER)] == [
            (upsert("HOT-1", 4, minutes=10).occurred_at, DiffusionReason.CHANGED),
            (upsert("HOT-1", 4, minutes=60).occurred_at, DiffusionReason.CHANGED),
            (upsert("HOT-1", 4, minutes=70).occurred_at, DiffusionReason.RESYNC),
        ]

    def test_a_removal_at_the_same_version_and_time_is_taken_once(self, feeds: FeedStore) -> None:
        feeds.append([upsert("HOT-1", 2)], {})

        feeds.append([removal("HOT-1", 2), upsert("HOT-1", 2), removal("HOT-1", 2)], {})
        feeds.append([removal("HOT-1", 2), upsert("HOT-1", 2)], {})

        assert changes_of(feeds) == [(1, "HOT-1", 2, "upsert"), (2, "HOT-1", 2, "removal")]

    # ------------------------------------------------------------ current state and snapshot

    def test_current_is_the_last_upsert_and_nothing_after_a_removal(self, feeds: FeedStore) -> None:
        feeds.append([upsert("HOT-1", 1), upsert("HOT-1", 2, name="Nouveau nom")], {})

        current = feeds.current(DIFFUSER, "HOT-1")
        assert current is not None
        assert (current.seq, current.change) == (2, upsert("HOT-1", 2, name="Nouveau nom"))
        assert feeds.current(OTHER_DIFFUSER, "HOT-1") is None
        assert feeds.current(DIFFUSER, "HOT-404") is None

        feeds.append([removal("HOT-1", 3)], {})
        assert feeds.current(DIFFUSER, "HOT-1") is None

        feeds.append([upsert("HOT-1", 4, reason=DiffusionReason.ENTERED_SCOPE)], {})
        back = feeds.current(DIFFUSER, "HOT-1")
        assert back is not None
        assert (back.seq, back.change.reason) == (4, DiffusionReason.ENTERED_SCOPE)

    def test_currents_read_at_once_what_current_reads_pair_by_pair(self, feeds: FeedStore) -> None:
        feeds.append(
            [
                upsert("HOT-1", 1),
                upsert("HOT-1", 2, name="Nouveau nom"),
                upsert("RES-2", 1),
                removal("RES-2", 2),
                upsert("LOI-3", 1, diffuser=OTHER_DIFFUSER),
                upsert("HOT-1", 1, diffuser=OTHER_DIFFUSER),
            ],
            {},
        )
        diffusers = [DIFFUSER, OTHER_DIFFUSER, "nobody"]
        offers = ["HOT-1", "RES-2", "LOI-3", "HOT-404"]

        found = feeds.currents(diffusers, offers)

        one_by_one = {
            (d, o): entry for d in diffusers for o in offers if (entry := feeds.current(d, o))
        }
        assert found == one_by_one
        assert sorted(found) == sorted(
            [(DIFFUSER, "HOT-1"), (OTHER_DIFFUSER, "HOT-1"), (OTHER_DIFFUSER, "LOI-3")]
        )
        assert feeds.currents([DIFFUSER], ["LOI-3"]) == {}
        assert feeds.currents([], offers) == {}

    def test_append_returns_what_it_stored_with_the_sequence_given(self, feeds: FeedStore) -> None:
        first = [
            upsert("HOT-1", 1),
            upsert("RES-2", 1),
            upsert("HOT-1", 1, diffuser=OTHER_DIFFUSER),
        ]
        stored = feeds.append(first, {})
        again = feeds.append([upsert("HOT-1", 1), removal("HOT-1", 2)], {})

        # HOT-1 and RES-2 are on partitions 5 and 2: each is its partition's first entry.
        assert [(e.seq, e.change) for e in stored] == [(1, first[0]), (1, first[1]), (1, first[2])]
        assert [(e.seq, e.change) for e in again] == [(2, removal("HOT-1", 2))]
        assert feeds.append([], {}) == []

    def test_last_seqs_tell_where_each_offer_last_moved_in_each_feed(
        self, feeds: FeedStore
    ) -> None:
        feeds.append(
            [
                upsert("HOT-1", 1),
                upsert("RES-2", 1),
                upsert("HOT-1", 1, diffuser=OTHER_DIFFUSER),
                removal("RES-2", 2),
            ],
            {},
        )

        found = feeds.last_seqs([DIFFUSER, OTHER_DIFFUSER, "nobody"], ["HOT-1", "RES-2", "X"])

        assert found == {  # on each offer's partition
            (DIFFUSER, "HOT-1"): 1,
            (DIFFUSER, "RES-2"): 2,
            (OTHER_DIFFUSER, "HOT-1"): 1,
        }
        assert feeds.last_seqs([], ["HOT-1"]) == {}

    def test_currents_reads_more_offers_than_one_query_can_bind(self, feeds: FeedStore) -> None:
        offers = [f"HOT-{n}" for n in range(1, 1202)]
        feeds.append([upsert(offer, 1) for offer in offers[::2]], {})

        found = feeds.currents([DIFFUSER, OTHER_DIFFUSER], offers)

        assert sorted(found) == sorted((DIFFUSER, offer) for offer in offers[::2])

    def test_the_snapshot_holds_the_offers_in_the_feed_by_partition_then_sequence(
        self, feeds: FeedStore
    ) -> None:
        feeds.append(
            [
                upsert("HOT-1", 1),
                upsert("RES-2", 1),
                upsert("LOI-3", 1),
                removal("RES-2", 2),
                upsert("HOT-1", 2),
                upsert("FMA-9", 1, diffuser=OTHER_DIFFUSER),
            ],
            {},
        )

        snapshot = list(feeds.snapshot(DIFFUSER))

        assert [(e.partition, e.seq, e.change.offer_id, e.change.version) for e in snapshot] == [
            (3, 1, "LOI-3", 1),
            (5, 2, "HOT-1", 2),
        ]
        assert all(e.change.kind is DiffusionKind.UPSERT for e in snapshot)
        assert list(feeds.snapshot("nobody")) == []

    def test_a_snapshot_then_the_changes_after_its_head_give_the_whole_feed(
        self, feeds: FeedStore
    ) -> None:
        feeds.append([upsert("HOT-1", 1), upsert("RES-2", 1), upsert("LOI-3", 1)], {})
        head = feeds.head(DIFFUSER)
        stream = feeds.snapshot(DIFFUSER, upto=head)
        first = next(stream)
        # The feed moves on while the snapshot is being read.
        feeds.append([upsert("RES-2", 2), removal("LOI-3", 2), upsert("PCU-4", 1)], {})
        rest = list(stream)

        state = {e.change.offer_id: e.change.version for e in [first, *rest]}
        for entry in feeds.changes(DIFFUSER, after=head):
            if entry.change.kind is DiffusionKind.UPSERT:
                state[entry.change.offer_id] = entry.change.version
            else:
                state.pop(entry.change.offer_id, None)

        assert state == {"HOT-1": 1, "RES-2": 2, "PCU-4": 1}
        assert all(head.covers(e.partition, e.seq) for e in [first, *rest])

    def test_a_snapshot_larger_than_a_read_batch_is_given_whole_and_in_order(
        self, feeds: FeedStore
    ) -> None:
        crowded = offer_ids(4, "HOT", 1201)  # one partition, over two read batches
        spread = [f"LOI-{n}" for n in range(1, 13)]
        feeds.append([upsert(offer, 1) for offer in crowded + spread], {})
        feeds.append([removal(crowded[599], 2)], {})

        snapshot = [(e.partition, e.seq, e.change.offer_id) for e in feeds.snapshot(DIFFUSER)]

        assert snapshot == sorted(snapshot)
        assert [offer for p, _, offer in snapshot if p == 4] == [
            offer
            for offer in crowded + spread
            if offer_partition(offer) == 4 and offer != crowded[599]
        ]
        assert sorted(offer for _, _, offer in snapshot) == sorted(
            offer for offer in crowded + spread if offer != crowded[599]
        )

    # ------------------------------------------------------------ positions and refusals

    def test_positions_are_saved_with_the_entries_and_only_move_forward(
        self, feeds: FeedStore
    ) -> None:
        assert feeds.positions() == {}
        feeds.append([upsert("HOT-1", 1)], {(TOPIC, 0): 10, (TOPIC, 1): 5})

        feeds.append([], {(TOPIC, 0): 4, (TOPIC, 1): 6, (TOPIC, 2): 1})

        assert feeds.positions() == {(TOPIC, 0): 10, (TOPIC, 1): 6, (TOPIC, 2): 1}

    @pytest.mark.parametrize(
        ("bad", "message"),
        [
            (
                replace(
                    upsert("BAD-1", 1),
                    view=replace(public_fields("x"), private=PrivateBlock(internal_notes="n")),
                ),
                r"'BAD-1' version 1: the view carries the private group",
            ),
            (replace(upsert("BAD-1", 1), view=None), "an upsert carries the diffuser's view"),
            (replace(upsert("BAD-1", 1), offer_type=None), "an upsert carries"),
            (replace(removal("BAD-1", 1), view=public_fields("x")), "a removal carries neither"),
            (replace(upsert("BAD-1", 0)), "versions start at 1"),
            (replace(upsert("BAD-1", 1), occurred_at=T0.replace(tzinfo=None)), "UTC offset"),
            (replace(upsert("BAD-1", 1), diffuser_id=""), "must not be empty"),
            (
                upsert("BAD-1", 1, view=public_fields("x", price=Decimal("1.999"))),
                r"view\.prices\.lines\[0\]\.minimum",
            ),
        ],
    )
    def test_a_malformed_entry_is_refused_and_nothing_of_the_call_is_written(
        self, feeds: FeedStore, bad: DiffusionChange, message: str
    ) -> None:
        with pytest.raises(FeedError, match=message):
            feeds.append([upsert("HOT-1", 1), bad], {(TOPIC, 0): 2})

        assert (feeds.head(DIFFUSER), feeds.positions()) == (START, {})

    def test_an_impossible_position_is_refused(self, feeds: FeedStore) -> None:
        with pytest.raises(FeedError, match="impossible"):
            feeds.append([upsert("HOT-1", 1)], {(TOPIC, 0): -1})

        assert feeds.head(DIFFUSER) == START

    # ------------------------------------------------------------ the diffusion timeline

    def test_timeline_rows_are_written_with_the_batch_and_read_back_by_partition(
        self, feeds: FeedStore
    ) -> None:
        first = TimelineRow("HOT-1", 2, 1, b"change-1", T0, ())
        other = TimelineRow("RES-2", 5, 3, b"change-3", T0, (b"tick",))
        feeds.append([upsert("HOT-1", 1)], {(TOPIC, 2): 1}, [first, other])

        assert feeds.timeline([2]) == [first]
        assert feeds.timeline([2, 5]) == [first, other]
        assert feeds.timeline([0, 1]) == []

    def test_a_row_without_its_change_moves_only_the_evaluation_and_the_waiting_ticks(
        self, feeds: FeedStore
    ) -> None:
        feeds.append([], {}, [TimelineRow("HOT-1", 2, 1, b"change-1", T0, (b"tick",))])
        later = T0 + timedelta(days=3)
        feeds.append([], {}, [TimelineRow("HOT-1", 2, 1, None, later, ())])

        assert feeds.timeline([2]) == [TimelineRow("HOT-1", 2, 1, b"change-1", later, ())]

    def test_ticks_may_wait_in_a_row_before_any_change_and_the_change_then_fills_it(
        self, feeds: FeedStore
    ) -> None:
        feeds.append([], {}, [TimelineRow("HOT-1", 2, 0, None, None, (b"tick-v2",))])
        assert feeds.timeline([2]) == [TimelineRow("HOT-1", 2, 0, None, None, (b"tick-v2",))]
        whole = TimelineRow("HOT-1", 2, 2, b"change-2", T0, ())
        feeds.append([], {}, [whole])
        assert feeds.timeline([2]) == [whole]

    def test_rows_read_without_their_changes_leave_them_to_be_read_one_by_one(
        self, feeds: FeedStore
    ) -> None:
        row = TimelineRow("HOT-1", 2, 1, b"change-1", T0, (b"tick",))
        feeds.append([], {}, [row, TimelineRow("RES-2", 2, 0, None, None, (b"early",))])

        assert feeds.timeline([2], changes=False)[0] == replace(row, change=None)
        assert feeds.timeline_change("HOT-1") == b"change-1"
        assert feeds.timeline_change("RES-2") is None
        assert feeds.timeline_change("NONE-3") is None

    def test_a_late_writer_cannot_move_an_offers_row_back(self, feeds: FeedStore) -> None:
        newer = TimelineRow("HOT-1", 2, 3, b"change-3", T0, ())
        feeds.append([], {}, [newer])
        feeds.append([], {}, [TimelineRow("HOT-1", 2, 2, b"change-2", T0, ())])
        feeds.append([], {}, [TimelineRow("HOT-1", 2, 2, None, T0 + timedelta(days=1), ())])
        assert feeds.timeline([2]) == [newer]

    def test_a_refused_batch_writes_no_timeline_row(self, feeds: FeedStore) -> None:
        with pytest.raises(FeedError, match="no row yet"):
            feeds.append(
                [upsert("HOT-1", 1)], {(TOPIC, 2): 1}, [TimelineRow("HOT-1", 2, 1, None, T0, ())]
            )
        with pytest.raises(FeedError):
            feeds.append(
                [upsert("HOT-1", 1)],
                {(TOPIC, 2): -1},
                [TimelineRow("HOT-1", 2, 1, b"change-1", T0, ())],
            )
        assert feeds.timeline([2]) == []
        assert feeds.positions() == {}
        assert changes_of(feeds) == []

    # ------------------------------------------------------------ API keys

    def test_a_key_is_found_by_its_hash_only(self, feeds: FeedStore) -> None:
        key, other = new_key(), new_key()
        feeds.set_key("diffuser", DIFFUSER, hash_key(key), at=T0)
        feeds.set_key("diffuser", DIFFUSER, hash_key(other), at=T0)  # a second key, e.g. a rotation
        feeds.set_key(
            "diffuser", DIFFUSER, hash_key(key), at=T0
        )  # setting it again changes nothing
        feeds.set_key("contributor", "ot-caen", hash_key("contributor's key"), at=T0)

        assert feeds.owner_of(hash_key(key)) == KeyOwner("diffuser", DIFFUSER)
        assert feeds.owner_of(hash_key(other)) == ("diffuser", DIFFUSER)
        assert feeds.owner_of(hash_key("contributor's key")) == ("contributor", "ot-caen")
        assert feeds.owner_of(hash_key("unknown")) is None
        assert feeds.owner_of(key) is None  # the key itself is not what is stored

    def test_a_key_is_never_given_to_a_second_owner(self, feeds: FeedStore) -> None:
        feeds.set_key("diffuser", DIFFUSER, hash_key("k"), at=T0)

        with pytest.raises(FeedError, match="already belongs to someone else"):
            feeds.set_key("contributor", "ot-caen", hash_key("k"), at=T0)

        assert feeds.owner_of(hash_key("k")) == ("diffuser", DIFFUSER)

    @pytest.mark.parametrize(
        ("kind", "owner", "key_hash", "message"),
        [
            ("diffuser", DIFFUSER, "a-clear-key-by-mistake", "not a sha256 hex digest"),
            ("diffuser", DIFFUSER, hash_key("k").upper(), "not a sha256 hex digest"),
            ("diffuser", "", hash_key("k"), "needs the diffuser's id"),
            ("operator", "root", hash_key("k"), "owner kind 'operator' is unknown"),
        ],
    )
    def test_a_clear_key_or_an_unknown_owner_is_refused(
        self, feeds: FeedStore, kind: str, owner: str, key_hash: str, message: str
    ) -> None:
        with pytest.raises(FeedError, match=message):
            feeds.set_key(kind, owner, key_hash, at=T0)  # type: ignore[arg-type]

        assert feeds.owner_of(key_hash) is None

    def test_a_revoked_key_opens_nothing_and_says_it_was_revoked(self, feeds: FeedStore) -> None:
        key, other = new_key(), new_key()
        feeds.set_key("diffuser", DIFFUSER, hash_key(key), at=T0)
        feeds.set_key("diffuser", DIFFUSER, hash_key(other), at=T0)
        later = T0 + timedelta(days=1)

        revoked = feeds.revoke_key(key_id(hash_key(key)), at=later)

        owner = KeyOwner("diffuser", DIFFUSER)
        assert revoked == ApiKey(key_id(hash_key(key)), owner, T0, later)
        assert feeds.owner_of(hash_key(key)) is None
        assert feeds.key(hash_key(key)) == revoked
        assert feeds.owner_of(hash_key(other)) == owner  # the owner's other key still works
        again = feeds.revoke_key(key_id(hash_key(key)), at=later + timedelta(days=1))
        assert again == revoked  # revoked once, at its first time
        with pytest.raises(FeedError, match="was revoked and stays revoked"):
            feeds.set_key("diffuser", DIFFUSER, hash_key(key), at=later)
        assert feeds.owner_of(hash_key(key)) is None

    def test_revoking_an_owner_revokes_its_keys_and_no_one_elses(self, feeds: FeedStore) -> None:
        mine, also_mine, theirs = new_key(), new_key(), new_key()
        feeds.set_key("diffuser", DIFFUSER, hash_key(mine), at=T0)
        feeds.set_key("diffuser", DIFFUSER, hash_key(also_mine), at=T0)
        feeds.set_key("diffuser", OTHER_DIFFUSER, hash_key(theirs), at=T0)
        feeds.set_key("contributor", DIFFUSER, hash_key("same id, other kind"), at=T0)

        revoked = feeds.revoke_keys("diffuser", DIFFUSER, at=T0)

        assert sorted(k.key_id for k in revoked) == sorted(
            key_id(hash_key(k)) for k in (mine, also_mine)
        )
        assert feeds.owner_of(hash_key(mine)) is None
        assert feeds.owner_of(hash_key(also_mine)) is None
        assert feeds.owner_of(hash_key(theirs)) == ("diffuser", OTHER_DIFFUSER)
        assert feeds.owner_of(hash_key("same id, other kind")) == ("contributor", DIFFUSER)
        assert feeds.revoke_keys("diffuser", DIFFUSER, at=T0) == []  # nothing left in force

    def test_a_replacing_key_revokes_the_owners_others_at_once(self, feeds: FeedStore) -> None:
        old, new, theirs = new_key(), new_key(), new_key()
        feeds.set_key("diffuser", DIFFUSER, hash_key(old), at=T0)
        feeds.set_key("diffuser", OTHER_DIFFUSER, hash_key(theirs), at=T0)

        revoked = feeds.set_key(
            "diffuser", DIFFUSER, hash_key(new), at=T0 + timedelta(hours=1), replace=True
        )

        assert [k.key_id for k in revoked] == [key_id(hash_key(old))]
        assert feeds.owner_of(hash_key(old)) is None
        assert feeds.owner_of(hash_key(new)) == ("diffuser", DIFFUSER)
        assert feeds.owner_of(hash_key(theirs)) == ("diffuser", OTHER_DIFFUSER)
        assert [(k.key_id, k.in_force) for k in feeds.all_keys()] == [
            (key_id(hash_key(theirs)), True),  # ideoguide before tourisme-fr
            (key_id(hash_key(old)), False),
            (key_id(hash_key(new)), True),
        ]

    def test_revoking_an_unknown_key_id_revokes_nothing(self, feeds: FeedStore) -> None:
        feeds.set_key("diffuser", DIFFUSER, hash_key("k"), at=T0)

        assert feeds.revoke_key("0123456789ab", at=T0) is None
        assert feeds.owner_of(hash_key("k")) == ("diffuser", DIFFUSER)

    def test_a_malformed_key_id_is_refused_saying_what_a_key_id_is(self, feeds: FeedStore) -> None:
        feeds.set_key("diffuser", DIFFUSER, hash_key("k"), at=T0)

        with pytest.raises(FeedError, match="'not-a-key-id' is not a key id: a key id is the 12"):
            feeds.revoke_key("not-a-key-id", at=T0)
        assert feeds.owner_of(hash_key("k")) == ("diffuser", DIFFUSER)
