"""The one error type of the local broker: its message tells the operator what to do."""


class BrokerError(RuntimeError):
    """The local broker could not be fetched, started, probed or stopped."""
