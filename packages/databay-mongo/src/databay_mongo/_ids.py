"""ObjectIds for the documents MongoOutlet inserts, made a block at a time.

The outlet gives each document its ``_id`` before the first write attempt, so that a
retry after a lost reply recognises the documents the server already has. Making them
in blocks (one lock, one clock read per push) also costs far less CPU than pymongo's
one ``ObjectId()`` per document. The layout is the ObjectId specification's: 4 bytes of
seconds, 5 random bytes of this process (its own, distinct from ``bson``'s, renewed after
a fork), 3 bytes of a counter that starts at a random value.
"""

from __future__ import annotations

import os
import threading
import time

from bson import ObjectId

__all__ = ["take_ids"]

_MASK = 0xFFFFFF
_lock = threading.Lock()
_pid = -1
_random = b""
_counter = 0


def take_ids(count: int) -> list[ObjectId]:
    """``count`` new, unique ObjectIds, in increasing order."""
    global _pid, _random, _counter
    with _lock:
        pid = os.getpid()
        if pid != _pid:
            _pid, _random = pid, os.urandom(5)
            _counter = int.from_bytes(os.urandom(3), "big")
        start = _counter
        _counter = (start + count) & _MASK
        prefix = (int(time.time()) & 0xFFFFFFFF).to_bytes(4, "big") + _random
    return [ObjectId(prefix + ((start + k) & _MASK).to_bytes(3, "big")) for k in range(count)]
