import os
import shutil
from collections.abc import Sequence

from leadpipe.localstack.errors import LocalStackError
from leadpipe.localstack.processes import output_tail, run_tool
from leadpipe.localstack.reporting import Log

APT_TIMEOUT = 1200.0


def apt_install(packages: Sequence[str], *, needed_for: str, log: Log) -> None:
    """Install Debian packages, which is only possible as root on a Debian-like machine."""
    names = " ".join(packages)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise LocalStackError(
            f"{needed_for}: required software is missing; install the package(s) {names} "
            "(e.g. `sudo apt-get install " + names + "`) and run again"
        )
    log(f"{needed_for}: installing {names} with apt-get (first run on this machine only)…")
    # Keep pre-seeded config files (see postgres.py) instead of prompting about them.
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "UCF_FORCE_CONFFOLD": "1"}
    steps = [
        ["apt-get", "update"],
        [
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "-o",
            "Dpkg::Options::=--force-confold",
            *packages,
        ],
    ]
    for step in steps:
        done = run_tool(step, what=needed_for, timeout=APT_TIMEOUT, env=env)
        if done.returncode != 0:
            raise LocalStackError(
                f"{needed_for}: `{' '.join(step)}` failed with exit code {done.returncode}:\n"
                f"{output_tail(done)}"
            )
