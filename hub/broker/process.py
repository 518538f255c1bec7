"""Starts, probes, stops and reports on the local single-node KRaft broker.

Guarantees: `start` on a running broker is a no-op; a pid file whose process is gone (or is not
our broker) is treated as stale and replaced; `start` returns only after a real client round-trip
succeeded, and a broker that dies or never gets ready is stopped and reported with its log's tail;
`stop` ends the whole process group (escalating to SIGKILL after a grace period), so no java
process is left. Everything the broker writes lives under `<home>/kafka`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.resources
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hub.broker.errors import BrokerError
from hub.broker.maven import INSTALL_HINT, JarCache, ensure_kafka_jars
from hub.broker.probe import round_trip
from hub.kafka_security import KafkaSecurity, private_folder, read_secret, write_secret
from hub.settings import LOCAL_ADMIN, credentials_dir

HOST = "127.0.0.1"
CONTROLLER_USER = "sitn-controller"
_PLAIN_LISTENERS = {"listener.security.protocol.map": "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT"}
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class BrokerStatus:
    running: bool
    pid: int | None
    bootstrap: str
    home: Path
    log_path: Path


@dataclass(frozen=True)
class StartOutcome:
    already_running: bool
    pid: int
    jars: JarCache | None
    ready_seconds: float


class LocalBroker:
    """One broker instance, identified by its home folder and its two ports."""

    def __init__(
        self,
        *,
        home: Path,
        cache_dir: Path,
        port: int,
        controller_port: int,
        heap: str = "512m",
        secured: bool = True,
    ) -> None:
        self.root = home / "kafka"
        self.cache_dir = cache_dir
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        # False only to measure what authentication costs (bench.hub_throughput --plaintext).
        self.secured = secured
        self.config_path = self.root / "server.properties"
        self.data_dir = self.root / "data"
        self.log_path = self.root / "broker.log"
        self.pid_path = self.root / "broker.pid"
        self.credentials_dir = credentials_dir(home)

    @property
    def admin_password_file(self) -> Path:
        """The administrator's password (mode 600), written before the storage is formatted."""
        return self.credentials_dir / f"{LOCAL_ADMIN}.password"

    def admin_security(self) -> KafkaSecurity:
        """How to reach this broker as its administrator (the probe and `sitn kafka` do)."""
        if not self.secured:
            return KafkaSecurity()
        return KafkaSecurity(
            protocol="SASL_PLAINTEXT",
            mechanism="SCRAM-SHA-512",
            user=LOCAL_ADMIN,
            password=read_secret(self.admin_password_file, "the local broker's admin password"),
        )

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    # ------------------------------------------------------------------ status

    def running_pid(self) -> int | None:
        """The pid of our broker if it is alive; a stale pid file is removed."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            self.pid_path.unlink(missing_ok=True)
            return None
        if _is_our_broker(pid, self.config_path):
            return pid
        self.pid_path.unlink(missing_ok=True)
        return None

    def status(self) -> BrokerStatus:
        pid = self.running_pid()
        return BrokerStatus(
            running=pid is not None,
            pid=pid,
            bootstrap=self.bootstrap,
            home=self.root,
            log_path=self.log_path,
        )

    def tail_log(self, lines: int = 40) -> list[str]:
        try:
            with self.log_path.open(errors="replace") as log:
                return list(deque((line.rstrip("\n") for line in log), maxlen=lines))
        except FileNotFoundError:
            return []

    # ------------------------------------------------------------------- start

    def start(self, *, timeout: float = 120.0, progress: Progress = _quiet) -> StartOutcome:
        pid = self.running_pid()
        if pid is not None:
            progress(f"Kafka is already running on {self.bootstrap} (pid {pid})")
            return StartOutcome(already_running=True, pid=pid, jars=None, ready_seconds=0.0)
        java = shutil.which("java")
        if java is None:
            raise BrokerError(f"Java 17 (`java`) is needed to run the local broker: {INSTALL_HINT}")
        for port in (self.port, self.controller_port):
            if _port_in_use(port):
                raise BrokerError(
                    f"port {port} on {HOST} is already in use by another process; stop it or "
                    "choose other ports with SITN_KAFKA_PORT / SITN_KAFKA_CONTROLLER_PORT"
                )
        jars = ensure_kafka_jars(self.cache_dir)
        if jars.downloaded:
            progress(f"fetched Apache Kafka with Maven in {jars.seconds:.1f}s into {jars.libs}")
        self.root.mkdir(parents=True, exist_ok=True)
        formatted = (self.data_dir / "meta.properties").exists()
        if self.secured and formatted and not self.admin_password_file.exists():
            raise BrokerError(
                f"the broker's data in {self.data_dir} was made before the local broker required "
                "authentication, and its administrator can only be created with new storage; "
                f"stop the hub and remove {self.root} (its topics go with it), then start again"
            )
        admin, controller = self._credentials()
        self._write_config(admin, controller)
        if not formatted:
            self._format(java, jars.libs, admin)
        started = time.monotonic()
        pid = self._spawn(java, jars.libs)
        progress(f"Kafka starting on {self.bootstrap} (pid {pid}); waiting for a round-trip")
        self._wait_ready(pid, started + timeout)
        ready = time.monotonic() - started
        progress(f"Kafka ready on {self.bootstrap} in {ready:.1f}s")
        return StartOutcome(already_running=False, pid=pid, jars=jars, ready_seconds=ready)

    def _credentials(self) -> tuple[str, str]:
        """The administrator's and the controller's passwords, made once (mode 600)."""
        private_folder(self.credentials_dir)
        passwords = []
        for path in (self.admin_password_file, self.credentials_dir / "controller.password"):
            if not path.exists():
                write_secret(path, secrets.token_urlsafe(24) + "\n")
            passwords.append(read_secret(path, str(path)))
        return passwords[0], passwords[1]

    def _write_config(self, admin: str, controller: str) -> None:
        log4j = self.root / "log4j.properties"
        log4j.write_bytes(
            importlib.resources.files("hub.broker").joinpath("log4j.properties").read_bytes()
        )
        lines = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{HOST}:{self.controller_port}",
            **(self._secured_listeners(admin, controller) if self.secured else _PLAIN_LISTENERS),
            "listeners": f"CLIENT://{HOST}:{self.port},CONTROLLER://{HOST}:{self.controller_port}",
            "advertised.listeners": f"CLIENT://{HOST}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "CLIENT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            # A single node: every internal topic must live with one replica (architecture §8).
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            # Consumers of a fresh group should not wait 3s for peers that never come.
            "group.initial.rebalance.delay.ms": "0",
            # Our topics are created on purpose (hub.kafka_clients.ensure_topics), never by typo.
            "auto.create.topics.enable": "false",
        }
        # It holds the passwords of the broker's own logins: readable by its owner only.
        write_secret(self.config_path, "".join(f"{key}={value}\n" for key, value in lines.items()))

    @staticmethod
    def _secured_listeners(admin: str, controller: str) -> dict[str, str]:
        scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
        plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
        return {
            "listener.security.protocol.map": "CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
            # Clients and the broker itself authenticate with SCRAM, whose credentials live in
            # the metadata log; the controller cannot read that log before it authenticates, so
            # it uses PLAIN with one static user (KIP-900).
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.client.scram-sha-512.sasl.jaas.config": (
                f'{scram} required username="{LOCAL_ADMIN}" password="{admin}";'
            ),
            "sasl.mechanism.controller.protocol": "PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.controller.plain.sasl.jaas.config": (
                f'{plain} required username="{CONTROLLER_USER}" password="{controller}" '
                f'user_{CONTROLLER_USER}="{controller}";'
            ),
            # Nothing is allowed that an ACL does not allow; only the administrator and the
            # controller bypass ACLs (`sitn access sync` writes everyone else's).
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{LOCAL_ADMIN};User:{CONTROLLER_USER}",
        }

    def _classpath_command(self, java: str, libs: Path) -> list[str]:
        return [
            java,
            f"-Xmx{self.heap}",
            f"-Dlog4j.configuration=file:{self.root / 'log4j.properties'}",
            "-cp",
            f"{libs}/*",
        ]

    def _format(self, java: str, libs: Path, admin: str) -> None:
        cluster_id = new_cluster_id()
        # The administrator's SCRAM credential, in the metadata from its first record.
        scram = ["--add-scram", f"SCRAM-SHA-512=[name={LOCAL_ADMIN},password={admin}]"]
        if not self.secured:
            scram = []
        command = self._classpath_command(java, libs)
        arguments = [
            *command[1:],
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(self.config_path),
            "--ignore-formatted",
            *scram,
        ]
        # The password must not show in the process list: the launcher reads the arguments from
        # a file only its owner can read (`java @file`), removed once the tool is done.
        argfile = self.credentials_dir / "format.args"
        write_secret(argfile, "\n".join(_java_quoted(argument) for argument in arguments))
        try:
            result = subprocess.run(
                [java, f"@{argfile}"], capture_output=True, text=True, check=False
            )
        finally:
            argfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise BrokerError(
                f"formatting KRaft storage in {self.data_dir} failed "
                f"(exit {result.returncode}):\n{(result.stdout + result.stderr).strip()[-2000:]}"
            )

    def _spawn(self, java: str, libs: Path) -> int:
        argv = [*self._classpath_command(java, libs), "kafka.Kafka", str(self.config_path)]
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # posix_spawn, not Popen: the broker outlives `sitn kafka start`, and a Popen object
            # that is never waited for warns when collected. setsid puts the broker in its own
            # process group so `stop` can signal java and anything it forks in one call.
            pid = os.posix_spawn(
                java,
                argv,
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log_fd, 1),
                    (os.POSIX_SPAWN_DUP2, log_fd, 2),
                ],
                setsid=True,
            )
        finally:
            os.close(log_fd)
        self.pid_path.write_text(f"{pid}\n")
        return pid

    def _wait_ready(self, pid: int, deadline: float) -> None:
        with _silenced("aiokafka"):
            self._probe_until(pid, deadline)

    def _probe_until(self, pid: int, deadline: float) -> None:
        last_error = "no attempt yet"
        while time.monotonic() < deadline:
            if not _alive(pid):
                self.pid_path.unlink(missing_ok=True)
                raise BrokerError(
                    f"the broker exited while starting; last lines of {self.log_path}:\n"
                    + "\n".join(self.tail_log(30))
                )
            try:
                asyncio.run(round_trip(self.bootstrap, self.admin_security(), seconds=10.0))
                return
            except Exception as error:
                last_error = f"{type(error).__name__}: {error}"
                time.sleep(0.5)
        self.stop()
        raise BrokerError(
            f"the broker did not answer a round-trip on {self.bootstrap} in time "
            f"(last error: {last_error}); see {self.log_path}"
        )

    # -------------------------------------------------------------------- stop

    def stop(self, *, timeout: float = 30.0) -> bool:
        """Stop the broker; return False if it was not running."""
        pid = self.running_pid()
        if pid is None:
            return False
        _signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid):
            _signal_group(pid, signal.SIGKILL)
            while _alive(pid):
                time.sleep(0.1)
        self.pid_path.unlink(missing_ok=True)
        return True


@contextlib.contextmanager
def _silenced(logger_name: str) -> Iterator[None]:
    # Refused connections are expected while the broker boots; the final error says enough.
    logger = logging.getLogger(logger_name)
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie; reaps it if it is our child."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass  # started by another `sitn` process: not ours to reap
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state letter follows the parenthesised command name; Z is a zombie, X is dead.
    return stat.rsplit(")", 1)[1].split()[0] not in {"Z", "X"}


def _is_our_broker(pid: int, config_path: Path) -> bool:
    if not _alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return b"kafka.Kafka" in argv and str(config_path).encode() in argv


def _java_quoted(argument: str) -> str:
    """One argument as the Java launcher's argument files read it (quoted, escapes doubled)."""
    return '"' + argument.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((HOST, port)) == 0


def new_cluster_id() -> str:
    """A random KRaft cluster id: 16 bytes in URL-safe base64, never starting with "-".

    The storage tool's argument parser would take an id starting with "-" for an option (1 run
    in 64 failed that way); Kafka's own `Uuid.randomUuid` redraws such ids for the same reason.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
