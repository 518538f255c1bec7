"""How fast the model <-> record conversion (`hub.records`) and the Avro codec (`hub.codec`) run.

Two records, both from `tests.support.examples`: the rich contribution (every field group set, six
languages, a private block) and a `RegionalChange` of the same offer. For each it prints
records/s of the whole write path (model to Avro shape, then the single-object message: what the
publisher and the collection processor do) and of the whole read path (message to Avro shape, then
the model: what the processor and the store projector do), then each half alone, so the share of
fastavro itself shows. Also the JSON-lines shape of the contribution, both ways. Each figure is
the best of R rounds of N records (defaults 3,000 and 5), in CPU time (other load on the machine
disturbs it less than wall time); every result is checked against the example first, so a fast
wrong answer cannot pass. Prints only; needs no broker.

Then the read path's mapping (Avro shape to model) by the two well-kept libraries the issue
named, side by side on the same shapes: `hub.msgspec_records` (what the hub runs: msgspec's
`convert`, strict, plus the payload union and the checks beyond types), msgspec's `convert` alone,
and pydantic v2 (`TypeAdapter` over the same dataclasses; lax, since its strict mode refuses a
dict for a dataclass, so it would coerce where the hub must refuse). Contribution's payload is a
union of several dataclasses: pydantic takes it once Avro's (record name, record) pair is
unwrapped; msgspec's `convert` alone refuses such unions, so it is timed on `RegionalChange` only.

Last, the read path against fastavro alone on the same bytes: decode + model over decode to the
Avro shape (the issue's target: 0.7 or more).

Usage: `python -m bench.records [--records N] [--rounds R]`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from hub import codec
from hub.core.contribution import Contribution
from hub.core.regional import RegionalChange
from hub.records import (
    contribution_from_avro,
    contribution_from_json,
    contribution_to_avro,
    contribution_to_json,
    from_avro_record,
    to_avro_record,
)
from hub.wire import decode_regional_change, encode_regional_change
from tests.support import examples


@dataclass(frozen=True)
class Operation:
    label: str
    run: Callable[[], object]


def operations() -> list[Operation]:
    """Every timed operation, each already checked to give back the example it started from."""
    contribution = examples.rich_creation()
    change = examples.regional_change()
    message = codec.encode_contribution(contribution)
    change_message = encode_regional_change(change)
    shape = contribution_to_avro(contribution)
    change_shape = to_avro_record(change)
    read = codec.decode("Contribution", message)
    change_read = codec.decode("RegionalChange", change_message)
    line = json.loads(json.dumps(contribution_to_json(contribution)))
    assert codec.decode_contribution(message) == contribution
    assert decode_regional_change(change_message) == change
    assert contribution_from_json(line) == contribution
    return [
        Operation(
            "Contribution  to_avro + encode", lambda: codec.encode_contribution(contribution)
        ),
        Operation("Contribution  decode + from_avro", lambda: codec.decode_contribution(message)),
        Operation("Contribution  to_avro", lambda: contribution_to_avro(contribution)),
        Operation("Contribution  encode (Avro shape)", lambda: codec.encode("Contribution", shape)),
        Operation(
            "Contribution  decode (Avro shape)", lambda: codec.decode("Contribution", message)
        ),
        Operation("Contribution  from_avro", lambda: contribution_from_avro(read)),
        Operation("Contribution  to_json", lambda: contribution_to_json(contribution)),
        Operation("Contribution  from_json", lambda: contribution_from_json(line)),
        Operation("RegionalChange to_avro + encode", lambda: encode_regional_change(change)),
        Operation(
            "RegionalChange decode + from_avro", lambda: decode_regional_change(change_message)
        ),
        Operation("RegionalChange to_avro", lambda: to_avro_record(change)),
        Operation(
            "RegionalChange encode (Avro shape)",
            lambda: codec.encode("RegionalChange", change_shape),
        ),
        Operation(
            "RegionalChange from_avro", lambda: from_avro_record(RegionalChange, change_read)
        ),
    ]


def library_operations() -> list[Operation]:
    """The read path's mapping by msgspec and pydantic, each checked against the example."""
    import msgspec
    import pydantic

    contribution = examples.rich_creation()
    change = examples.regional_change()
    shape = codec.decode("RegionalChange", encode_regional_change(change))
    contribution_shape = codec.decode("Contribution", codec.encode_contribution(contribution))
    changes = pydantic.TypeAdapter(RegionalChange)
    contributions = pydantic.TypeAdapter(Contribution)

    def pydantic_contribution() -> Contribution:
        _, payload = contribution_shape["payload"]  # Avro's (record name, record) of the union
        return contributions.validate_python({**contribution_shape, "payload": payload})

    assert from_avro_record(RegionalChange, shape) == change
    assert msgspec.convert(shape, RegionalChange, strict=True) == change
    assert changes.validate_python(shape) == change
    assert pydantic_contribution() == contribution
    return [
        Operation(
            "RegionalChange msgspec_records", lambda: from_avro_record(RegionalChange, shape)
        ),
        Operation(
            "RegionalChange msgspec.convert",
            lambda: msgspec.convert(shape, RegionalChange, strict=True),
        ),
        Operation("RegionalChange pydantic", lambda: changes.validate_python(shape)),
        Operation(
            "Contribution  msgspec_records", lambda: contribution_from_avro(contribution_shape)
        ),
        Operation("Contribution  pydantic", pydantic_contribution),
    ]


def rate(run: Callable[[], object], count: int, rounds: int) -> float:
    """Records per CPU second of `run`, the best of `rounds` rounds of `count` calls."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(count):
            run()
        best = min(best, time.process_time() - started)
    return count / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"best of {args.rounds} rounds of {args.records:,} records")
    for operation in operations():
        per_second = rate(operation.run, args.records, args.rounds)
        print(f"{operation.label:<36} {per_second:>10,.0f} records/s {1e6 / per_second:>8.1f} µs")
    print("\nAvro shape -> model, by library (side by side, same shapes):")
    first: dict[str, float] = {}
    for operation in library_operations():
        per_second = rate(operation.run, args.records, args.rounds)
        record = operation.label.split()[0]
        ratio = per_second / first.setdefault(record, per_second)
        print(
            f"{operation.label:<36} {per_second:>10,.0f} records/s {1e6 / per_second:>8.1f} µs"
            f"  {ratio:4.2f}x msgspec_records"
        )
    print("\nRead path against fastavro alone on the same bytes:")
    for record, decode_to_model in (
        ("Contribution", codec.decode_contribution),
        ("RegionalChange", decode_regional_change),
    ):
        message = _message(record)
        whole = rate(partial(decode_to_model, message), args.records, args.rounds)
        alone = rate(partial(codec.decode, record, message), args.records, args.rounds)
        print(
            f"{record:<15} decode + model {1e6 / whole:7.1f} µs, fastavro alone "
            f"{1e6 / alone:7.1f} µs: {whole / alone:4.2f}x"
        )


def _message(record: str) -> bytes:
    if record == "Contribution":
        return codec.encode_contribution(examples.rich_creation())
    return encode_regional_change(examples.regional_change())


if __name__ == "__main__":
    main()
