"""A command ends without Python's teardown: its exit code, its output and its logs are still all there."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def leaving(body: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """``body`` run after making garbage only the teardown's last collection would free, and an exit handler."""
    code = ("import atexit, logging, sys\n"
            "from tracker.process_exit import leave\n"
            "class Cycle:\n    def __del__(self): print(' collected', end='', flush=True)\n"
            "garbage = Cycle(); garbage.itself = garbage\n"
            "def atexit_handler(): print(' handled', end='', flush=True)\n"
            "atexit.register(atexit_handler)\n" + body)
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(PROJECT), "LOG": str(tmp_path / "log.txt")})


def test_the_exit_code_output_and_exit_handlers_survive_and_the_teardown_is_skipped(tmp_path):
    left = leaving("print('said', end=''); sys.stderr.write('warned'); leave(3)", tmp_path)
    assert (left.returncode, left.stdout, left.stderr) == (3, "said handled", "warned")
    torn_down = leaving("print('said', end=''); sys.exit(3)", tmp_path)  # what the teardown would have done
    assert (torn_down.returncode, torn_down.stdout) == (3, "said handled collected")


def test_no_code_is_success_and_a_message_is_a_failure_said_on_stderr(tmp_path):
    assert leaving("leave(None)", tmp_path).returncode == 0
    left = leaving("leave('the inbox could not be read')", tmp_path)
    assert (left.returncode, left.stderr.strip()) == (1, "the inbox could not be read")


def test_it_waits_for_a_thread_that_is_not_a_daemon_as_python_does(tmp_path):
    left = leaving("import threading, time\n"
                   "def late(): time.sleep(0.3); print('finished', end='', flush=True)\n"
                   "threading.Thread(target=late).start()\nleave(0)", tmp_path)
    assert (left.returncode, left.stdout) == (0, "finished handled")
    pool = leaving("from concurrent.futures import ThreadPoolExecutor\n"
                   "pool = ThreadPoolExecutor(2); pool.submit(print, 'pooled', end='', flush=True).result()\n"
                   "leave(0)", tmp_path)  # its idle workers are stopped, not waited for forever
    assert (pool.returncode, pool.stdout) == (0, "pooled handled")


def test_a_log_file_is_flushed_before_the_process_ends(tmp_path):
    left = leaving("import os\nhandler = logging.FileHandler(os.environ['LOG'])\n"
                   "logging.getLogger().addHandler(handler)\nlogging.getLogger().warning('last words')\nleave(0)",
                   tmp_path)
    assert left.returncode == 0 and (tmp_path / "log.txt").read_text() == "last words\n"


def test_a_closed_output_pipe_does_not_turn_into_a_traceback(tmp_path):
    left = leaving("atexit.unregister(atexit_handler)\nsys.stdout.close()\nleave(5)", tmp_path)
    assert (left.returncode, left.stderr) == (5, "")


def test_the_tracker_command_ends_through_leave_with_its_code_and_words_intact(tmp_path):
    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["tracker"] == "pipelines.cli:command_line"
    status = subprocess.run([sys.executable, "-m", "pipelines.cli", "status"], cwd=PROJECT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "TRACKER_HOME": str(tmp_path / "home")})
    assert status.returncode == 1 and status.stdout.rstrip().endswith("Run `tracker run` first.")
    assert status.stderr == ""  # nothing said at exit: no traceback, no warning of leaked objects
    usage = subprocess.run([sys.executable, "-m", "pipelines.cli", "no-such-command"], cwd=PROJECT,
                           capture_output=True, text=True, timeout=120)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr and "Traceback" not in usage.stderr


def test_a_child_ends_when_its_input_closes_or_is_killed():
    """``end_child``: a child that ends when its input closes does so with its own code; one that does not is
    killed once the wait is over, never waited for forever."""
    import time

    from tracker.process_exit import end_child

    listening = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read(); sys.exit(3)"],
                                 stdin=subprocess.PIPE)
    end_child(listening, within=30)
    assert listening.returncode == 3
    deaf = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], stdin=subprocess.PIPE)
    started = time.monotonic()
    end_child(deaf, within=0.5)
    assert deaf.returncode == -9 and time.monotonic() - started < 30
