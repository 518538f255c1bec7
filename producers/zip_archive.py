"""The members of a contributor's zip archive, read within bounds so a zip bomb cannot hurt.

A zip states each member's size and compressed size; a hostile one holds a member that inflates a
thousandfold (a 1 MiB archive of 1 GiB). `members` guarantees:

- the archive's stated total is checked before anything is inflated: above `TOTAL_BYTES_MAX`
  the whole archive is refused (`ArchiveRefused`);
- a member stated larger than `MEMBER_BYTES_MAX`, or inflating more than `COMPRESSION_RATIO_MAX`
  times its compressed size, is refused without being inflated;
- every member is inflated in chunks of `CHUNK_BYTES` and refused as soon as what was actually
  read passes its bound, so a member lying about its size is never held whole either;
- a refused or damaged member is yielded as a `Member` with a `refusal` naming the archive, the
  member and what to do, and the next members are still read.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

_MIB = 1024 * 1024

# A DATAtourisme object is a few KiB and a whole region's flux a few hundred MiB: 256 MiB for one
# member and 2 GiB for the archive leave ample room while keeping memory and time bounded.
MEMBER_BYTES_MAX = 256 * _MIB
TOTAL_BYTES_MAX = 2048 * _MIB
# JSON-LD deflates about 10:1; only a crafted member inflates more than 100 times. Below 1 MiB a
# member cannot hurt whatever its ratio (a file of blanks inflates a thousandfold), so the ratio
# is only held against larger ones.
COMPRESSION_RATIO_MAX = 100
RATIO_FLOOR_BYTES = _MIB
# What one read inflates at most: bounds the memory spent before a limit can be checked.
CHUNK_BYTES = _MIB


class ArchiveRefused(ValueError):
    """The archive as a whole cannot be read: it is not a zip, or states too much content."""


@dataclass(frozen=True)
class Limits:
    """The bounds `members` holds an archive to (the module's constants by default)."""

    member_bytes: int = MEMBER_BYTES_MAX
    total_bytes: int = TOTAL_BYTES_MAX
    compression_ratio: int = COMPRESSION_RATIO_MAX
    ratio_floor_bytes: int = RATIO_FLOOR_BYTES


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Member:
    """One member: its content, or why it was refused (then `content` is empty)."""

    name: str
    content: bytes = b""
    refusal: str | None = None
    inflated: int = 0  # bytes inflated to read it, counted against the archive's total if refused


def members(
    path: Path, wanted: Callable[[str], bool], limits: Limits = DEFAULT_LIMITS
) -> Iterator[Member]:
    """The archive's files whose name is `wanted`, in name order, each read within `limits`."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = sorted(
                (i for i in archive.infolist() if not i.is_dir() and wanted(i.filename)),
                key=lambda i: i.filename,
            )
            stated = sum(info.file_size for info in infos)
            if stated > limits.total_bytes:
                raise ArchiveRefused(
                    f"the zip archive {path} is refused: its members state "
                    f"{_mib(stated)} once inflated, more than the {_mib(limits.total_bytes)} "
                    "an import reads; split the export into several archives"
                )
            read = 0
            for info in infos:
                member = _member(archive, info, path, limits, limits.total_bytes - read)
                read += max(len(member.content), member.inflated)
                yield member
    except zipfile.BadZipFile as error:
        raise ArchiveRefused(f"cannot read the zip archive {path}: {error}") from error
    except OSError as error:
        raise ArchiveRefused(f"cannot read the zip archive {path}: {error}") from error


def _member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, limits: Limits, room: int
) -> Member:
    name = info.filename
    where = f"the member {name} of the zip archive {path}"
    bound = min(limits.member_bytes, room)
    if info.file_size > limits.member_bytes:
        return Member(
            name,
            refusal=f"{where} is refused: it states {_mib(info.file_size)} once inflated, more "
            f"than the {_mib(limits.member_bytes)} a member may hold; export it again or split it",
        )
    ratio = info.file_size / max(info.compress_size, 1)
    if info.file_size > limits.ratio_floor_bytes and ratio > limits.compression_ratio:
        return Member(
            name,
            refusal=f"{where} is refused: it inflates {ratio:.0f} times its compressed size, "
            f"more than the {limits.compression_ratio} times a real export does; it looks like a "
            "zip bomb: check where the archive comes from",
        )
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                size += len(chunk)
                if size > bound:
                    return Member(
                        name,
                        refusal=f"{where} is refused: it inflates to more than {_mib(bound)} "
                        "(more than it states); export the archive again",
                        inflated=size,
                    )
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as error:
        refusal = f"{where} cannot be read ({error}); export the archive again"
        return Member(name, refusal=refusal, inflated=size)
    return Member(name, b"".join(chunks))


def _mib(size: int) -> str:
    return f"{size / _MIB:.1f} MiB" if size < 1024 * _MIB else f"{size / (1024 * _MIB):.1f} GiB"
