from dataclasses import dataclass, field
from pathlib import Path

from leadpipe.localstack.errors import LocalStackError
from leadpipe.localstack.kafka import KafkaNode, ensure_kafka_libs
from leadpipe.localstack.postgres import DATABASE, PASSWORD, USER, PostgresServer
from leadpipe.localstack.repo import default_cache_dir
from leadpipe.localstack.reporting import ComponentStatus, Log


@dataclass(frozen=True)
class LocalStack:
    """Kafka and PostgreSQL as background processes whose files all live below `root`.

    `up` and `down` are idempotent; `down` stops only the processes recorded in this stack's
    pid files, so another stack (or a system PostgreSQL) is never touched.
    Layout: root/kafka (config, data), root/postgres (data, socket), root/logs, root/run (pids).
    """

    root: Path
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    postgres_port: int = 5432
    cache_dir: Path = field(default_factory=default_cache_dir)
    # False only for throwaway test stacks: PostgreSQL then skips fsync.
    durable: bool = True
    # Either part can be left out when the environment names a running one instead.
    with_kafka: bool = True
    with_postgres: bool = True

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://{USER}:{PASSWORD}@127.0.0.1:{self.postgres_port}/{DATABASE}"

    def up(self, log: Log) -> None:
        """Bring up whatever is not running; leave running parts alone. Blocks until ready."""
        ports = (self.kafka_port, self.kafka_controller_port, self.postgres_port)
        if len(set(ports)) != len(ports):
            raise LocalStackError(f"local stack: the ports must differ, got {ports}")
        kafka = self._kafka()
        postgres = self._postgres()
        # Checked before anything starts, so a taken port does not leave half a stack running.
        taken = (kafka.foreign_ports() if self.with_kafka else []) + (
            postgres.foreign_ports() if self.with_postgres else []
        )
        if taken:
            raise LocalStackError(
                f"local stack: port(s) {', '.join(map(str, taken))} on 127.0.0.1 already in use "
                f"by something this stack (in {self._root()}) did not start; stop it or choose "
                "other ports"
            )
        self._root().mkdir(parents=True, exist_ok=True)
        if not self.with_kafka:
            if self.with_postgres:
                postgres.up(log)
            return
        libs = ensure_kafka_libs(self.cache_dir.absolute(), log)
        # The JVM takes seconds to boot: PostgreSQL comes up meanwhile.
        startup = kafka.start(libs, log)
        if self.with_postgres:
            postgres.up(log)
        kafka.wait_until_ready(startup, log)

    def down(self, log: Log) -> None:
        """Stop this stack's parts (those it was told to run), as its pid files record them."""
        if self.with_kafka:
            self._kafka().stop(log)
        if self.with_postgres:
            self._postgres().stop(log)

    def status(self) -> list[ComponentStatus]:
        parts = []
        if self.with_kafka:
            parts.append(self._kafka().status())
        if self.with_postgres:
            parts.append(self._postgres().status())
        return parts

    def _root(self) -> Path:
        # Processes run with other working directories: every path handed out is absolute.
        return self.root.absolute()

    def _kafka(self) -> KafkaNode:
        root = self._root()
        return KafkaNode(
            home=root / "kafka",
            logs_dir=root / "logs" / "kafka",
            run_dir=root / "run",
            port=self.kafka_port,
            controller_port=self.kafka_controller_port,
        )

    def _postgres(self) -> PostgresServer:
        root = self._root()
        return PostgresServer(
            home=root / "postgres",
            log_file=root / "logs" / "postgres.log",
            run_dir=root / "run",
            port=self.postgres_port,
            durable=self.durable,
        )
