"""A dbt process started ahead of a run's ``dbt build``, which takes the build over when it comes.

Starting dbt costs about two seconds before it reads the project: importing dbt-core and the adapter, and
building the JSON schemas it checks the project and profile against. ``tracker run`` starts this process once
Dagster has loaded, and tells it to import once Great Expectations' process has imported GX
(``start(after=...)``), so that work happens on the machine's other core while the steps before the marts run,
and never beside another import: three processes on two cores slowed the run's own steps by about a second. When
the marts step starts dbt, the launcher (``dbt_command``) connects to this process's socket and hands it the
command: its arguments, working folder, environment and its standard input, output and error (passed as file
descriptors), so dbt writes to the pipe Dagster reads, exactly as a dbt started there would. The launcher
forwards an interrupt, and ends with dbt's exit code; if the launcher is killed, so is this process.

Used once: the socket is removed when the command arrives. Without one (a run from Dagster's UI, another dbt
configured), or if it has gone, the launcher runs dbt itself as before. The socket lives in a folder only this
user can enter; the process ends when its standard input (a pipe from ``tracker run``) closes, so a run that
never reached the marts, or was killed, leaves nothing behind.
"""

from __future__ import annotations

import gc
import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from tracker.process_exit import end_child, leave, python_child

AHEAD_VARIABLE = "TRACKER_DBT_AHEAD"  # the socket of the dbt process started ahead, for the launcher
WAITS, GO = "--wait", b"g"  # started to wait before importing, until it reads GO on its input
HEADER = struct.Struct("!Q")  # the length of the command that follows the file descriptors
SCHEMAS = [  # what dbt checks its project and profile against, built once a process (dbt_common's json_schema)
    ("dbt.contracts.project", ["ProjectFlags", "ProfileConfig", "Project", "PackageConfig", "Configuration"]),
    ("dbt.contracts.selection", ["SelectorFile"]),
    ("dbt.adapters.duckdb.credentials", ["DuckDBCredentials"]),
]


class DbtAhead:
    """The process started ahead, its private folder, and the variable that tells the launcher where it is."""

    def __init__(self, after: Callable[[], None] | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tracker-dbt-"))  # 0700: only this user can reach the socket
        self.socket = self.folder / "dbt.sock"  # short: a socket's path is limited to about 100 characters
        self._telling = threading.Lock()
        self._stopped = False
        try:
            self._start(waits=after is not None)
        except OSError:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        if after is not None:
            threading.Thread(target=self._go_after, args=(after,), name="dbt-ahead", daemon=True).start()

    def _start(self, waits: bool) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(self.socket))  # here, so a launcher however early finds it, and waits for the imports
            listener.listen(1)
            self.process = python_child(
                "assets.dbt_ahead", str(self.socket), str(listener.fileno()), *([WAITS] if waits else []),
                environment={"PYTHONUNBUFFERED": "1"},  # as dagster-dbt starts dbt: its lines as they come
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=[listener.fileno()])
        os.environ[AHEAD_VARIABLE] = str(self.socket)

    def _go_after(self, after: Callable[[], None]) -> None:
        try:
            after()
        except Exception:  # noqa: BLE001  (whatever went wrong with what it waited for, dbt is still wanted)
            pass
        with self._telling:
            if not self._stopped:
                try:
                    self.process.stdin.write(GO)
                    self.process.stdin.flush()
                except OSError:  # it has gone: a launcher runs dbt itself
                    pass

    def stop(self) -> None:
        """End it if it is still waiting (closing its input), or wait for the build it took over to end."""
        with self._telling:  # never while it is being told to go
            self._stopped = True
        if os.environ.get(AHEAD_VARIABLE) == str(self.socket):
            del os.environ[AHEAD_VARIABLE]
        end_child(self.process, within=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def start(after: Callable[[], None] | None = None) -> DbtAhead | None:
    """The process, importing dbt at once, or once ``after`` returns (it waits, started, until told to go: a run
    killed meanwhile still leaves nothing behind); None where no socket can be made (a temporary folder too deep
    for one, or not writable): dbt then starts as it always did, in the launcher."""
    try:
        return DbtAhead(after)
    except OSError:
        return None


def hand_over(path: str, arguments: list[str]) -> int | None:
    """Give the command to the process waiting at ``path`` and return dbt's exit code; None if none took it.

    An interrupt of the launcher is an interrupt of dbt: one that comes while the command is being handed over
    is kept and passed on once the process has it, or, if none takes it, ends the launcher as it would have."""
    builder: list[int] = []  # the process running the build, once it has the command
    waiting: list[int] = []  # interrupts that came before it had

    def forward(received: int, _frame) -> None:
        if not builder:
            waiting.append(received)
            return
        try:
            os.kill(builder[0], received)
        except ProcessLookupError:
            pass

    before = {number: signal.signal(number, forward) for number in (signal.SIGINT, signal.SIGTERM)}
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lines = _Lines(connection)
    try:
        connection.connect(path)
        command = json.dumps({"arguments": arguments, "folder": os.getcwd(), "environment": dict(os.environ)}
                             ).encode()
        socket.send_fds(connection, [HEADER.pack(len(command))], [0, 1, 2])
        connection.sendall(command)
        taken = lines.next()  # its process id once it has the command: from here on it is its build
    except OSError:
        taken = b""
    if not taken:
        connection.close()
        for number, handler in before.items():
            signal.signal(number, handler)
        if waiting:  # interrupted, and nobody has the build: end as the interrupt would have ended dbt
            return 128 + waiting[0]
        return None
    builder.append(int(taken))
    for received in waiting:
        forward(received, None)
    said = lines.next()
    connection.close()
    if not said:
        print(f"dbt's process ({builder[0]}) ended without saying how the build went.", file=sys.stderr)
        return 2
    return int(said)


class _Lines:
    """The lines the process sends, one at a time, however they arrive: a short build's process id and exit code
    can come in one read (on a busy machine they did, and the two were read as one number)."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.read = b""

    def next(self) -> bytes:
        """The next whole line, stripped; b"" if the connection ends first."""
        while b"\n" not in self.read:
            chunk = self.connection.recv(64)  # retried after a signal's handler (PEP 475)
            if not chunk:
                return b""
            self.read += chunk
        line, _, self.read = self.read.partition(b"\n")
        return line.strip()


def serve(path: str, listening: int, waits: bool = False) -> None:
    """Import dbt (once told to, if it ``waits``), then take one command at ``path`` (the socket ``listening``), run
    it as dbt, report its exit code, and end."""
    from assets.dbt_command import close_warehouse, run_cli

    listener = socket.socket(fileno=listening)
    if waits and os.read(sys.stdin.fileno(), len(GO)) != GO:  # tracker run finished, or went, before it said go
        _remove(path)
        leave(0)
    cli = _warmed()
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1024):  # tracker run has finished or gone
            _remove(path)
            leave(0)
        if listener in ready:
            break
    connection, _ = listener.accept()
    listener.close()
    _remove(path)
    header, descriptors, _, _ = socket.recv_fds(connection, HEADER.size, 3)
    if len(descriptors) != 3 or len(header) != HEADER.size:
        leave(1)  # not a launcher: nothing was taken over
    command = _exactly(connection, HEADER.unpack(header)[0])
    request = json.loads(command)
    for number, descriptor in enumerate(descriptors):
        os.dup2(descriptor, number)
        os.close(descriptor)
    os.chdir(request["folder"])
    os.environ.clear()
    os.environ.update(request["environment"])
    sys.argv = ["dbt", *request["arguments"]]
    connection.sendall(f"{os.getpid()}\n".encode())
    finished = threading.Event()
    threading.Thread(target=_end_with, args=(connection, finished), daemon=True).start()
    code = run_cli(cli)
    close_warehouse()
    sys.stdout.flush()
    sys.stderr.flush()
    finished.set()
    try:
        connection.sendall(f"{code}\n".encode())
    except OSError:
        pass
    leave(code)


def _remove(path: str) -> None:
    """The socket and its folder: used once, and a run killed before it could remove them leaves nothing."""
    Path(path).unlink(missing_ok=True)
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass


def _exactly(connection: socket.socket, size: int) -> bytes:
    read = bytearray()
    while len(read) < size:
        chunk = connection.recv(min(size - len(read), 1 << 16))
        if not chunk:
            raise EOFError("the launcher went before sending its command")
        read += chunk
    return bytes(read)


def _end_with(connection: socket.socket, finished: threading.Event) -> None:
    """The launcher sends nothing more: its end before the build's (killed) closes the connection, and then this
    build ends too, as a dbt process killed would."""
    try:
        while connection.recv(64, socket.MSG_PEEK):
            pass
    except OSError:
        pass
    if not finished.is_set():
        os.kill(os.getpid(), signal.SIGKILL)


def _warmed():
    """dbt's command line, with what every build imports and builds before reading the project done now."""
    import importlib

    from dbt.cli.main import cli

    for module in ("dbt.adapters.duckdb", "dbt.task.build", "dbt.parser.manifest"):
        importlib.import_module(module)
    for module, names in SCHEMAS:
        try:
            classes = importlib.import_module(module)
            for name in names:
                getattr(classes, name).json_schema()
        except (ImportError, AttributeError):  # another dbt version: those it has are built when first used
            pass
    # dbt's modules and schemas live as long as the process: no collection need walk them (a national build's
    # collections took 0.49 s, 0.32 s frozen, each one stopping both of dbt's threads)
    gc.freeze()
    return cli


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), waits=sys.argv[3:] == [WAITS])
