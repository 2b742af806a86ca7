"""``--http [HOST:]PORT``, parsed without importing the server."""

from __future__ import annotations

__all__ = ["parse_address"]


def parse_address(text: str) -> tuple[str, int]:
    """``"PORT"``, ``"HOST:PORT"`` or ``"[IPv6]:PORT"`` -> ``(host, port)``; the host is
    127.0.0.1 unless given. ValueError naming the expected forms otherwise."""
    forms = "expected PORT, HOST:PORT or [IPv6]:PORT, e.g. 8000 or 0.0.0.0:8000"
    value = str(text).strip()
    host = "127.0.0.1"
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or value[end + 1:end + 2] != ":":
            raise ValueError(f"--http {text!r}: {forms}")
        host, value = value[1:end], value[end + 2:]
    elif ":" in value:
        host, _, value = value.rpartition(":")
        host = host or "127.0.0.1"
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"--http {text!r}: the port must be a number; {forms}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"--http {text!r}: the port must be 0-65535 (0: any free port)")
    return host, port
