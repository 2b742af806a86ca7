"""databay.delivery.CommitsCheckpoints: an outlet that writes the link's cursors with
its own write; when the link hands them over and when it falls back to push + commit."""

from __future__ import annotations

from typing import Any

from databay import Link, Record, Update
from databay.delivery import CommitsCheckpoints, MemoryStateStore, StateStore
from databay.inlet import Inlet
from databay.outlet import Outlet


class Counting(Inlet):
    def __init__(self) -> None:
        super().__init__()
        self.position = 0

    def pull(self, update: Update) -> list[int]:
        self.position += 2
        return [self.position - 1, self.position]

    @property
    def cursor(self) -> Any:
        return self.position

    def seek(self, cursor: Any) -> None:
        self.position = cursor or 0


class Store(MemoryStateStore):
    def __init__(self) -> None:
        super().__init__()
        self.sets: list[tuple[str, Any]] = []

    def set(self, key: str, value: Any) -> None:
        self.sets.append((key, value))
        super().set(key, value)


class Together(Outlet):
    """Writes records and cursors "in one transaction": here, one list append."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.writes: list[tuple[list[Any], dict[str, Any] | None]] = []
        self.fail = fail

    def commits_checkpoints(self, store: StateStore) -> bool:
        return isinstance(store, Store)

    def push_committing(self, records: list[Record], update: Update, store: StateStore,
                        cursors: dict[str, Any]) -> None:
        if self.fail:
            raise ValueError("refused")
        self.writes.append(([r.payload for r in records], dict(cursors)))
        for key, value in cursors.items():
            MemoryStateStore.set(store, key, value)  # type: ignore[arg-type]

    def push(self, records: list[Record], update: Update) -> None:
        self.writes.append(([r.payload for r in records], None))


class Plain(Outlet):
    def push(self, records: list[Record], update: Update) -> None:
        pass


def test_the_outlet_gets_the_cursors_and_the_link_does_not_commit_them() -> None:
    assert isinstance(Together(), CommitsCheckpoints)
    store, outlet = Store(), Together()
    link = Link([Counting()], [outlet], interval=1, tags="t", state_store=store)
    assert link.transfer().committed
    assert link.transfer().committed
    assert outlet.writes == [([1, 2], {"t/0:Counting": 2}), ([3, 4], {"t/0:Counting": 4})]
    assert store.sets == [] and store.get("t/0:Counting") == 4


def test_two_outlets_another_store_or_groupers_push_then_commit() -> None:
    for link_kwargs in ({"outlets": [Together(), Plain()], "store": Store()},
                        {"outlets": [Together()], "store": MemoryStateStore()},
                        {"outlets": [Together()], "store": Store(),
                         "groupers": [lambda batches: batches]}):
        store = link_kwargs["store"]
        outlet = link_kwargs["outlets"][0]  # type: ignore[index]
        link = Link([Counting()], link_kwargs["outlets"], interval=1, tags="t",  # type: ignore[arg-type]
                    state_store=store, groupers=link_kwargs.get("groupers"))  # type: ignore[arg-type]
        assert link.transfer().committed
        assert outlet.writes == [([1, 2], None)]
        assert store.get("t/0:Counting") == 2


def test_a_refused_atomic_push_commits_nothing() -> None:
    store, outlet = Store(), Together(fail=True)
    link = Link([Counting()], [outlet], interval=1, tags="t", state_store=store,
                ignore_exceptions=True)
    result = link.transfer()
    assert not result.committed and result.undelivered == {outlet: 2}
    assert store.sets == [] and store.get("t/0:Counting") is None
