"""Whether a server front can listen where it is asked to, said in one line before anything starts.

The CLI checks this before it connects to the stores (a bad `--port` should not wait for MLflow), and
the fronts check again when they start (a port can be taken in between); uvicorn would otherwise
log a traceback and exit.
"""

from __future__ import annotations

import socket

from registry.errors import BadInput, Unreachable

LOOPBACK = "127.0.0.1"  # where MCP over HTTP listens: a local assistant, never the network


def check_listen(what: str, host: str, port: int) -> None:
    """BadInput for a port out of range; Unreachable when the address is taken or not ours."""
    if not 1 <= port <= 65535:
        raise BadInput(f"--port {port}: give a port between 1 and 65535")
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.bind((host, port))
    except OSError as exc:
        message = f"{what}: cannot listen on {host}:{port} ({exc.strerror}); choose another --port"
        raise Unreachable(message) from exc
    finally:
        probe.close()
