"""What a server on 127.0.0.1 starts from: its listening socket, its per-launch token and the
secret of its focus route.

Kept apart from the HTTP layer so that a launch binds its port and makes its token before any web
framework is imported.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading

from desktop import env


def make_token(environ: dict[str, str] | None = None) -> str:
    """The env var fixes the token for automation; otherwise 32 random bytes per launch."""
    source = os.environ if environ is None else environ
    return source.get(env.TOKEN) or secrets.token_urlsafe(32)


_focus_secrets: dict[str, str] = {}
_focus_lock = threading.Lock()


def focus_secret(token: str) -> str:
    """The secret a second launch reads from disk to ask for the window: random, one per token
    for the life of the process (the launch publishes it, its server checks it). Independent of
    the token, so the file tells nothing about it, however guessable a token automation fixed."""
    with _focus_lock:
        return _focus_secrets.setdefault(token, secrets.token_urlsafe(32))


def bind_loopback(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1 only.

    The protocol must be IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted
    connections only when it is, and without it every keep-alive response and streamed event
    can wait 40 ms on Nagle's algorithm and delayed ACKs.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock
