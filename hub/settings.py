"""Runtime settings, read once from environment variables by the command line.

The same variable names are used by the local setup, the tests and `docker-compose.yml`
(a test checks the compose file against `ENVIRONMENT_VARIABLES`). Nothing reads the environment
at import time: callers build a `Settings` with `Settings.from_env()` and pass it down.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, TypeAlias

DEFAULT_KAFKA_PORT = 9092
DEFAULT_BATCH_MS = 50
DEFAULT_MAX_BODY = 1024 * 1024
# The local broker's administrator (its only super user besides the controller's own).
LOCAL_ADMIN = "sitn-admin"


def credentials_dir(home: Path) -> Path:
    """Where the local broker and `sitn access sync` keep passwords (one file per login)."""
    return home / "kafka" / "credentials"


DEFAULT_CONTROLLER_PORT = 9093

# Every variable the hub reads, with what it means; `sitn --help` and the README list them too.
ENVIRONMENT_VARIABLES: Mapping[str, str] = {
    "KAFKA_BOOTSTRAP_SERVERS": "Kafka bootstrap servers (default: the local broker on 127.0.0.1)",
    "SITN_DATABASE_URL": "SQLAlchemy URL of the regional store (default: SQLite under SITN_HOME)",
    "SITN_HOME": "folder for local runtime state: broker data, logs, SQLite store (default: the "
    "project's .sitn when run from a source checkout, whatever the working directory; else "
    "~/.local/state/sitn)",
    "SITN_CACHE_DIR": "folder where the Kafka jars are cached (default ~/.cache/sitn)",
    "SITN_KAFKA_PORT": f"client port of the local broker (default {DEFAULT_KAFKA_PORT})",
    "SITN_KAFKA_CONTROLLER_PORT": f"KRaft controller port (default {DEFAULT_CONTROLLER_PORT})",
    "SITN_KAFKA_HEAP": "maximum Java heap of the local broker (default 512m)",
    "SITN_COLLECTION_DEADLINE": "seconds a contribution to an offer not created yet waits for "
    "the creation before it is refused offer.unknown (default 604800: 7 days)",
    "SITN_BATCH_MS": f"how long the store and diffusion stages gather records before writing a "
    f"batch, in ms (default {DEFAULT_BATCH_MS}; a batch also closes at its size limit)",
    "SITN_LOG_LEVEL": "level of the stages' logs: DEBUG, INFO (default), WARNING or ERROR",
    "SITN_WEBHOOK_ALLOW": "comma-separated addresses, networks (CIDR) or host names webhooks may "
    "reach although they are loopback, link-local, private or the hub's own (default: none)",
    "SITN_OPERATOR_KEY": "key operators enter to open the dashboard, and send to read the API's "
    "/docs, /openapi.json and /metrics (default: one kept in SITN_HOME/operator-key)",
    "SITN_API_PUBLIC_DOCS": "1: the API's /docs and /openapi.json need no key (default 0: the "
    "operator key)",
    "SITN_API_PUBLIC_METRICS": "1: the API's /metrics needs no key (default 0: the operator key)",
    "SITN_API_MAX_BODY": f"largest request body the API reads, in bytes (default "
    f"{DEFAULT_MAX_BODY}); a larger one is refused 413",
    "SITN_KAFKA_SECURITY_PROTOCOL": "how clients reach Kafka: PLAINTEXT, SASL_PLAINTEXT, SASL_SSL "
    "or SSL (default: SASL_PLAINTEXT for the local broker, PLAINTEXT for another one)",
    "SITN_KAFKA_SASL_MECHANISM": "SASL mechanism: SCRAM-SHA-512 (default), SCRAM-SHA-256 or PLAIN",
    "SITN_KAFKA_USER": f"the Kafka principal clients authenticate as (default {LOCAL_ADMIN}, the "
    "local broker's administrator)",
    "SITN_KAFKA_PASSWORD_FILE": "file holding that principal's password, mode 600 (default: "
    "SITN_HOME/kafka/credentials/<user>.password, written by `sitn kafka start`)",
    "SITN_KAFKA_CA_FILE": "CA certificate (PEM) that signed the brokers' certificates, for "
    "SASL_SSL and SSL (default: the system's trust store)",
}

WEBHOOK_ALLOW_VARIABLE: Final = "SITN_WEBHOOK_ALLOW"

# One entry of SITN_WEBHOOK_ALLOW: a network (a single address is a /32 or /128) or a host name,
# lower case, without a trailing dot.
AllowEntry: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network | str

_HOST_NAME: Final = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")


class SettingsError(ValueError):
    """An environment variable holds a value the hub cannot use."""


def _port(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a port number; use 1024-65535") from None
    if not 1024 <= port <= 65535:
        raise SettingsError(f"{name}={raw!r} is out of range; use 1024-65535")
    return port


def _home(environ: Mapping[str, str]) -> tuple[Path, str]:
    """The state folder, and why it is that one.

    Without SITN_HOME, a hub run from a source checkout (as `make run` runs it) keeps its state
    in the project's `.sitn`, whatever the working directory: `sitn status` from another folder
    then shows the same hub instead of a new empty one. An installed hub uses a per-user folder.
    """
    if raw := environ.get("SITN_HOME"):
        return Path(raw).expanduser(), "SITN_HOME"
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "hub" / "settings.py").is_file():
        return checkout / ".sitn", "the project's folder, as SITN_HOME is not set"
    state = environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state).expanduser() / "sitn", "the per-user folder, as SITN_HOME is not set"


def _batch_ms(environ: Mapping[str, str]) -> int:
    raw = environ.get("SITN_BATCH_MS")
    if raw is None or raw == "":
        return DEFAULT_BATCH_MS
    try:
        window = int(raw)
    except ValueError:
        window = 0
    if not 1 <= window <= 10_000:
        raise SettingsError(
            f"SITN_BATCH_MS={raw!r} is not a whole number of milliseconds between 1 and 10000; "
            f"use for instance {DEFAULT_BATCH_MS}"
        )
    return window


def _deadline_ms(environ: Mapping[str, str]) -> int:
    raw = environ.get("SITN_COLLECTION_DEADLINE")
    if raw is None or raw == "":
        return 7 * 86_400_000
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 366 * 86_400:
        raise SettingsError(
            f"SITN_COLLECTION_DEADLINE={raw!r} is not a number of seconds between 0 and a year; "
            "use for instance 604800 for 7 days"
        )
    return int(seconds * 1000)


def parse_webhook_allow(raw: str) -> tuple[AllowEntry, ...]:
    """The entries of a SITN_WEBHOOK_ALLOW value; `SettingsError` naming the first bad one."""
    entries: list[AllowEntry] = []
    for item in raw.split(","):
        text = item.strip().lower()
        if not text:
            continue
        bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        try:
            entries.append(ipaddress.ip_network(bare, strict=False))
            continue
        except ValueError:
            pass
        name = text.rstrip(".")
        if len(name) > 253 or not _HOST_NAME.fullmatch(name) or name.replace(".", "").isdigit():
            raise SettingsError(
                f"{WEBHOOK_ALLOW_VARIABLE}: {item.strip()!r} is neither an address, a network nor "
                "a host name; give for instance 127.0.0.1, 10.20.0.0/16, ::1 or "
                "hooks.intranet.example, separated by commas"
            )
        entries.append(name)
    return tuple(entries)


def _flag(environ: Mapping[str, str], name: str) -> bool:
    raw = environ.get(name, "")
    if raw in ("", "0"):
        return False
    if raw == "1":
        return True
    raise SettingsError(f"{name}={raw!r} is neither 0 nor 1; use 1 to turn it on, 0 (or unset) off")


def _max_body(environ: Mapping[str, str]) -> int:
    raw = environ.get("SITN_API_MAX_BODY")
    if raw is None or raw == "":
        return DEFAULT_MAX_BODY
    if not raw.isdigit() or not 1 <= int(raw) <= 1 << 30:
        raise SettingsError(
            f"SITN_API_MAX_BODY={raw!r} is not a number of bytes between 1 and 1073741824; use "
            f"for instance {DEFAULT_MAX_BODY} (1 MiB)"
        )
    return int(raw)


@dataclass(frozen=True)
class Settings:
    """Where the hub finds Kafka and its store, and where it keeps local state."""

    home: Path
    cache_dir: Path
    kafka_port: int
    controller_port: int
    kafka_heap: str
    bootstrap_override: str | None
    database_url_override: str | None = field(repr=False)  # it may hold a password
    # The operators' dashboard key (`hub.dashboard.access`): never part of a logged repr.
    operator_key_override: str | None = field(default=None, repr=False)
    collection_deadline_ms: int = 7 * 86_400_000
    # How long the store and diffusion stages gather a batch before writing it (they close it
    # sooner once full): the latency a quiet hub adds, whatever its backlog.
    batch_ms: int = DEFAULT_BATCH_MS
    home_origin: str = "SITN_HOME"  # why `home` is where it is, for `sitn status` to say
    # Receivers webhooks may reach although their address is not a public one
    # (`consumers.webhooks.destinations`).
    webhook_allow: tuple[AllowEntry, ...] = ()
    api_public_docs: bool = False
    api_public_metrics: bool = False
    api_max_body: int = DEFAULT_MAX_BODY
    # How clients authenticate (`hub.kafka_security`); the password stays in its file.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_user: str = LOCAL_ADMIN
    kafka_password_file: Path | None = None
    kafka_ca_file: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        home, home_origin = _home(env)
        cache = Path(env.get("SITN_CACHE_DIR") or Path.home() / ".cache" / "sitn").expanduser()
        kafka_port = _port(env, "SITN_KAFKA_PORT", DEFAULT_KAFKA_PORT)
        controller_port = _port(env, "SITN_KAFKA_CONTROLLER_PORT", DEFAULT_CONTROLLER_PORT)
        if kafka_port == controller_port:
            raise SettingsError(
                f"SITN_KAFKA_PORT and SITN_KAFKA_CONTROLLER_PORT are both {kafka_port}; "
                "the broker needs two different ports"
            )
        bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS") or None
        user = env.get("SITN_KAFKA_USER") or LOCAL_ADMIN
        password_file = env.get("SITN_KAFKA_PASSWORD_FILE")
        ca_file = env.get("SITN_KAFKA_CA_FILE")
        return cls(
            # The local broker (also when named, as `sitn kafka start` prints it) only takes
            # SASL; another broker is assumed plain until told otherwise.
            kafka_security_protocol=env.get("SITN_KAFKA_SECURITY_PROTOCOL")
            or (
                "SASL_PLAINTEXT" if bootstrap in (None, f"127.0.0.1:{kafka_port}") else "PLAINTEXT"
            ),
            kafka_sasl_mechanism=env.get("SITN_KAFKA_SASL_MECHANISM") or "SCRAM-SHA-512",
            kafka_user=user,
            kafka_password_file=Path(password_file).expanduser()
            if password_file
            else credentials_dir(home.absolute()) / f"{user}.password",
            kafka_ca_file=Path(ca_file).expanduser() if ca_file else None,
            home=home.absolute(),
            home_origin=home_origin,
            cache_dir=cache.absolute(),
            kafka_port=kafka_port,
            controller_port=controller_port,
            kafka_heap=env.get("SITN_KAFKA_HEAP") or "512m",
            bootstrap_override=bootstrap,
            database_url_override=env.get("SITN_DATABASE_URL") or None,
            operator_key_override=env.get("SITN_OPERATOR_KEY") or None,
            collection_deadline_ms=_deadline_ms(env),
            batch_ms=_batch_ms(env),
            webhook_allow=parse_webhook_allow(env.get(WEBHOOK_ALLOW_VARIABLE, "")),
            api_public_docs=_flag(env, "SITN_API_PUBLIC_DOCS"),
            api_public_metrics=_flag(env, "SITN_API_PUBLIC_METRICS"),
            api_max_body=_max_body(env),
        )

    @property
    def bootstrap_servers(self) -> str:
        """The brokers to connect to: the override if set, else the local broker."""
        return self.bootstrap_override or f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        """The regional store: the override if set, else an SQLite file under `home`."""
        return self.database_url_override or f"sqlite:///{self.home / 'store.db'}"
