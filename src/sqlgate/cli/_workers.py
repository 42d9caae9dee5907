"""``sqlgate serve --workers N``: N server processes, each with its own listening socket.

On Linux each worker binds the address with ``SO_REUSEPORT``, so the kernel spreads new
connections over the workers' sockets (a hash of each connection's addresses), instead of all
workers accepting from one shared socket, where whichever process wakes first takes the
connection and one busy worker can end up holding most keep-alive connections while another
idles. Only processes of the same user may join the port's group.

The parent starts the workers, restarts one that dies, and on SIGINT/SIGTERM asks each to stop
(uvicorn's graceful shutdown: requests in flight finish, the audit log is flushed) and waits.
Elsewhere (no ``SO_REUSEPORT`` load balancing) uvicorn's own supervisor runs the workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

#: uvicorn's exit status for a worker that could not start (bad address, app failed to load).
_STARTUP_FAILURE = 3


def balanced() -> bool:
    """Whether the kernel balances connections over ``SO_REUSEPORT`` sockets here."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def auto_workers() -> int:
    """``--workers auto``: one process per CPU this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` in the port's ``SO_REUSEPORT`` group, listening."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(options: dict[str, Any]) -> None:
    """One worker process: its own socket, the app built from the SQLGATE_* environment."""
    import uvicorn

    try:
        sock = listening_socket(options["host"], options["port"])
    except OSError as exc:
        print(f"error: cannot listen on {options['host']}:{options['port']}: {exc}", flush=True)
        sys.exit(_STARTUP_FAILURE)
    config = uvicorn.Config("sqlgate.cli._serving:serving_app", factory=True, **options)
    uvicorn.Server(config).run(sockets=[sock])


def serve(workers: int, options: dict[str, Any]) -> int:
    """Run ``workers`` worker processes until SIGINT/SIGTERM; the exit status."""
    # Fail at once, in this process, if the address cannot be had (taken by another program).
    try:
        listening_socket(options["host"], options["port"]).close()
    except OSError as exc:
        print(
            f"error: cannot listen on {options['host']}:{options['port']}: {exc}", file=sys.stderr
        )
        return 1
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()

    def start() -> multiprocessing.process.BaseProcess:
        process = spawn.Process(target=_worker, args=(options,), name="sqlgate-worker")
        process.start()
        return process

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    processes = [start() for _ in range(workers)]
    status = 0
    try:
        while not stop.wait(0.5):
            for i, process in enumerate(processes):
                if process.is_alive():
                    continue
                if process.exitcode == _STARTUP_FAILURE:
                    status = 1
                    stop.set()
                    break
                processes[i] = start()  # a worker died: replace it
    finally:
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status
