"""Who holds a claimed job or workflow run: ``host:pid:token`` of a server process, and whether
such a process is known to be gone (so another can take its work over)."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket


def new_identity() -> str:
    """This process's identity for its claims (the token tells it from an earlier process that
    had the same pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def is_gone(identity: str) -> bool:
    """Whether the process named by ``identity`` (``host:pid:token``) is known to be gone: it ran
    on this host and its pid is no longer alive (or is now ours: an earlier process's)."""
    host, _, rest = identity.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    # A zombie (killed, not yet reaped by its parent) is gone too.
    with contextlib.suppress(OSError, IndexError), open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[-1].split()[0] == "Z"
    return False
