"""A private PostgreSQL server (own data dir, port and socket dir) from the machine's binaries."""

import os
import pwd
import re
import shutil
import signal
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from leadpipe.localstack import processes
from leadpipe.localstack.errors import LocalStackError
from leadpipe.localstack.processes import RunAs
from leadpipe.localstack.reporting import ComponentStatus, Log
from leadpipe.localstack.system_packages import apt_install

USER = "leadpipe"
PASSWORD = "leadpipe"
DATABASE = "leadpipe"
SUPERUSER = "postgres"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
TOOL_TIMEOUT = 120.0
_SOCKET_PATH_LIMIT = 107  # sun_path is 108 bytes on Linux, including the final NUL

# Idempotent: safe on every `up`, and it repairs a run that stopped before it finished.
_BOOTSTRAP_SQL = f"""
SELECT 'CREATE ROLE {USER}'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{USER}')\\gexec
ALTER ROLE {USER} WITH LOGIN CREATEDB PASSWORD '{PASSWORD}';
SELECT 'CREATE DATABASE {DATABASE} OWNER {USER}'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{DATABASE}')\\gexec
"""

# Debian's postgresql package would otherwise create and start a "main" cluster on port 5432,
# which is the port the local stack wants.
_DEBIAN_CREATECLUSTER_CONF = Path("/etc/postgresql-common/createcluster.conf")


@dataclass(frozen=True)
class PostgresServer:
    """One PostgreSQL server: data and socket dir under `home`, output in `log_file`.

    As root the server runs as the `postgres` OS account (PostgreSQL refuses to run as root)
    and `home` belongs to it; otherwise it runs as the current user.
    """

    home: Path
    log_file: Path
    run_dir: Path
    port: int
    durable: bool = True

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def socket_dir(self) -> Path:
        return self.home / "run"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "postgres.pid"

    def up(self, log: Log) -> None:
        """Start the server unless it runs, then make sure role and database exist."""
        bin_dir = self._bin_dir(log)
        pid = processes.running_pid(self.pid_file)
        if pid is not None:
            log(f"postgres: already running (pid {pid}) on 127.0.0.1:{self.port}")
            self._wait_until_ready(bin_dir)
            self._ensure_role_and_database(bin_dir)
            return
        if self.foreign_ports():
            raise LocalStackError(
                f"postgres: 127.0.0.1:{self.port} is in use by a process this stack did not "
                f"start (pid file {self.pid_file}); stop it or choose another port"
            )
        run_as = _run_as()
        self._prepare_home(run_as, log)
        self._initdb_once(bin_dir, log)
        log(f"postgres: starting on 127.0.0.1:{self.port}…")
        pid = processes.start_detached(
            [str(bin_dir / "postgres"), *self._server_options()],
            pid_file=self.pid_file,
            log_file=self.log_file,
            cwd=self.home,
            env=_environment(run_as),
            run_as=run_as,
        )
        try:
            self._wait_until_ready(bin_dir)
            log(f"postgres: creating role and database {DATABASE!r} if missing…")
            self._ensure_role_and_database(bin_dir)
        except LocalStackError:
            processes.stop(self.pid_file, sig=signal.SIGINT, timeout=10.0)
            raise
        log(f"postgres: ready on 127.0.0.1:{self.port} (pid {pid})")

    def foreign_ports(self) -> list[int]:
        """This server's port if something other than this server listens on it."""
        if processes.running_pid(self.pid_file) is not None:
            return []
        return [self.port] if processes.port_accepts(self.port) else []

    def stop(self, log: Log) -> None:
        pid = processes.running_pid(self.pid_file)
        if pid is None:
            processes.stop(self.pid_file)
            log("postgres: not running")
            return
        log(f"postgres: stopping (pid {pid})…")
        # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to disconnect.
        processes.stop(self.pid_file, sig=signal.SIGINT, timeout=STOP_TIMEOUT)

    def status(self) -> ComponentStatus:
        pid = processes.running_pid(self.pid_file)
        if pid is None:
            stale = " (stale pid file)" if self.pid_file.exists() else ""
            detail = f"not running{stale}"
        elif processes.port_accepts(self.port):
            detail = f"127.0.0.1:{self.port}, database {DATABASE!r}, log {self.log_file}"
        else:
            detail = (
                f"process up but 127.0.0.1:{self.port} refuses connections; see {self.log_file}"
            )
        return ComponentStatus("postgres", self.port, pid is not None, pid, detail)

    def _bin_dir(self, log: Log) -> Path:
        version_file = self.data_dir / "PG_VERSION"
        required = (
            version_file.read_text(encoding="ascii").strip() if version_file.is_file() else None
        )
        found = find_server_bin_dir(required)
        if found is not None:
            return found
        if required is not None and find_server_bin_dir(None) is not None:
            raise LocalStackError(
                f"postgres: {self.data_dir} was created by PostgreSQL {required}, whose server "
                f"binaries are not installed; install postgresql-{required} or remove {self.home}"
            )
        if os.geteuid() == 0 and _DEBIAN_CREATECLUSTER_CONF.parent.parent.is_dir():
            _DEBIAN_CREATECLUSTER_CONF.parent.mkdir(exist_ok=True)
            if not _DEBIAN_CREATECLUSTER_CONF.exists():
                _DEBIAN_CREATECLUSTER_CONF.write_text(
                    "create_main_cluster = false\n", encoding="ascii"
                )
        apt_install(["postgresql"], needed_for="postgres", log=log)
        found = find_server_bin_dir(required)
        if found is None:
            raise LocalStackError(
                "postgres: no server binaries (postgres, initdb) after installing"
            )
        return found

    def _prepare_home(self, run_as: RunAs | None, log: Log) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        socket_path = self.socket_dir / f".s.PGSQL.{self.port}"
        if len(os.fsencode(socket_path)) > _SOCKET_PATH_LIMIT:
            raise LocalStackError(
                f"postgres: the socket path {socket_path} is longer than the system allows "
                f"({_SOCKET_PATH_LIMIT} bytes); use a shorter stack directory"
            )
        if run_as is None:
            return
        for directory in (self.home, self.socket_dir):
            os.chown(directory, run_as.uid, run_as.gid)
        _make_traversable(self.home.parent, run_as, log)

    def _initdb_once(self, bin_dir: Path, log: Log) -> None:
        if (self.data_dir / "PG_VERSION").is_file():
            return
        log("postgres: initialising data directory (first run only)…")
        shutil.rmtree(self.data_dir, ignore_errors=True)  # left over by an interrupted initdb
        self._run(
            bin_dir / "initdb",
            [
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--locale=C",
                # Only the server's own OS account (and root) can reach the socket directory,
                # which is private to this stack, so trusting it costs nothing; TCP clients,
                # the services among them, log in with a password as in production.
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                *([] if self.durable else ["--no-sync"]),
            ],
            what="initdb",
        )

    def _server_options(self) -> list[str]:
        options = [
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            # A socket dir of our own never clashes with a system PostgreSQL's /var/run/postgresql.
            "-c",
            f"unix_socket_directories={self.socket_dir}",
            "-c",
            "max_connections=200",
        ]
        if not self.durable:
            # Tests only: a crash may lose or corrupt data, in exchange for much faster commits.
            for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                options += ["-c", setting]
        return options

    def _wait_until_ready(self, bin_dir: Path) -> None:
        processes.wait_for_port(
            self.port,
            what="postgres",
            pid_file=self.pid_file,
            log_file=self.log_file,
            timeout=READY_TIMEOUT,
        )
        # The port opens while the server may still be recovering; pg_isready knows when
        # it accepts sessions.
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            ready = processes.run_tool(
                [str(bin_dir / "pg_isready"), "-q", *self._socket_args()],
                what="postgres: waiting for sessions",
                timeout=TOOL_TIMEOUT,
                env=_environment(None),
            )
            if ready.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"postgres: not accepting sessions within {READY_TIMEOUT:.0f} s; last lines "
                    f"of {self.log_file}:\n{processes.log_tail(self.log_file)}"
                )
            time.sleep(0.2)

    def _ensure_role_and_database(self, bin_dir: Path) -> None:
        self._run(
            bin_dir / "psql",
            ["-X", "-q", "-v", "ON_ERROR_STOP=1", *self._socket_args(), "-d", "postgres"],
            what=f"creating role and database {DATABASE!r}",
            stdin=_BOOTSTRAP_SQL,
        )

    def _socket_args(self) -> list[str]:
        return ["-h", str(self.socket_dir), "-p", str(self.port), "-U", SUPERUSER]

    def _run(self, program: Path, args: Sequence[str], *, what: str, stdin: str = "") -> None:
        run_as = _run_as()
        done = processes.run_tool(
            [str(program), *args],
            what=f"postgres: {what}",
            timeout=TOOL_TIMEOUT,
            cwd=self.home,
            env=_environment(run_as),
            stdin=stdin,
            run_as=run_as,
        )
        if done.returncode != 0:
            raise LocalStackError(
                f"postgres: {what} failed (exit code {done.returncode}):\n"
                f"{processes.output_tail(done)}\n(server log: {self.log_file})"
            )


def find_server_bin_dir(major_version: str | None) -> Path | None:
    """The directory with `postgres` and `initdb`, of `major_version` when given, else the newest."""
    candidates: list[Path] = []
    for versioned in Path("/usr/lib/postgresql").glob("*/bin"):
        candidates.append(versioned)
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        done = processes.run_tool([pg_config, "--bindir"], what="postgres", timeout=TOOL_TIMEOUT)
        if done.returncode == 0 and done.stdout.strip():
            candidates.append(Path(done.stdout.strip()))
    on_path = shutil.which("postgres")
    if on_path is not None:
        candidates.append(Path(on_path).resolve().parent)

    usable = {c.resolve(): _major_version(c) for c in candidates if _is_server_bin_dir(c)}
    matching = [
        (version, path)
        for path, version in usable.items()
        if major_version is None or version == major_version
    ]
    if not matching:
        return None
    return max(matching, key=lambda item: _version_key(item[0]))[1]


def _is_server_bin_dir(directory: Path) -> bool:
    return all(
        os.access(directory / name, os.X_OK)
        for name in ("postgres", "initdb", "pg_isready", "psql")
    )


def _major_version(bin_dir: Path) -> str:
    done = processes.run_tool(
        [str(bin_dir / "postgres"), "--version"], what="postgres", timeout=TOOL_TIMEOUT
    )
    match = re.search(r"\b(\d+)(?:\.\d+)?", done.stdout)
    return match.group(1) if match else ""


def _version_key(version: str) -> int:
    return int(version) if version.isdigit() else -1


def _run_as() -> RunAs | None:
    if os.geteuid() != 0:
        return None
    try:
        account = pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise LocalStackError(
            "postgres: running as root, but there is no `postgres` OS account to run the "
            "server as (PostgreSQL refuses to run as root); install the postgresql package"
        ) from None
    return RunAs(account.pw_name, account.pw_uid, account.pw_gid, Path(account.pw_dir))


def _environment(run_as: RunAs | None) -> dict[str, str]:
    # PG* variables of the caller (PGHOST, PGDATA, ...) would redirect the tools elsewhere.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    if run_as is not None:
        env["HOME"] = str(run_as.home)
        env["USER"] = env["LOGNAME"] = run_as.user
    return env


def _make_traversable(directory: Path, run_as: RunAs, log: Log) -> None:
    """Let the server's OS account reach `directory` through every parent.

    PostgreSQL cannot open a data dir below a directory it may not enter, such as pytest's
    0700 /tmp/pytest-of-root. Parents we own get the search bit for others (entering, not
    listing); for any other blocker we stop with the path to fix.
    """
    for path in [directory, *directory.parents]:
        info = path.stat()
        if _can_enter(info, run_as):
            continue
        if info.st_uid != os.geteuid():
            raise LocalStackError(
                f"postgres: the `{run_as.user}` OS account cannot enter {path}, so it cannot "
                "reach the data directory; choose a stack directory it can reach"
            )
        log(f"postgres: letting the {run_as.user} account enter {path} (chmod o+x)…")
        path.chmod(stat.S_IMODE(info.st_mode) | stat.S_IXOTH)


def _can_enter(info: os.stat_result, run_as: RunAs) -> bool:
    if info.st_uid == run_as.uid:
        return bool(info.st_mode & stat.S_IXUSR)
    if info.st_gid == run_as.gid:
        return bool(info.st_mode & stat.S_IXGRP)
    return bool(info.st_mode & stat.S_IXOTH)
