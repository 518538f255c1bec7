"""What both record mappings share: the error they raise and the wire's price bounds.

`RecordError` is the one error contract of the bytes↔model path: `field_path` names the offending
value (``payload.fields.prices.lines[1].minimum``), `message` says what is wrong, `record_id` names
the event when the record has one. Prices travel as Avro's ``decimal(12, 2)``, so a price fits when
it is finite, below 10^10 and has two decimal places at most.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

__all__ = ["PRICE_LIMIT", "PRICE_PRECISION", "PRICE_QUANTUM", "PRICE_SCALE", "RecordError"]

PRICE_PRECISION: Final = 12
PRICE_SCALE: Final = 2
PRICE_QUANTUM: Final = Decimal(1).scaleb(-PRICE_SCALE)
PRICE_LIMIT: Final = Decimal(10) ** (PRICE_PRECISION - PRICE_SCALE)


class RecordError(ValueError):
    """A record that does not fit the model: `field_path` names where, `message` says what to do."""

    def __init__(self, field_path: str, message: str, *, record_id: str | None = None) -> None:
        self.field_path = field_path
        self.message = message
        self.record_id = record_id
        where = f"{field_path}: " if field_path else ""
        prefix = f"event {record_id}: " if record_id else ""
        super().__init__(f"{prefix}{where}{message}")
