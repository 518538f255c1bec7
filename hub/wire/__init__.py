"""Every bytes <-> model codec of the hub, behind one error contract (docs/architecture.md, "Wire").

Each `decode_*` takes the bytes of a Kafka record and returns a model value of `hub.core`, or
raises `hub.codec.DecodeError` whose `reason` says why (the dead letter's `error_kind`); each
`encode_*` returns the single-object Avro message of a model value, or raises
`hub.record_error.RecordError` naming the field. Stages, tools and tests import codecs from here
only.
"""

from hub.codec import (
    DecodeError,
    DecodeReason,
    decode_contribution,
    decode_customer_record,
    encode_contribution,
    encode_customer_record,
    writer_schema_of,
)
from hub.record_error import RecordError
from hub.wire.models import (
    decode_boundary_facts,
    decode_regional_change,
    decode_rejection,
    decode_tick,
    encode_boundary_facts,
    encode_dead_letter,
    encode_regional_change,
    encode_rejection,
    encode_tick,
)
from hub.wire.state import decode_offer_entry, encode_offer_entry

__all__ = [
    "DecodeError",
    "DecodeReason",
    "RecordError",
    "decode_boundary_facts",
    "decode_contribution",
    "decode_customer_record",
    "decode_offer_entry",
    "decode_regional_change",
    "decode_rejection",
    "decode_tick",
    "encode_boundary_facts",
    "encode_contribution",
    "encode_customer_record",
    "encode_dead_letter",
    "encode_offer_entry",
    "encode_regional_change",
    "encode_rejection",
    "encode_tick",
    "writer_schema_of",
]
