"""A throw-away PostgreSQL server for the test session, from Debian's packages.

`PostgresServer` owns one cluster in a fresh temporary folder: `initdb` with trust authentication,
a server on a free loopback port whose unix socket stays inside that folder, and `pg_ctl stop -m
fast` at the end. It guarantees it never touches the machine's own clusters (no `pg_ctlcluster`,
no default port or socket). PostgreSQL refuses to run as root, so when the tests run as root
every server command runs as the `postgres` system user through `runuser`. This is test
tooling, not part of the hub: the hub only ever receives a database URL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

SERVER_USER = "postgres"  # the system user Debian's package creates
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
START_TIMEOUT_SECONDS = 60

# Durability is pointless for a cluster deleted at the end of the session; speed is not.
_TEST_SETTINGS = (
    "listen_addresses = '127.0.0.1'",
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 50",
)


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's server programs are missing or the server would not start."""


def find_server_bin() -> Path:
    """The folder holding `initdb` and `pg_ctl`: from PATH, else Debian's newest version."""
    on_path = shutil.which("initdb")
    if on_path is not None and shutil.which("pg_ctl") is not None:
        return Path(on_path).resolve().parent
    candidates = [Path(d) for d in glob.glob(DEBIAN_BIN_GLOB) if (Path(d) / "initdb").is_file()]
    if candidates:
        # "/usr/lib/postgresql/15/bin": the version is the folder two levels up.
        return max(candidates, key=lambda d: _version_key(d.parent.name))
    raise PostgresUnavailable(
        "PostgreSQL's initdb was found neither on PATH nor in "
        f"{DEBIAN_BIN_GLOB}; install Debian's postgresql package (`bash .ci/system-deps` "
        "does it) or set SITN_TEST_POSTGRES_URL to a database the tests may use"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One disposable cluster; `start()`, `create_database()`, then `stop()` (idempotent)."""

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir if bin_dir is not None else find_server_bin()
        self.port = _free_port()
        self.root: Path | None = None
        self._as_root = os.geteuid() == 0
        self._running = False

    @property
    def data_dir(self) -> Path:
        return self._root() / "data"

    @property
    def log_file(self) -> Path:
        return self._root() / "server.log"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of `database` on this server (psycopg 3 driver, trust auth)."""
        return f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Creates the cluster and starts the server; returns once it accepts connections."""
        self.root = Path(tempfile.mkdtemp(prefix="sitn-postgres-"))
        if self._as_root:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data_dir),
            "--username",
            SERVER_USER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        settings = (
            *_TEST_SETTINGS,
            f"port = {self.port}",
            f"unix_socket_directories = '{self._root()}'",
        )
        # The conf file belongs to the server user; appending keeps its owner.
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# sitn test session\n" + "\n".join(settings) + "\n")
        self._run(
            "pg_ctl",
            "start",
            "--pgdata",
            str(self.data_dir),
            "--log",
            str(self.log_file),
            "--wait",
            "--timeout",
            str(START_TIMEOUT_SECONDS),
        )
        self._running = True

    def create_database(self, name: str) -> str:
        """Creates database `name` and returns its SQLAlchemy URL."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=SERVER_USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def stop(self) -> None:
        """Stops the server (fast mode) and deletes its folder."""
        if self.root is None:
            return
        try:
            if self._running:
                self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "-m", "fast", "--wait")
                self._running = False
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _root(self) -> Path:
        if self.root is None:
            raise PostgresUnavailable("the test PostgreSQL server has not been started")
        return self.root

    def _run(self, program: str, *args: str) -> None:
        argv = [str(self.bin_dir / program), *args]
        if self._as_root:
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        # cwd: the server user may not be allowed into the caller's working directory.
        result = subprocess.run(argv, cwd=self._root(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = ""
            if self.log_file.exists():
                log = "\nserver log:\n" + self.log_file.read_text(encoding="utf-8")[-2000:]
            raise PostgresUnavailable(
                f"{program} failed (exit {result.returncode}): {' '.join(argv)}\n"
                f"{result.stdout}{result.stderr}{log}"
            )
