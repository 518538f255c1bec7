"""The store contract on `InMemoryStore`."""

from __future__ import annotations

import pytest

from hub.store import InMemoryStore, RegionalStore
from tests.contract.store_contract import RegionalStoreContract


class TestInMemoryStore(RegionalStoreContract):
    @pytest.fixture
    def store(self) -> RegionalStore:
        return InMemoryStore()
