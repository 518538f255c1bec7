"""How every Kafka client of the hub authenticates: protocol, SASL mechanism, user, password
file and CA file, from `Settings` (hence the environment), as aiokafka's keyword arguments.

Guarantees: a client built with `client_options()` authenticates as the settings say, or its
construction fails with a `SettingsError` naming the variable or file to fix (a missing or
unreadable password file, one that others may read, an unknown protocol); the password is read
from its file when a client is built, never from the environment or a command line, and appears
in no repr, log or error. The local broker (`hub.broker`) listens with SASL/SCRAM-SHA-512 only,
so its clients default to its administrator's credentials under `SITN_HOME/kafka/credentials`;
a broker named by `KAFKA_BOOTSTRAP_SERVERS` is reached as `SITN_KAFKA_SECURITY_PROTOCOL` says.
"""

from __future__ import annotations

import os
import ssl
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from hub.settings import Settings, SettingsError

__all__ = [
    "MECHANISMS",
    "PROTOCOLS",
    "KafkaSecurity",
    "client_options",
    "private_folder",
    "read_secret",
    "write_secret",
]

PROTOCOLS: Final = ("PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL")
MECHANISMS: Final = ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN")


@dataclass(frozen=True)
class KafkaSecurity:
    """One client's way in: what `Settings` says, with the password read from its file."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> KafkaSecurity:
        protocol = settings.kafka_security_protocol
        if protocol not in PROTOCOLS:
            raise SettingsError(
                f"SITN_KAFKA_SECURITY_PROTOCOL={protocol!r} is not one of {', '.join(PROTOCOLS)}"
            )
        if not protocol.startswith("SASL"):
            return cls(protocol=protocol, ca_file=settings.kafka_ca_file)
        mechanism = settings.kafka_sasl_mechanism
        if mechanism not in MECHANISMS:
            raise SettingsError(
                f"SITN_KAFKA_SASL_MECHANISM={mechanism!r} is not one of {', '.join(MECHANISMS)}"
            )
        if not settings.kafka_user or settings.kafka_password_file is None:
            raise SettingsError(
                f"{protocol} needs a user and a password file: set SITN_KAFKA_USER and "
                "SITN_KAFKA_PASSWORD_FILE (a file holding only the password, mode 600)"
            )
        return cls(
            protocol=protocol,
            mechanism=mechanism,
            user=settings.kafka_user,
            password=read_secret(settings.kafka_password_file, "SITN_KAFKA_PASSWORD_FILE"),
            ca_file=settings.kafka_ca_file,
        )

    def options(self) -> dict[str, Any]:
        """aiokafka's keyword arguments for this way in (any client: producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol.endswith("SSL"):
            options["ssl_context"] = ssl.create_default_context(
                cafile=None if self.ca_file is None else str(self.ca_file)
            )
        if self.protocol.startswith("SASL"):
            options["sasl_mechanism"] = self.mechanism
            options["sasl_plain_username"] = self.user
            options["sasl_plain_password"] = self.password
        return options


def client_options(settings: Settings | None = None) -> dict[str, Any]:
    """The security keyword arguments of a client built now (`Settings.from_env()` by default)."""
    return KafkaSecurity.from_settings(settings or Settings.from_env()).options()


def read_secret(path: Path, variable: str) -> str:
    """A password file's content (one line, no newline), refused when others may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SettingsError(
            f"{variable}: cannot read the password file {path} ({error.strerror}); "
            "start the local broker (`sitn kafka start`) or point the variable at the file"
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SettingsError(
            f"{variable}: the password file {path} may be read by others (mode "
            f"{stat.S_IMODE(mode):o}); run `chmod 600 {path}`"
        )
    secret = text.strip()
    if not secret:
        raise SettingsError(f"{variable}: the password file {path} is empty")
    return secret


def write_secret(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by its owner only (mode 600), whatever mode
    an older file had."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def private_folder(path: Path) -> Path:
    """`path` as a folder only its owner may open (mode 700), made if missing."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path
