"""Processes the stack runs: background ones tracked by pid files, and short-lived tools."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from leadpipe.localstack.errors import LocalStackError

LOCALHOST = "127.0.0.1"

# Children started by this Python process. Kept so they are reaped when they exit (a zombie
# would look alive to a pid check) and so Popen does not warn about dropped running children.
_children: dict[int, "subprocess.Popen[bytes]"] = {}


@dataclass(frozen=True)
class RunAs:
    """An OS account to run a process as; switching needs root."""

    user: str
    uid: int
    gid: int
    home: Path


@dataclass(frozen=True)
class _PidRecord:
    pid: int
    # The kernel's start time of the process: tells our process from a later one that reused
    # its pid (after a reboot a stale pid file may name an unrelated process).
    start_time: str | None


PRIVATE_UMASK = 0o077


def open_private_log(log_file: Path) -> BinaryIO:
    """``log_file`` opened for appending, readable and writable by its owner only, in a
    directory only its owner can enter (log lines may name leads). A file or directory left
    with looser modes by an earlier version is tightened."""
    log_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    log_file.parent.chmod(0o700)
    descriptor = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "ab")


def start_detached(
    args: Sequence[str],
    *,
    pid_file: Path,
    log_file: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    run_as: RunAs | None = None,
) -> int:
    """Start a process in its own session, appending its output to log_file; record its pid.

    The process outlives the caller (a `leadpipe up` that exits leaves it running).
    """
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open_private_log(log_file) as output:
        try:
            process = subprocess.Popen(
                list(args),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Logs and data the process creates (Kafka's segments and log4j files) are its
                # owner's alone: they hold leads' personal data.
                umask=PRIVATE_UMASK,
                user=run_as.uid if run_as else None,
                group=run_as.gid if run_as else None,
                extra_groups=[] if run_as else None,
            )
        except OSError as error:
            raise LocalStackError(f"cannot start {args[0]}: {error}") from error
    _children[process.pid] = process
    pid_file.write_text(f"{process.pid}\n{_start_time(process.pid) or ''}\n", encoding="ascii")
    return process.pid


def run_tool(
    args: Sequence[str],
    *,
    what: str,
    timeout: float,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str = "",
    run_as: RunAs | None = None,
    private: bool = False,
) -> "subprocess.CompletedProcess[str]":
    """Run a command to completion with its output captured; `what` names the step in errors.
    `private`: files it creates are its owner's alone."""
    try:
        return subprocess.run(
            list(args),
            input=stdin,
            capture_output=True,
            text=True,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
            extra_groups=[] if run_as else None,
            umask=PRIVATE_UMASK if private else -1,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LocalStackError(f"{what}: {args[0]} did not finish within {timeout:.0f} s") from None
    except OSError as error:
        raise LocalStackError(f"{what}: cannot run {args[0]}: {error}") from error


def output_tail(done: "subprocess.CompletedProcess[str]", lines: int = 20) -> str:
    return "\n".join((done.stdout + done.stderr).strip().splitlines()[-lines:])


def running_pid(pid_file: Path) -> int | None:
    """The pid recorded in pid_file if that process is still alive, else None.

    A pid file left behind by a crash or a reboot (stale) yields None; it is not removed here.
    """
    record = _read_pid_file(pid_file)
    if record is None or not _alive(record):
        return None
    return record.pid


def stop(
    pid_file: Path, *, sig: signal.Signals = signal.SIGTERM, timeout: float = 30.0
) -> int | None:
    """Stop the process recorded in pid_file and remove the file; return the pid it stopped.

    Sends `sig`, waits up to `timeout` seconds, then kills the whole session with SIGKILL.
    Returns None when nothing was running (a stale pid file is removed all the same).
    """
    record = _read_pid_file(pid_file)
    if record is None or not _alive(record):
        pid_file.unlink(missing_ok=True)
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(record.pid, sig)
    if not _wait_until_gone(record, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(record.pid, signal.SIGKILL)
        if not _wait_until_gone(record, 10.0):
            raise LocalStackError(f"process {record.pid} survived SIGKILL; pid file {pid_file}")
    pid_file.unlink(missing_ok=True)
    return record.pid


def port_accepts(port: int, host: str = LOCALHOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCALHOST, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, *, what: str, pid_file: Path, log_file: Path, timeout: float) -> None:
    """Wait until 127.0.0.1:port accepts connections, failing early if the process dies."""
    deadline = time.monotonic() + timeout
    while not port_accepts(port):
        _check_still_running(what, pid_file, log_file)
        if time.monotonic() > deadline:
            raise LocalStackError(
                f"{what}: 127.0.0.1:{port} did not accept connections within {timeout:.0f} s; "
                f"last lines of {log_file}:\n{log_tail(log_file)}"
            )
        time.sleep(0.2)


def wait_for_log_line(
    text: str,
    *,
    what: str,
    pid_file: Path,
    log_file: Path,
    since_offset: int,
    timeout: float,
) -> None:
    """Wait until `text` appears in log_file after byte `since_offset` (this run's output)."""
    deadline = time.monotonic() + timeout
    needle = text.encode()
    while True:
        with log_file.open("rb") as output:
            output.seek(since_offset)
            if needle in output.read():
                return
        _check_still_running(what, pid_file, log_file)
        if time.monotonic() > deadline:
            raise LocalStackError(
                f"{what}: no {text!r} in {log_file} within {timeout:.0f} s; "
                f"last lines:\n{log_tail(log_file)}"
            )
        time.sleep(0.2)


def log_size(log_file: Path) -> int:
    try:
        return log_file.stat().st_size
    except FileNotFoundError:
        return 0


def log_tail(log_file: Path, lines: int = 25) -> str:
    try:
        with log_file.open("rb") as output:
            output.seek(max(0, log_size(log_file) - 64 * 1024))
            text = output.read().decode(errors="replace")
    except FileNotFoundError:
        return "(no log file)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log file)"


def _check_still_running(what: str, pid_file: Path, log_file: Path) -> None:
    if running_pid(pid_file) is None:
        raise LocalStackError(
            f"{what}: the process exited during startup; last lines of {log_file}:\n"
            f"{log_tail(log_file)}"
        )


def _read_pid_file(pid_file: Path) -> _PidRecord | None:
    try:
        lines = pid_file.read_text(encoding="ascii").split("\n")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    if not lines[0].strip().isdigit():
        return None
    start_time = lines[1].strip() if len(lines) > 1 and lines[1].strip() else None
    return _PidRecord(pid=int(lines[0]), start_time=start_time)


def _alive(record: _PidRecord) -> bool:
    child = _children.get(record.pid)
    if child is not None and child.poll() is not None:
        del _children[record.pid]
        return False
    if Path("/proc/self/stat").is_file():
        stat = _proc_stat(record.pid)
        if stat is None:
            return False
        state, start_time = stat
        if state == "Z":
            # It exited after the poll above: reap it now, or it lingers as a zombie.
            if child is not None:
                child.wait()
                del _children[record.pid]
            return False
        return record.start_time in (None, start_time)
    # Without /proc (not Linux) only the pid's existence can be checked.
    try:
        os.kill(record.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_until_gone(record: _PidRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(record):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time) from /proc/<pid>/stat, or None when there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ")".
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0], fields[19]


def _start_time(pid: int) -> str | None:
    stat = _proc_stat(pid)
    return stat[1] if stat else None
