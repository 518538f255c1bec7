"""A third party with Apache Avro for Java and the `schemas/` files as they are reads the hub's
records: the golden fixtures of every record's current version decode with Java's
`BinaryMessageDecoder` (single-object encoding, writer fingerprint checked), to the same values."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from hub import codec
from hub.settings import Settings

JAVA = Path(__file__).resolve().parents[1] / "support" / "java"
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"


@pytest.fixture(scope="module")
def avro_jars() -> Path:
    """Apache Avro's jars, fetched with Maven once into the cache (as the broker's are)."""
    libs = Settings.from_env().cache_dir / "avro-java-1.12.2"
    if (libs / ".complete").exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None or shutil.which("java") is None:
        pytest.fail("Java and Maven are needed, as for the local broker: see README, Install")
    staged = libs.with_name(libs.name + ".download")
    shutil.rmtree(staged, ignore_errors=True)
    result = subprocess.run(
        [
            *(mvn, "-B", "-q", "-f", str(JAVA / "pom.xml"), "dependency:copy-dependencies"),
            *(f"-DoutputDirectory={staged}", "-DincludeScope=runtime"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (staged / ".complete").write_text("avro 1.12.2\n")
    shutil.rmtree(libs, ignore_errors=True)
    staged.rename(libs)
    return libs


@pytest.mark.parametrize("record_name", codec.RECORD_NAMES)
def test_java_reads_the_golden_records_of_each_current_schema_from_the_files_as_they_are(
    avro_jars: Path, record_name: str
) -> None:
    current = codec.current_schema(record_name)
    fixtures = sorted((GOLDEN / record_name / f"v{current.version}").glob("*.bin"))
    assert fixtures
    result = subprocess.run(
        [
            *("java", "-cp", f"{avro_jars}/*", str(JAVA / "ReadRecords.java"), str(SCHEMAS)),
            *(record_name, *map(str, fixtures)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(fixtures)
    for fixture, line in zip(fixtures, lines, strict=True):
        read = json.loads(line)
        ours = codec.decode(record_name, fixture.read_bytes())
        # Java prints logical types its own way; the plain fields must be the same values.
        plain = {k: v for k, v in ours.items() if isinstance(v, str | int | bool) or v is None}
        assert {k: read[k] for k in plain} == plain
