"""A ZeroMQ address on loopback for a ``RunManager`` that must not touch the network."""

from __future__ import annotations

import socket


def loopback_url(host: str = "127.0.0.1") -> str:
    """Return a ZeroMQ URL on a currently free TCP port of the loopback interface.

    Pass it as ``RunManager(url=...)``: by default adaptive-scheduler calls
    ``get_allowed_url()``, which binds the database manager to the address that the
    host name resolves to. That address is reachable from the network, and it does not
    exist at all inside a network namespace that only has loopback.

    Parameters
    ----------
    host
        Loopback address to bind, ``127.0.0.1`` by default.

    Returns
    -------
    str
        A URL such as ``tcp://127.0.0.1:45123``.

    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    return f"tcp://{host}:{port}"
