"""Helpers shared by the benchmark scripts: servers as subprocesses, wrk, tables.

Everything binds to 127.0.0.1 on free ports and lives in temporary directories; servers are
started in their own process group and stopped (then killed) on exit, also on Ctrl-C/SIGTERM.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent  # the venv's bin/: sqlgate, datasette


def tool(name: str) -> str:
    """Path of a console script in this venv (or on PATH)."""
    local = BIN / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        sys.exit(f"error: `{name}` not found; see bench/README.md")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _raise_system_exit(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so ``finally`` blocks stop the servers."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_system_exit)


# --- servers -----------------------------------------------------------------------------------

_RUNNING: list[Server] = []


class Server:
    """A server subprocess in its own session, its output in a log file."""

    def __init__(
        self, name: str, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
    ):
        self.name = name
        self.log = log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            list(argv),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        _RUNNING.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        self._log_file.flush()
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._log_file.close()
        if self in _RUNNING:
            _RUNNING.remove(self)


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


# --- sqlgate -----------------------------------------------------------------------------------

SQLGATE_ENV = {"SQLGATE_RATE_LIMIT_ENABLED": "false"}


def sqlgate_cli(data_dir: Path, *args: str) -> str:
    result = subprocess.run(
        [tool("sqlgate"), *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, **SQLGATE_ENV},
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"sqlgate {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def start_sqlgate(
    data_dir: Path,
    connections: dict[str, tuple[str, Path]],
    log: Path,
    env: dict[str, str] | None = None,
    workers: int | str = 1,
    extra_args: Sequence[str] = (),
) -> tuple[Server, str, str]:
    """Initialise ``data_dir``, register ``connections`` (name -> (type, path)), serve.

    Returns the server, its base URL and an owner API key.
    """
    key = json.loads(sqlgate_cli(data_dir, "init", "--json"))["api_key"]
    for name, (kind, path) in connections.items():
        sqlgate_cli(data_dir, "connections", "add", name, "--type", kind, "--database", str(path))
    port = free_port()
    server = Server(
        "sqlgate" + "".join(f" {a}" for a in extra_args),
        [
            tool("sqlgate"),
            "serve",
            "--host",
            HOST,
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--workers",
            str(workers),
            *extra_args,
        ],
        log,
        env={**SQLGATE_ENV, **(env or {})},
    )
    base = f"http://{HOST}:{port}"
    server.wait_ready(f"{base}/healthz")
    return server, base, key


# --- wrk ---------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int  # non-2xx responses plus socket errors
    #: Server CPU (user + system, all its threads and child processes) per request, in ms:
    #: what a request costs, less swayed than req/s by other work on the machine.
    cpu_ms: float | None = None


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` and its descendants (Linux's
    /proc; None elsewhere, or when a process went away while being read)."""
    ticks = 0
    todo = [pid]
    try:
        while todo:
            process = todo.pop()
            stat = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(stat[11]) + int(stat[12])  # utime, stime
            for task in Path(f"/proc/{process}/task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
    except (OSError, ValueError, IndexError):
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds(pid: int) -> dict[int, float]:
    """CPU seconds so far of each child process of ``pid`` (with its own descendants)."""
    children: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            children += [int(child) for child in (task / "children").read_text().split()]
    except (OSError, ValueError):
        return {}
    found = {child: cpu_seconds(child) for child in children}
    return {child: seconds for child, seconds in found.items() if seconds is not None}


def run_wrk(
    url: str,
    *,
    threads: int,
    connections: int,
    duration: int,
    script: Path | None = None,
    pid: int | None = None,
) -> WrkResult:
    """One wrk run; with ``pid`` (the server's), also the server's CPU per request."""
    argv = [tool("wrk"), f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    if script is not None:
        argv += ["-s", str(script)]
    cpu_before = cpu_seconds(pid) if pid is not None else None
    out = subprocess.run(
        [*argv, url], capture_output=True, text=True, check=True, timeout=duration + 60
    ).stdout
    cpu_after = cpu_seconds(pid) if pid is not None else None
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    total = re.search(r"^\s+(\d+) requests in", out, re.MULTILINE)
    if not (rps and total and "50" in percentiles and "99" in percentiles):
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        bad += sum(int(n) for n in errors.groups())
    requests = int(total.group(1))
    cpu_ms = None
    if cpu_before is not None and cpu_after is not None and requests:
        cpu_ms = (cpu_after - cpu_before) * 1000 / requests
    return WrkResult(
        rps=float(rps.group(1)),
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        requests=requests,
        bad=bad,
        cpu_ms=cpu_ms,
    )


def lua_post_script(path: Path, body: dict[str, Any], headers: dict[str, str]) -> Path:
    """A wrk script sending ``body`` as a JSON POST with ``headers``."""
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{json.dumps(body)}]==]"]
    lines.append('wrk.headers["Content-Type"] = "application/json"')
    lines += [f'wrk.headers["{k}"] = [==[{v}]==]' for k, v in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- reporting ---------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table (pastes straight into docs/benchmarks.md)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def versions(*packages: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [f"python {platform.python_version()}"]
    for name in packages:
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, load avg {load}"


def source_state() -> str:
    """The commit benchmarked, and which source files differ from it (read-only git calls)."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("diff", "--name-only", "HEAD", "--", "src").split()
    changed += git("ls-files", "--others", "--exclude-standard", "--", "src").split()
    if not changed:
        return commit
    shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    return f"{commit} + uncommitted changes in {shown}"


def finish(report: Any, json_path: Path | None, failures: Sequence[str]) -> int:
    """End a benchmark: write ``report`` as JSON if asked, print each failed check, and give
    the exit status (1 when a check failed)."""
    if json_path:
        json_path.write_text(json.dumps(report, indent=2))
    for failure in failures:
        print(f"CHECK FAILED: {failure}")
    return 1 if failures else 0
