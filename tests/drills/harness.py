"""Real processes for the drills: gunicorn app servers, ``respondr worker`` processes,
and a throwaway PostgreSQL and Redis that a drill may stop and start at will.

Every process is started here and stopped here, by its own handle; its output goes to a
log file in the run's folder, printed when a process does not come up.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import gunicorn
import pytest
import requests
from flask import Flask
from huey.storage import RedisStorage

from respondr import PROJECT_ROOT, create_app, tasks

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check: Callable[[], object], *, timeout: float, what: str) -> object:
    """Poll ``check`` until it returns something true; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (requests.RequestException, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@dataclass
class Process:
    """One child process, its log file, and how to stop it."""

    name: str
    popen: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no cleanup, as when a machine dies."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def spawn(name: str, argv: list[str], *, env: dict[str, str], folder: Path) -> Process:
    log = folder / f"{name}.log"
    handle = log.open("ab")
    popen = subprocess.Popen(
        argv, env=env, cwd=PROJECT_ROOT, stdout=handle, stderr=subprocess.STDOUT
    )
    handle.close()
    return Process(name, popen, log)


@dataclass
class AppServer:
    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    """App servers and workers sharing one database, one Redis, one SECRET_KEY and one
    instance folder, as several hosts behind a load balancer would."""

    database_url: str
    redis_url: str
    folder: Path
    secret_key: str = "drill-shared-secret-key"
    processes: list[Process] = field(default_factory=list)

    @property
    def instance(self) -> Path:
        return self.folder / "instance"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESPONDR_TEST_")}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            SECRET_KEY=self.secret_key,
            RESPONDR_INSTANCE=str(self.instance),
        )
        return env

    def start_server(self, name: str) -> AppServer:
        """``gunicorn 'respondr:create_app()'``, the deployment the README describes."""
        port = free_port()
        argv = [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            "respondr:create_app()",
        ]
        if gunicorn.version_info >= (27,):  # one control socket per server, not ~/.gunicorn's
            argv[-1:-1] = ["--control-socket", str(self.folder / f"{name}.ctl")]
        process = spawn(name, argv, env=self.env(), folder=self.folder)
        self.processes.append(process)
        server = AppServer(process, port)

        def up() -> bool:
            if process.popen.poll() is not None:
                pytest.fail(f"{name} exited:\n{_tail(process.log)}")
            return requests.get(f"{server.url}/healthz", timeout=5).status_code == 200

        wait_for(up, timeout=60, what=f"{name} to answer /healthz")
        return server

    def start_worker(self, name: str = "worker") -> Process:
        argv = [str(BIN / "respondr"), "worker", "--workers", "2"]
        process = spawn(name, argv, env=self.env(), folder=self.folder)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    @contextmanager
    def queue(self) -> Iterator[None]:
        """Point this test process's task queue at the stack's Redis for a moment (to
        enqueue the publishing sweep now instead of at the top of the next minute)."""
        previous = tasks.huey.storage
        tasks.huey.storage = RedisStorage("respondr", url=self.redis_url)
        try:
            yield
        finally:
            tasks.huey.storage = previous


def inspection_app(stack: Stack) -> Flask:
    """An app in this test process on the stack's database, for reading what happened.
    Its task queue stays local (no REDIS_URL), so it never feeds the stack's workers."""
    previous = tasks.huey.storage
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": stack.database_url,
            "INSTANCE_PATH": str(stack.folder / "inspection"),
            "SECRET_KEY": stack.secret_key,
            "REDIS_URL": None,
        }
    )
    tasks.huey.storage = previous  # create_app rebinds it; other tests keep theirs
    return app


def require(what: str) -> None:
    """Skip for a missing program, or fail when CI says PostgreSQL drills are mandatory."""
    message = f"fault drills need {what}"
    if os.environ.get("RESPONDR_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


def postgres_bin() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    require("PostgreSQL's initdb and pg_ctl (apt-get install postgresql)")
    raise AssertionError  # unreachable: require() skips or fails


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own (initdb in a temporary folder, its own port).

    initdb refuses to run as root, so as root the cluster belongs to the ``postgres``
    user and every server command runs as that user.
    """

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="respondr-drill-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            self.as_owner = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, program: str, *args: str) -> None:
        argv = [*self.as_owner, str(self.bin / program), *args]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}\n{_tail(self.log)}")

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c max_connections=60"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as in a failover or a restart."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class ThrowawayRedis:
    """``redis-server`` on a port of its own, nothing saved to disk."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            require("redis-server (apt-get install redis-server)")
        self.binary = str(binary)
        self.folder = folder
        self.port = free_port()
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.folder)]
        self.process = spawn("redis", argv, env=dict(os.environ), folder=self.folder)

        def up() -> bool:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        wait_for(up, timeout=20, what="redis-server to answer PING")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
