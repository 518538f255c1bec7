"""Fetches Apache Kafka's jars from Maven Central with `mvn`, once, into a cache folder.

The cache is `<cache_dir>/kafka-<version>/libs`; a marker file written last makes a half-finished
download invisible, so an interrupted fetch is simply redone. Once the marker exists no Maven
command runs at all.
"""

from __future__ import annotations

import importlib.resources
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hub.broker.errors import BrokerError

KAFKA_VERSION = "3.9.1"
_MARKER = ".complete"

INSTALL_HINT = (
    "install it (Debian: `apt-get install openjdk-17-jre-headless maven`), "
    "or run the broker with Docker instead: `docker compose up kafka`"
)


@dataclass(frozen=True)
class JarCache:
    """Where the jars are, and whether this call had to download them."""

    libs: Path
    downloaded: bool
    seconds: float


def kafka_libs_dir(cache_dir: Path, version: str = KAFKA_VERSION) -> Path:
    return cache_dir / f"kafka-{version}" / "libs"


def ensure_kafka_jars(cache_dir: Path, version: str = KAFKA_VERSION) -> JarCache:
    """Return the folder of Kafka's jars, downloading them with Maven only if not cached."""
    libs = kafka_libs_dir(cache_dir, version)
    if (libs / _MARKER).exists():
        return JarCache(libs=libs, downloaded=False, seconds=0.0)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            f"Maven (`mvn`) is needed once to fetch Apache Kafka {version} into {libs}, "
            f"and it is not on PATH: {INSTALL_HINT}"
        )
    started = time.monotonic()
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=libs.parent, prefix="download-") as work:
        pom = Path(work) / "pom.xml"
        pom.write_bytes(importlib.resources.files("hub.broker").joinpath("pom.xml").read_bytes())
        staged = Path(work) / "libs"
        result = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                f"-Dkafka.version={version}",
                f"-DoutputDirectory={staged}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0 or not any(staged.glob(f"kafka_2.13-{version}.jar")):
            detail = (result.stdout + result.stderr).strip()[-2000:]
            raise BrokerError(
                f"Maven could not fetch Apache Kafka {version} (exit {result.returncode}). "
                f"Check that Maven Central is reachable. Maven said:\n{detail}"
            )
        (staged / _MARKER).write_text(f"kafka {version}\n")
        if libs.exists():
            shutil.rmtree(libs)
        staged.rename(libs)
    return JarCache(libs=libs, downloaded=True, seconds=time.monotonic() - started)
