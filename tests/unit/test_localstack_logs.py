from pathlib import Path

from leadpipe.localstack.processes import open_private_log


def test_a_log_file_is_created_for_its_owner_only(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "scoring.log"
    with open_private_log(log_file) as output:
        output.write(b"line\n")
    assert log_file.stat().st_mode & 0o777 == 0o600
    assert log_file.parent.stat().st_mode & 0o777 == 0o700


def test_a_log_left_readable_by_others_is_tightened_and_appended_to(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir(mode=0o755)
    log_file = logs / "routing.log"
    log_file.write_bytes(b"old\n")
    log_file.chmod(0o644)
    with open_private_log(log_file) as output:
        output.write(b"new\n")
    assert log_file.read_bytes() == b"old\nnew\n"
    assert log_file.stat().st_mode & 0o777 == 0o600
    assert logs.stat().st_mode & 0o777 == 0o700
