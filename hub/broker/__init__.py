"""The local Apache Kafka broker the project owns (single KRaft node on 127.0.0.1).

`maven` fetches the jars from Maven Central once into a cache; `process` formats storage, starts,
probes, stops and reports on the broker. Users with Docker can run the same broker from
`docker-compose.yml` instead.
"""

from hub.broker.errors import BrokerError
from hub.broker.maven import KAFKA_VERSION, ensure_kafka_jars
from hub.broker.process import BrokerStatus, LocalBroker, StartOutcome

__all__ = [
    "KAFKA_VERSION",
    "BrokerError",
    "BrokerStatus",
    "LocalBroker",
    "StartOutcome",
    "ensure_kafka_jars",
]
