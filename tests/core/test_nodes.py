from __future__ import annotations

import threading

import pytest
from core_nodes import CollectOutlet, ListInlet
from databay import Inlet, Outlet, Record


def test_inlet_is_abstract() -> None:
    with pytest.raises(TypeError):
        Inlet()  # type: ignore[abstract]
    with pytest.raises(TypeError):
        Outlet()  # type: ignore[abstract]


def test_new_record_merges_global_then_local_metadata_and_names_the_inlet() -> None:
    inlet = ListInlet(metadata={"a": 1, "b": 2})
    record = inlet.new_record("x", {"b": 3, "c": 4})
    assert record.payload == "x"
    assert record.metadata == {"a": 1, "b": 3, "c": 4, "__inlet__": str(inlet)}
    assert inlet.metadata == {"a": 1, "b": 2}, "global metadata must not change"


def test_inlet_repr_and_metadata_property() -> None:
    inlet = ListInlet(metadata={"k": "v"})
    assert repr(inlet) == "ListInlet(metadata={'k': 'v'})"
    assert inlet.metadata == {"k": "v"}


def test_bad_inlet_metadata() -> None:
    with pytest.raises(TypeError, match=r"ListInlet\(metadata=...\) must be a dict, got str"):
        ListInlet(metadata="nope")  # type: ignore[arg-type]


def test_outlet_processors_must_be_callable() -> None:
    with pytest.raises(TypeError, match=r"processors\[1\] must be callable, got int"):
        CollectOutlet(processors=[lambda r: r, 5])
    assert repr(CollectOutlet()) == "CollectOutlet()"


def test_start_and_shutdown_run_once_per_transition() -> None:
    inlet = ListInlet()
    assert not inlet.active
    inlet.try_start()
    inlet.try_start()
    assert inlet.active and inlet.starts == 1
    inlet.try_shutdown()
    inlet.try_shutdown()
    assert not inlet.active and inlet.shutdowns == 1
    inlet.try_start()
    assert inlet.starts == 2


def test_concurrent_try_start_calls_on_start_once() -> None:
    inlet = ListInlet()
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        inlet.try_start()

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert inlet.starts == 1


def test_failed_on_start_leaves_the_node_inactive() -> None:
    class Broken(ListInlet):
        def on_start(self) -> None:
            raise RuntimeError("cannot open")

    inlet = Broken()
    with pytest.raises(RuntimeError, match="cannot open"):
        inlet.try_start()
    assert not inlet.active


def test_async_on_start_runs_on_the_shared_loop() -> None:
    import asyncio

    seen: list[object] = []

    class AsyncStart(ListInlet):
        async def on_start(self) -> None:  # type: ignore[override]
            seen.append(asyncio.get_running_loop())

    inlet = AsyncStart()
    inlet.try_start()
    assert inlet.active and len(seen) == 1


def test_subclass_without_super_init_still_works() -> None:
    class Lazy(Inlet):
        def __init__(self) -> None:
            pass

        def pull(self, update: object) -> int:
            return 1

    inlet = Lazy()
    assert inlet.metadata == {}
    assert inlet.new_record(1).metadata == {"__inlet__": "Lazy(metadata={})"}
    inlet.try_start()
    assert inlet.active
    assert Record(1) == inlet._to_records(Record(1))[0]
