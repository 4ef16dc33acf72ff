"""A real Shardopt cluster for the tests: a coordinator and workers started with ./shardopt.

The servers bind 127.0.0.1 on ports the OS picks and are stopped (SIGTERM, then SIGKILL) by
stop(). With SHARDOPT_COORDINATOR=HOST:PORT the tests use that cluster instead, connecting with
the TLS files that SHARDOPT_TEST_TLS_CA, SHARDOPT_TEST_TLS_CERT and SHARDOPT_TEST_TLS_KEY name (when
set) and the package's own token default, SHARDOPT_TOKEN. SHARDOPT_LAUNCHER overrides the launcher (default: the repository's ./shardopt, which
builds the servers on first use).
"""

from __future__ import annotations

import atexit
import os
import re
import signal
import subprocess
import tempfile
import time
from typing import List, Optional, Sequence

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LAUNCHER = os.environ.get("SHARDOPT_LAUNCHER") or os.path.join(REPO, "shardopt")
SERVING = re.compile(r"serving on ([0-9.]+:[0-9]+)")


class LocalCluster:
    """``workers`` worker processes and a coordinator started with ``coordinator_args`` (e.g. a
    short --failure-timeout-ms); ``processes[0]`` is the coordinator, ``processes[1 + i]`` worker i."""

    def __init__(self, workers: int = 2, start_timeout: float = 600.0, coordinator_args: Sequence[str] = ()) -> None:
        self.logs = tempfile.mkdtemp(prefix="shardopt-pytest-")
        self.processes: List[subprocess.Popen] = []
        try:
            self.coordinator = self._start("coordinator", ["coordinator", "--host", "127.0.0.1", "--port", "0"]
                                           + list(coordinator_args), start_timeout)
            self.workers = [self._start("worker%d" % i, ["worker", "--host", "127.0.0.1", "--port", "0",
                                                         "--coordinator", self.coordinator], 120.0)
                            for i in range(workers)]
        except BaseException:
            self.stop()
            raise

    def _start(self, name: str, args: List[str], timeout: float) -> str:
        log = os.path.join(self.logs, name + ".log")
        with open(log, "wb") as out:
            p = subprocess.Popen([LAUNCHER] + args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(p)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(log, "r", errors="replace") as f:
                m = SERVING.search(f.read())
            if m:
                return m.group(1)
            if p.poll() is not None:
                raise RuntimeError("%s exited (%d) before serving; log %s:\n%s" % (name, p.returncode, log, _tail(log)))
            time.sleep(0.1)
        raise RuntimeError("%s did not log 'serving on' within %.0f s; log %s:\n%s" % (name, timeout, log, _tail(log)))

    def kill_worker(self, i: int) -> int:
        """kill -9 of worker ``i`` (its process group: the launcher's JVM); its exit status."""
        p = self.processes[1 + i]
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        return p.wait(timeout=10)

    def log(self, name: str) -> str:
        """The output so far of "coordinator" or "worker<i>"."""
        with open(os.path.join(self.logs, name + ".log"), "r", errors="replace") as f:
            return f.read()

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        self.processes = []


def _tail(path: str, lines: int = 30) -> str:
    with open(path, "r", errors="replace") as f:
        return "".join(f.readlines()[-lines:])


class ExistingCluster:
    """A cluster someone else runs (SHARDOPT_COORDINATOR=HOST:PORT), e.g. the cross-language check's."""

    def __init__(self, coordinator: str) -> None:
        self.coordinator = coordinator

    def stop(self) -> None:
        pass


_shared = None


def connect_options() -> dict:
    """The TLS keyword arguments of shardopt.connect for the cluster of SHARDOPT_COORDINATOR."""
    return {k: os.environ.get("SHARDOPT_TEST_" + k.upper()) for k in ("tls_ca", "tls_cert", "tls_key")}


def shared():
    """One cluster for the whole test run: SHARDOPT_COORDINATOR's when set, else a LocalCluster
    started on first use and stopped at exit."""
    global _shared
    if _shared is None:
        if os.environ.get("SHARDOPT_COORDINATOR"):
            _shared = ExistingCluster(os.environ["SHARDOPT_COORDINATOR"])
        else:
            _shared = LocalCluster()
            atexit.register(_shared.stop)
    return _shared
