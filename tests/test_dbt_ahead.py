"""The dbt process started ahead of a run's build: it takes the launcher's command whole (arguments, folder,
environment, output, exit code), is used once, follows the launcher if it is killed, and never outlives the run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assets import dbt_ahead
from assets.marts import dbt_launcher
from tests.conftest import PROJECT as CHECKOUT

PROJECT = {
    "dbt_project.yml": "name: ahead\nversion: '1.0'\nprofile: ahead\nmacro-paths: ['macros']\n",
    "profiles.yml": "ahead:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: ahead.duckdb\n",
    "macros/said.sql": ("{% macro said() %}{{ log('word ' ~ env_var('AHEAD_WORD'), info=True) }}"
                        "{% if env_var('AHEAD_WORD') == 'fail' %}{{ exceptions.raise_compiler_error('asked to fail')"
                        " }}{% endif %}{% endmacro %}\n"),
    "macros/slow.sql": ("{% macro slow() %}{% do run_query('SELECT count(*) FROM range(1000000000000)') %}"
                        "{% endmacro %}\n"),
}


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    for name, text in PROJECT.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def ahead(monkeypatch):
    monkeypatch.delenv(dbt_ahead.AHEAD_VARIABLE, raising=False)
    started = dbt_ahead.start()
    yield started
    started.stop()


def _launch(launcher: Path, project: Path, *arguments: str, word: str = "hello", **options):
    environment = os.environ | {"AHEAD_WORD": word, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.Popen([str(launcher), *arguments, "--project-dir", ".", "--profiles-dir", "."], cwd=project,
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options)


def _waiting(ahead: dbt_ahead.DbtAhead, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not ahead.socket.exists():  # made first thing
        assert time.monotonic() < deadline and ahead.process.poll() is None
        time.sleep(0.05)


def _taken(ahead: dbt_ahead.DbtAhead, within: float = 60) -> None:
    _waiting(ahead, within)
    deadline = time.monotonic() + within
    while ahead.socket.exists():  # removed when the command arrives
        assert time.monotonic() < deadline and ahead.process.poll() is None
        time.sleep(0.05)


def test_the_process_started_ahead_runs_the_launchers_command_as_dbt_would(ahead, project, tmp_path):
    launcher = dbt_launcher(tmp_path / "home")
    done = _launch(launcher, project, "run-operation", "said", word="from-the-launcher")
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, out[-2000:] + err[-2000:]
    assert "word from-the-launcher" in out  # its environment, its folder (the relative project), its output
    assert ahead.process.wait(timeout=30) == 0 and not ahead.socket.exists()  # it was the one that ran it
    assert not ahead.folder.exists()
    assert "Traceback" not in err and "leaked" not in err

    failed = _launch(launcher, project, "run-operation", "said", word="fail")  # used once: this one runs itself
    out, err = failed.communicate(timeout=120)
    assert failed.returncode == 1 and "asked to fail" in out  # dbt's own exit code and words, either way


def test_its_exit_code_is_the_launchers(ahead, project, tmp_path):
    wrong = _launch(dbt_launcher(tmp_path / "home"), project, "no-such-command")
    out, err = wrong.communicate(timeout=120)
    assert wrong.returncode == 2 and "No such command" in err and "Traceback" not in err, out[-1500:] + err[-1500:]
    assert ahead.process.wait(timeout=30) == 2


def test_a_killed_launcher_takes_its_build_with_it(ahead, project, tmp_path):
    slow = _launch(dbt_launcher(tmp_path / "home"), project, "run-operation", "slow")
    _taken(ahead)
    time.sleep(1)
    assert ahead.process.poll() is None  # running the query
    slow.send_signal(signal.SIGKILL)
    slow.wait()
    assert ahead.process.wait(timeout=30) == -signal.SIGKILL  # as a dbt process killed would


@pytest.fixture
def stand_in():
    """A socket a stand-in listens at, and a launcher (``hand_over``) handing it a build; what the launcher sent
    is read, and its streams closed here (held, its error pipe would never close)."""
    import socket
    import sys
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="tracker-dbt-test-"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(folder / "s"))
    listener.listen(1)
    launcher = subprocess.Popen([sys.executable, "-c", (
        "import sys\n"
        "from assets.dbt_ahead import hand_over\n"
        f"sys.exit(hand_over({str(folder / 's')!r}, ['build']))\n")], cwd=Path(dbt_ahead.__file__).parent.parent,
        stderr=subprocess.PIPE, text=True)
    connection, _ = listener.accept()
    header, descriptors, _, _ = socket.recv_fds(connection, dbt_ahead.HEADER.size, 3)
    command = json.loads(dbt_ahead._exactly(connection, dbt_ahead.HEADER.unpack(header)[0]))
    for descriptor in descriptors:
        os.close(descriptor)
    assert command["arguments"] == ["build"] and len(descriptors) == 3
    yield launcher, connection
    launcher.kill()
    listener.close()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("when", ["before it has the command", "after"])
def test_an_interrupt_of_the_launcher_reaches_the_build(stand_in, when):
    """SIGINT to the launcher is passed to the process running the build, even one that comes while the command
    is being handed over (kept, and passed on once the process has it). A stand-in takes the command, so what
    is checked is the launcher alone, deterministically: the build it names is a sleeping process."""
    import sys

    launcher, connection = stand_in
    build = subprocess.Popen([sys.executable, "-c", (  # a run started in the background inherits SIGINT ignored
        "import signal, time; signal.signal(signal.SIGINT, signal.SIG_DFL); time.sleep(120)")])
    try:
        if when == "before it has the command":
            launcher.send_signal(signal.SIGINT)
            time.sleep(0.5)  # the launcher keeps it: nobody to pass it to yet
            assert launcher.poll() is None and build.poll() is None
        connection.sendall(f"{build.pid}\n".encode())
        if when == "after":
            time.sleep(0.5)
            launcher.send_signal(signal.SIGINT)
        assert build.wait(timeout=30) == -signal.SIGINT  # passed on to the build
        assert launcher.poll() is None  # which says how it ended, not the launcher
        connection.sendall(b"130\n")
        assert launcher.wait(timeout=30) == 130
    finally:
        build.kill()


def test_an_interrupt_before_anyone_takes_the_command_ends_the_launcher(stand_in):
    launcher, connection = stand_in
    launcher.send_signal(signal.SIGINT)
    time.sleep(0.5)
    connection.close()  # the process went without taking it
    _, err = launcher.communicate(timeout=30)
    assert launcher.returncode == 128 + signal.SIGINT and "Traceback" not in err


@pytest.mark.parametrize("after", ["None", "lambda: time.sleep(600)"], ids=["importing", "waiting to be told"])
def test_a_run_killed_leaves_it_to_end_and_clear_up_by_itself(tmp_path, after):
    """``tracker run`` killed: nothing stops the process, but its input closes, and it ends and removes its folder,
    whether it was importing dbt or still waiting to be told to."""
    import sys

    found = tmp_path / "found"
    parent = subprocess.Popen([sys.executable, "-c", (
        "import pathlib, time\n"
        "from assets import dbt_ahead\n"
        f"ahead = dbt_ahead.start(after={after})\n"
        f"pathlib.Path({str(found)!r}).write_text(f'{{ahead.process.pid}} {{ahead.folder}}')\n"
        "time.sleep(60)\n")], cwd=Path(dbt_ahead.__file__).parent.parent)
    deadline = time.monotonic() + 30
    while not found.exists() or not found.read_text():
        assert time.monotonic() < deadline and parent.poll() is None
        time.sleep(0.05)
    pid, folder = found.read_text().split(" ", 1)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 60
    while Path(folder).exists() or Path(f"/proc/{pid}").exists() and "Z" != _state(pid):
        assert time.monotonic() < deadline, "the process or its folder outlived the run"
        time.sleep(0.1)


def _state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_unused_it_ends_with_the_run_and_leaves_nothing(ahead):
    assert os.environ[dbt_ahead.AHEAD_VARIABLE] == str(ahead.socket)
    _waiting(ahead)
    deadline = time.monotonic() + 60
    while "_duckdb" not in _modules(ahead.process.pid):  # started at once: it imports dbt and its adapter
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ahead.stop()
    assert ahead.process.returncode == 0
    assert not ahead.folder.exists() and dbt_ahead.AHEAD_VARIABLE not in os.environ


def test_without_a_process_the_launcher_runs_dbt_itself(monkeypatch, project, tmp_path):
    assert dbt_ahead.hand_over(str(tmp_path / "none.sock"), ["--version"]) is None
    (tmp_path / "stale.sock").touch()  # a file where a socket was: nobody listening
    assert dbt_ahead.hand_over(str(tmp_path / "stale.sock"), ["--version"]) is None
    monkeypatch.setenv(dbt_ahead.AHEAD_VARIABLE, str(tmp_path / "none.sock"))
    done = _launch(dbt_launcher(tmp_path / "home"), project, "run-operation", "said")
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0 and "word hello" in out


def test_where_no_socket_can_be_made_dbt_starts_as_before(monkeypatch, tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)  # a socket's path is limited to about 100 characters
    deep.mkdir(parents=True)
    monkeypatch.setattr(dbt_ahead.tempfile, "tempdir", str(deep))
    monkeypatch.delenv(dbt_ahead.AHEAD_VARIABLE, raising=False)
    assert dbt_ahead.start() is None
    assert dbt_ahead.AHEAD_VARIABLE not in os.environ and list(deep.iterdir()) == []  # nothing left half made


def test_its_socket_is_in_a_folder_only_this_user_can_enter(ahead):
    assert ahead.folder.stat().st_mode & 0o077 == 0
    assert len(str(ahead.socket)) < 100


def test_a_process_that_died_before_the_command_leaves_it_to_the_launcher(ahead, project, tmp_path):
    ahead.process.kill()  # before or during its imports: the socket is there, nobody will take the command
    ahead.process.wait()
    done = _launch(dbt_launcher(tmp_path / "home"), project, "run-operation", "said")
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0 and "word hello" in out and "Traceback" not in err


def _gated(monkeypatch, fails: bool = False):
    """A process to start once the returned event is set (``after``), as ``tracker run`` starts it once GX is in."""
    import threading

    monkeypatch.delenv(dbt_ahead.AHEAD_VARIABLE, raising=False)
    gate = threading.Event()

    def after() -> None:
        gate.wait(60)
        if fails:
            raise RuntimeError("what it waited for went wrong")

    return dbt_ahead.start(after=after), gate


@pytest.mark.parametrize("fails", [False, True], ids=["after returns", "after raises"])
def test_started_after_something_it_starts_only_then_and_an_early_launcher_waits_for_it(monkeypatch, project,
                                                                                        tmp_path, fails):
    ahead, gate = _gated(monkeypatch, fails)
    try:
        assert os.environ[dbt_ahead.AHEAD_VARIABLE] == str(ahead.socket) and ahead.socket.exists()
        done = _launch(dbt_launcher(tmp_path / "home"), project, "run-operation", "said", word="early")
        time.sleep(1)
        assert ahead.process.poll() is None and done.poll() is None  # it waits to be told; the launcher waits
        assert ahead.socket.exists() and "_duckdb" not in _modules(ahead.process.pid)  # nor dbt's adapter imported
        gate.set()
        out, err = done.communicate(timeout=120)
        assert done.returncode == 0 and "word early" in out, out[-1500:] + err[-1500:]
        assert ahead.process.wait(timeout=30) == 0 and not ahead.socket.exists()  # it was the one that ran it
        assert "Traceback" not in err
    finally:
        gate.set()
        ahead.stop()
    assert not ahead.folder.exists() and dbt_ahead.AHEAD_VARIABLE not in os.environ


def test_stopped_before_it_started_it_never_starts_and_a_waiting_launcher_runs_dbt_itself(monkeypatch, project,
                                                                                          tmp_path):
    import threading

    ahead, gate = _gated(monkeypatch)
    done = _launch(dbt_launcher(tmp_path / "home"), project, "run-operation", "said", word="cold")
    time.sleep(1)
    ahead.stop()  # the run ended (or failed) before what it waited for came
    assert ahead.process.returncode == 0  # it ended without importing dbt
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0 and "word cold" in out and "Traceback" not in err
    gate.set()
    deadline = time.monotonic() + 10
    while [t for t in threading.enumerate() if t.name == "dbt-ahead"]:  # it tells nobody: the process has gone
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not ahead.folder.exists() and dbt_ahead.AHEAD_VARIABLE not in os.environ


def _modules(pid: int) -> str:
    """The files a process has mapped: one that has imported dbt's adapter has mapped DuckDB's library."""
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("sends", [[b"4242\n7\n"], [b"42", b"42\n", b"7", b"\n"], [b"4242\n", b"7\n"]],
                         ids=["both lines in one write", "each line in pieces", "a line a write"])
def test_the_process_id_and_exit_code_are_read_however_they_arrive(tmp_path, sends):
    """On a busy machine a short build's process id and exit code reached the launcher in one read, which took
    them for one number and ended with a traceback: each line is read on its own, whatever the reads."""
    import socket
    import threading
    import time

    path = str(tmp_path / "dbt.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)
    got = {}

    def the_process() -> None:
        connection, _ = listener.accept()
        with connection:
            header, fds, _flags, _address = socket.recv_fds(connection, dbt_ahead.HEADER.size, 3)
            for fd in fds:
                os.close(fd)
            size, = dbt_ahead.HEADER.unpack(header)
            command = b""
            while len(command) < size:
                command += connection.recv(size - len(command))
            got["command"] = json.loads(command)
            for piece in sends:
                connection.sendall(piece)
                time.sleep(0.05)

    serving = threading.Thread(target=the_process)
    serving.start()
    try:
        assert dbt_ahead.hand_over(path, ["build", "--select", "x"]) == 7
    finally:
        serving.join(timeout=10)
        listener.close()
    assert got["command"]["arguments"] == ["build", "--select", "x"]


def test_what_it_imports_ahead_is_frozen_so_no_collection_walks_it():
    """dbt's modules and schemas live as long as the process: frozen once imported, a national build's collections
    took 0.32 s instead of 0.49 s, each stopping both of dbt's threads. Looked at in a process of its own, as it
    runs, so this test's own collector is left as it was."""
    code = "import gc; from assets import dbt_ahead; dbt_ahead._warmed(); print(gc.get_freeze_count())"
    done = subprocess.run([sys.executable, "-c", code], cwd=CHECKOUT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) > 0
