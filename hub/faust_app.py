"""The faust-streaming application factory: faust carries bytes, our codec does the rest.

Every topic is declared with raw key and value serializers, so a record that cannot be decoded
never crashes an agent inside faust (DESIGN §8): agents receive bytes and decode them through
`hub` codecs, where failures can be dead-lettered. The processing guarantee is at-least-once with
idempotent effects, because faust's exactly-once mode has long-open bugs.
"""

from __future__ import annotations

from typing import Any

import faust


def make_app(app_id: str, bootstrap: str, **overrides: Any) -> faust.App:
    """A faust app on `bootstrap` with raw serializers, an in-memory table store, no web server."""
    options: dict[str, Any] = {
        "broker": f"kafka://{bootstrap}",
        "key_serializer": "raw",
        "value_serializer": "raw",
        "store": "memory://",
        "processing_guarantee": "at_least_once",
        "web_enabled": False,
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "producer_acks": -1,
        "consumer_auto_offset_reset": "earliest",
    }
    options.update(overrides)
    return faust.App(app_id, **options)


def raw_topic(app: faust.App, name: str) -> Any:
    """A topic of `app` that carries bytes both ways; it must already exist (we create ours)."""
    return app.topic(name, key_type=bytes, value_type=bytes, allow_empty=True)
