"""A Spark standalone cluster on 127.0.0.1 (one master, N one-core workers) started from the pyspark installation,
for the cluster-submission test. Every process it starts runs in its own process group, and ``stop`` kills exactly
those groups (never a process it did not start), also when the test fails."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pyspark

SPARK_HOME = Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StandaloneCluster:
    def __init__(self, workdir: Path, n_workers: int = 2, worker_memory: str = "2g"):
        self.workdir, self.n_workers, self.worker_memory = workdir, n_workers, worker_memory
        ports: list[int] = []
        while len(ports) < 2 + n_workers:   # distinct: two processes told the same port would take port+1 silently
            port = free_port()
            if port not in ports:
                ports.append(port)
        self.port, self.ui_port, *self.worker_ui_ports = ports
        self.procs: list[subprocess.Popen] = []
        self.env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
                    "SPARK_LOG_DIR": str(workdir / "logs"), "SPARK_NO_DAEMONIZE": "1"}

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _start(self, name: str, *args: str) -> None:
        log = open(self.workdir / f"{name}.log", "wb")
        self.procs.append(subprocess.Popen([str(SPARK_HOME / "bin" / "spark-class"), *args], env=self.env,
                                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True))

    def state(self) -> dict:
        """The master's status; {} while its port answers with something else (another server took the port
        first: ``start`` then times out with the logs)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as r:
            try:
                return json.load(r)
            except ValueError:
                return {}

    def start(self, timeout_s: float = 90) -> "StandaloneCluster":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(self.port), "--webui-port", str(self.ui_port))
        for i, ui in enumerate(self.worker_ui_ports):
            self._start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", self.master_url, "--host", "127.0.0.1",
                        "--cores", "1", "--memory", self.worker_memory, "--webui-port", str(ui),
                        "--work-dir", str(self.workdir / f"work{i}"))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self.state().get("aliveworkers") == self.n_workers:
                    return self
            except OSError:
                pass
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.5)
        self.stop()
        logs = {p.name: p.read_text(errors="replace")[-2000:] for p in self.workdir.glob("*.log")}
        raise RuntimeError(f"standalone cluster did not come up with {self.n_workers} workers: {logs}")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def tasks_per_worker(event_log_dir: Path) -> dict[str, int]:
    """Tasks that ended successfully, per worker (its web UI port, read from the executor's log URLs), from the
    application's Spark event log."""
    executor_worker, counts = {}, {}
    for path in sorted(p for p in event_log_dir.rglob("events_*") if p.is_file()):  # Spark 4 rolls: eventlog_v2_*/events_*
        for line in path.read_text().splitlines():
            event = json.loads(line)
            kind = event.get("Event")
            if kind == "SparkListenerExecutorAdded":
                url = event["Executor Info"]["Log Urls"]["stdout"]          # http://127.0.0.1:<worker ui>/logPage...
                executor_worker[event["Executor ID"]] = url.split("//", 1)[1].split("/", 1)[0].split(":")[1]
            elif kind == "SparkListenerTaskEnd" and event["Task End Reason"]["Reason"] == "Success":
                worker = executor_worker.get(event["Task Info"]["Executor ID"], "?")
                counts[worker] = counts.get(worker, 0) + 1
    return counts
