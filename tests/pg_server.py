"""A real PostgreSQL server in a temporary folder, for the shared-storage tests and bench.

Debian's `postgresql` package puts `initdb` and `pg_ctl` in /usr/lib/postgresql/N/bin/;
they refuse to run as root, so as root they run as the `postgres` user (`runuser`) on a
data folder that user owns. The server listens on 127.0.0.1 only, on a free port, with
trust authentication for local connections (a throw-away cluster that lives as long as
the test), and its socket in the same folder.

    with PostgresServer() as pg:
        url = pg.url  # postgresql+psycopg://postgres@127.0.0.1:PORT/postgres
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

# Where the Debian package puts the server programs, newest version first.
BIN_GLOB = "/usr/lib/postgresql/*/bin"


def find_bin() -> Path | None:
    """The folder holding `initdb` and `pg_ctl`, or None when PostgreSQL is absent."""
    found = [Path(p) for p in glob.glob(BIN_GLOB) if (Path(p) / "initdb").exists()]
    found.sort(key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
               reverse=True)
    if found:
        return found[0]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One throw-away PostgreSQL cluster: `start()`, `url`, `stop()`."""

    def __init__(self) -> None:
        self.bin = find_bin()
        if self.bin is None:
            raise FileNotFoundError("PostgreSQL's initdb and pg_ctl are not installed "
                                    "(apt-get install postgresql)")
        # Owned by postgres below: a folder the postgres user can reach (not under a
        # root-only 0700 pytest tmp), so a fresh one in /tmp.
        self.root = Path(tempfile.mkdtemp(prefix="modelyard-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        os.chmod(self.root, 0o755)
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        done = self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                         "--auth=trust", "-E", "UTF8", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                   f"-c unix_socket_directories={self.root} -c fsync=off "
                   "-c max_connections=200")
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                         "-l", str(self.root / "server.log"), "-w", "-t", "60", "start")
        if done.returncode:
            log = (self.root / "server.log")
            raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}\n"
                               f"{log.read_text() if log.exists() else ''}")
        self._wait()
        return self

    def _wait(self, seconds: float = 30.0) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not answer on port {self.port}")

    def stop(self) -> None:
        if self.data.exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                      "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# For a test module that needs the server: skipped, with the way to install it, only where
# PostgreSQL's programs are missing (`make test` installs them).
NEEDS_POSTGRES = pytest.mark.skipif(
    find_bin() is None, reason="PostgreSQL is not installed (initdb and pg_ctl missing): "
    "`apt-get install postgresql`, or `make test`, which installs it")
