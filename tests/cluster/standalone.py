"""A real Spark standalone cluster on 127.0.0.1, started from the pip-installed pyspark.

Workers run in their own working directory with a Python that has medspark's dependencies but
not medspark itself, so a job only works if the shipped package reaches them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pyspark

from tests.ports import LOOPBACK, distinct_free_ports

SPARK_HOME = Path(pyspark.__file__).parent


def dependencies_only_python(root: Path) -> Path:
    """A venv whose sys.path holds this environment's site-packages but not medspark.

    The path is added as a plain .pth line, so the .pth hooks of that folder (among them the
    editable install of medspark) are not run.
    """
    venv = root / "deps-venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    target = next((venv / "lib").glob("python3*/site-packages"))
    (target / "medspark_deps.pth").write_text(site + "\n")
    python = venv / "bin" / "python"
    probe = subprocess.run(
        [str(python), "-c", "import pydicom, cv2, pyspark, medspark"],
        capture_output=True,
        text=True,
        cwd=root,
    )
    if probe.returncode == 0:
        raise RuntimeError("the dependencies-only Python imports medspark: it would prove nothing")
    return python


@dataclass
class StandaloneCluster:
    """Master and workers as child processes; stopped by process id whatever happens."""

    root: Path
    worker_python: Path
    workers: int = 2
    ports: list[int] = field(default_factory=lambda: distinct_free_ports(8))
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def master_port(self) -> int:
        return self.ports[0]

    @property
    def ui_port(self) -> int:
        """The master UI's port as the master reports it (Spark moves on if the port is taken)."""
        log = self.root / "master.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        bound = re.search(r"Successfully started service 'MasterUI' on port (\d+)", text)
        return int(bound.group(1)) if bound else self.ports[1]

    @property
    def url(self) -> str:
        return f"spark://{LOOPBACK}:{self.master_port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_GATEWAY")}
        env.update(
            SPARK_HOME=str(SPARK_HOME),
            SPARK_LOCAL_IP=LOOPBACK,
            SPARK_NO_DAEMONIZE="1",
            PYSPARK_PYTHON=str(self.worker_python),
            SPARK_LOG_DIR=str(self.root / "logs"),
        )
        env.pop("PYTHONPATH", None)
        return env

    def _spawn(self, name: str, args: list[str], cwd: Path) -> None:
        cwd.mkdir(parents=True, exist_ok=True)
        log = (self.root / f"{name}.log").open("w")
        process = subprocess.Popen(
            [str(SPARK_HOME / "bin" / "spark-class"), *args],
            cwd=cwd,
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)

    def start(self, timeout: float = 120) -> None:
        self._spawn(
            "master",
            ["org.apache.spark.deploy.master.Master", "--host", LOOPBACK,
             "--port", str(self.master_port), "--webui-port", str(self.ports[1])],
            self.root / "master",
        )  # fmt: skip
        for number in range(self.workers):
            work = self.root / f"worker-{number}"
            self._spawn(
                f"worker-{number}",
                ["org.apache.spark.deploy.worker.Worker", "--host", LOOPBACK,
                 "--cores", "1", "--memory", "2g", "--webui-port", str(self.ports[2 + number]),
                 "--work-dir", str(work / "work"), self.url],
                work,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.alive_workers() == self.workers:
                return
            if any(p.poll() is not None for p in self.processes):
                break
            time.sleep(1)
        raise RuntimeError(f"standalone cluster did not come up; logs in {self.root}")

    def alive_workers(self) -> int:
        try:
            with urllib.request.urlopen(f"http://{LOOPBACK}:{self.ui_port}/json/", timeout=2) as r:
                state = json.load(r)
        except (OSError, ValueError):
            return 0
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
