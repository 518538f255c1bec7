"""`sitn kafka start|stop|status|logs`: the local single-node broker (see `hub.broker`)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from hub.broker import BrokerError, LocalBroker
from hub.cli.console import err, fail, out, settings
from hub.settings import LOCAL_ADMIN, SettingsError

app = typer.Typer(
    help="Run the local Apache Kafka broker (KRaft, 127.0.0.1, SASL/SCRAM logins and ACLs), "
    "fetched once with Maven.",
    no_args_is_help=True,
)


def local_broker() -> LocalBroker:
    config = settings()
    return LocalBroker(
        home=config.home,
        cache_dir=config.cache_dir,
        port=config.kafka_port,
        controller_port=config.controller_port,
        heap=config.kafka_heap,
    )


@app.command()
def start(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the broker to answer.")] = 120,
) -> None:
    """Start the broker (no-op if it already runs) and wait until a round-trip succeeds."""
    broker = local_broker()
    try:
        outcome = broker.start(timeout=timeout, progress=lambda line: err.print(line))
    except (BrokerError, SettingsError) as error:
        fail(str(error))
    if not outcome.already_running:
        # What a client of another program needs; the hub's own find it by themselves.
        out.print(f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap}")
        out.print("SITN_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT")
        out.print("SITN_KAFKA_SASL_MECHANISM=SCRAM-SHA-512")
        out.print(f"SITN_KAFKA_USER={LOCAL_ADMIN}")
        out.print(f"SITN_KAFKA_PASSWORD_FILE={broker.admin_password_file}")


@app.command()
def stop() -> None:
    """Stop the broker and wait until its java process has exited."""
    broker = local_broker()
    if broker.stop():
        out.print("Kafka stopped")
    else:
        out.print("Kafka was not running")


@app.command()
def status() -> None:
    """Say whether the broker runs, where it listens and where it logs (exit 1 if stopped)."""
    state = local_broker().status()
    if state.running:
        out.print(f"running  pid {state.pid}  bootstrap {state.bootstrap}")
    else:
        out.print(f"stopped  bootstrap {state.bootstrap}")
    out.print(f"data and config in {state.home}; log in {state.log_path}")
    if not state.running:
        raise typer.Exit(1)


@app.command()
def logs(
    lines: Annotated[int, typer.Option("--lines", "-n", help="How many last lines to show.")] = 50,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
) -> None:
    """Print the end of the broker's log file."""
    broker = local_broker()
    if not broker.log_path.exists():
        fail(
            f"no broker log at {broker.log_path}: the broker was never started with this SITN_HOME"
        )
    for line in broker.tail_log(lines):
        typer.echo(line)
    if follow:
        with broker.log_path.open(errors="replace") as log:
            log.seek(0, 2)
            while True:
                line = log.readline()
                if line:
                    typer.echo(line, nl=False)
                else:
                    time.sleep(0.5)
