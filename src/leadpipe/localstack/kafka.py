"""A single-node Kafka 4 (KRaft, broker and controller in one JVM) run from Maven-fetched jars."""

import base64
import hashlib
import os
import re
import shutil
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from leadpipe.localstack import processes
from leadpipe.localstack.errors import LocalStackError
from leadpipe.localstack.repo import kafka_deploy_dir
from leadpipe.localstack.reporting import ComponentStatus, Log
from leadpipe.localstack.system_packages import apt_install

STARTED_LINE = "Kafka Server started"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
TOOL_TIMEOUT = 120.0
MAVEN_TIMEOUT = 900.0
_COMPLETE_MARKER = ".complete"
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def ensure_kafka_libs(cache_dir: Path, log: Log, *, deploy_dir: Path | None = None) -> Path:
    """The folder of Kafka's runtime jars, fetched with Maven unless already complete.

    Idempotent: a finished download is recognised by a marker holding the pom's hash, so an
    interrupted download, or a change of pom.xml (e.g. a Kafka upgrade), fetches again.
    """
    pom = (deploy_dir or kafka_deploy_dir()) / "pom.xml"
    if not pom.is_file():
        raise LocalStackError(f"kafka: {pom} is missing; it lists the Kafka jars to fetch")
    pom_hash = hashlib.sha256(pom.read_bytes()).hexdigest()
    libs = cache_dir / "kafka" / "libs"
    marker = libs / _COMPLETE_MARKER
    if marker.is_file() and marker.read_text(encoding="ascii").strip() == pom_hash:
        return libs

    mvn = shutil.which("mvn")
    if mvn is None:
        apt_install(["maven"], needed_for="kafka", log=log)
        mvn = shutil.which("mvn") or "mvn"
    log("kafka: fetching jars with Maven (first run only)…")
    partial = cache_dir / "kafka" / "libs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    maven_log = cache_dir / "kafka" / "maven.log"
    done = processes.run_tool(
        [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ],
        what="kafka: fetching jars with Maven",
        timeout=MAVEN_TIMEOUT,
        cwd=pom.parent,
    )
    # Maven 3.8 prints colour resets even with -q -B and colours off.
    maven_log.write_text(_ANSI_ESCAPE.sub("", done.stdout + done.stderr), encoding="utf-8")
    if done.returncode != 0:
        raise LocalStackError(
            f"kafka: Maven could not fetch the Kafka jars (exit code {done.returncode}); "
            f"last lines of {maven_log}:\n{processes.log_tail(maven_log)}"
        )
    (partial / _COMPLETE_MARKER).write_text(pom_hash + "\n", encoding="ascii")
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)
    return libs


@dataclass(frozen=True)
class KafkaStartup:
    """A broker process just started; readiness is judged from its output after log_offset."""

    pid: int
    log_offset: int


@dataclass(frozen=True)
class KafkaNode:
    """One Kafka process and its files: config and data under `home`, logs under `logs_dir`."""

    home: Path
    logs_dir: Path
    run_dir: Path
    port: int
    controller_port: int

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def config_file(self) -> Path:
        return self.home / "server.properties"

    @property
    def cluster_id_file(self) -> Path:
        return self.home / "cluster.id"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    @property
    def console_log(self) -> Path:
        """The JVM's stdout/stderr: warnings, errors and the startup line."""
        return self.logs_dir / "kafka.out"

    def start(self, libs: Path, log: Log) -> KafkaStartup | None:
        """Start the broker unless it already runs (then None); does not wait for readiness."""
        pid = processes.running_pid(self.pid_file)
        if pid is not None:
            log(f"kafka: already running (pid {pid}) on 127.0.0.1:{self.port}")
            return None
        taken = self.foreign_ports()
        if taken:
            raise LocalStackError(
                f"kafka: 127.0.0.1 port(s) {', '.join(map(str, taken))} are in use by a process "
                f"this stack did not start (pid file {self.pid_file}); stop it or choose others"
            )
        java = _java(log)
        log4j_config = kafka_deploy_dir() / "log4j2.properties"
        # Its data (the topics' segments) and logs are the owner's alone.
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.home.chmod(0o700)
        self.logs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.logs_dir.chmod(0o700)
        self.config_file.write_text(self._server_properties(), encoding="utf-8")
        self._format_storage_once(java, libs, log4j_config, log)

        log(f"kafka: starting broker on 127.0.0.1:{self.port}…")
        offset = processes.log_size(self.console_log)
        pid = processes.start_detached(
            [
                java,
                "-Xms256m",
                "-Xmx512m",
                # The GC flags of Kafka's own bin/kafka-run-class.sh.
                "-XX:+UseG1GC",
                "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35",
                "-XX:+ExplicitGCInvokesConcurrent",
                "-Djava.awt.headless=true",
                # Out of memory, a broker that exits shows up in `status`; one that limps does not.
                "-XX:+ExitOnOutOfMemoryError",
                f"-Dlog4j2.configurationFile={log4j_config}",
                f"-Dkafka.logs.dir={self.logs_dir}",
                "-cp",
                f"{libs}/*",
                "kafka.Kafka",
                str(self.config_file),
            ],
            pid_file=self.pid_file,
            log_file=self.console_log,
            cwd=self.home,
        )
        return KafkaStartup(pid=pid, log_offset=offset)

    def foreign_ports(self) -> list[int]:
        """This node's ports that something other than this node listens on."""
        if processes.running_pid(self.pid_file) is not None:
            return []
        return [p for p in (self.port, self.controller_port) if processes.port_accepts(p)]

    def wait_until_ready(self, startup: KafkaStartup | None, log: Log) -> None:
        """Wait (bounded) until the broker serves clients; stop it again if it never does."""
        deadline = time.monotonic() + READY_TIMEOUT
        try:
            processes.wait_for_port(
                self.port,
                what="kafka",
                pid_file=self.pid_file,
                log_file=self.console_log,
                timeout=READY_TIMEOUT,
            )
            if startup is not None:
                # The port opens before the broker has joined its own quorum and is unfenced;
                # this line is logged once it has.
                processes.wait_for_log_line(
                    STARTED_LINE,
                    what="kafka",
                    pid_file=self.pid_file,
                    log_file=self.console_log,
                    since_offset=startup.log_offset,
                    timeout=max(1.0, deadline - time.monotonic()),
                )
        except LocalStackError as error:
            if startup is not None:
                processes.stop(self.pid_file, timeout=10.0)
            raise LocalStackError(
                f"{error}\n(full broker log: {self.logs_dir / 'server.log'})"
            ) from None
        if startup is not None:
            log(f"kafka: ready on 127.0.0.1:{self.port} (pid {startup.pid})")

    def stop(self, log: Log) -> None:
        pid = processes.running_pid(self.pid_file)
        if pid is None:
            processes.stop(self.pid_file)
            log("kafka: not running")
            return
        log(f"kafka: stopping (pid {pid})…")
        processes.stop(self.pid_file, sig=signal.SIGTERM, timeout=STOP_TIMEOUT)

    def status(self) -> ComponentStatus:
        pid = processes.running_pid(self.pid_file)
        if pid is None:
            stale = " (stale pid file)" if self.pid_file.exists() else ""
            detail = f"not running{stale}"
        elif processes.port_accepts(self.port):
            detail = f"127.0.0.1:{self.port}, logs in {self.logs_dir}"
        else:
            detail = (
                f"process up but 127.0.0.1:{self.port} refuses connections; see {self.console_log}"
            )
        return ComponentStatus("kafka", self.port, pid is not None, pid, detail)

    def _server_properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "3",
            "default.replication.factor": "1",
            "auto.create.topics.enable": "true",
            # One broker: without these overrides the internal topics cannot be created and
            # consumers see "The group coordinator is not available".
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "min.insync.replicas": "1",
            # Consumers join a group at once instead of waiting 3 s for others.
            "group.initial.rebalance.delay.ms": "0",
        }
        lines = [f"{key}={value}" for key, value in settings.items()]
        return "# Written by leadpipe's local stack on every start; edits are lost.\n" + (
            "\n".join(lines) + "\n"
        )

    def _format_storage_once(self, java: str, libs: Path, log4j_config: Path, log: Log) -> None:
        if (self.data_dir / "meta.properties").is_file():
            return
        log("kafka: formatting storage (first run only)…")
        done = processes.run_tool(
            [
                java,
                f"-Dlog4j2.configurationFile={log4j_config}",
                f"-Dkafka.logs.dir={self.logs_dir}",
                "-cp",
                f"{libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                self._cluster_id(),
                "-c",
                str(self.config_file),
            ],
            what="kafka: formatting storage",
            timeout=TOOL_TIMEOUT,
            cwd=self.home,
            private=True,
        )
        if done.returncode != 0:
            raise LocalStackError(
                f"kafka: formatting storage in {self.data_dir} failed "
                f"(exit code {done.returncode}):\n{processes.output_tail(done)}"
            )

    def _cluster_id(self) -> str:
        """Generated once and kept, so a re-format after a lost data dir keeps the same id."""
        if self.cluster_id_file.is_file():
            return self.cluster_id_file.read_text(encoding="ascii").strip()
        cluster_id = _new_cluster_id()
        self.cluster_id_file.write_text(cluster_id + "\n", encoding="ascii")
        return cluster_id


def _new_cluster_id() -> str:
    """A random UUID in Kafka's text form (base64url, no padding)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        # Kafka avoids ids starting with "-": a command line would read them as an option.
        if not text.startswith("-"):
            return text


def _java(log: Log) -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        apt_install(["default-jre-headless"], needed_for="kafka", log=log)
        java = shutil.which("java")
        if java is None:
            raise LocalStackError("kafka: no `java` on PATH after installing default-jre-headless")
    return java
