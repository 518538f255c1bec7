"""Wrong operator keys per client: a fixed window of failures, on a clock the tests move."""

from __future__ import annotations

from hub.dashboard.throttle import LoginThrottle


class Ticks:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_a_client_may_fail_as_often_as_allowed_then_waits_until_its_window_closes() -> None:
    ticks = Ticks()
    throttle = LoginThrottle(3, 60.0, clock=ticks)

    for _ in range(3):
        assert throttle.wait("203.0.113.9") is None
        throttle.failed("203.0.113.9")
    ticks.now += 20.5

    assert throttle.wait("203.0.113.9") == 40
    assert throttle.wait("198.51.100.4") is None
    ticks.now += 39.5
    assert throttle.wait("203.0.113.9") is None


def test_the_right_key_forgets_a_clients_failures() -> None:
    throttle = LoginThrottle(2, 60.0, clock=Ticks())
    throttle.failed("203.0.113.9")
    throttle.succeeded("203.0.113.9")
    throttle.failed("203.0.113.9")

    assert throttle.wait("203.0.113.9") is None


def test_the_number_of_clients_kept_is_bounded_and_the_oldest_window_goes_first() -> None:
    ticks = Ticks()
    throttle = LoginThrottle(1, 60.0, clock=ticks, max_clients=2)
    for client in ("first", "second", "third"):
        throttle.failed(client)
        ticks.now += 1

    assert throttle.wait("first") is None
    assert throttle.wait("second") is not None
    assert throttle.wait("third") is not None
