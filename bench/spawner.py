"""A small process that starts the bench's measured commands, so that their peak memory is their own.

The kernel counts a child's peak resident memory (``ru_maxrss``) from the moment it is forked, and until it executes
its command the child is the process it was forked from. Started from the bench itself, which by then held pandas'
frames of the side-by-side marts, the scaling run's builds after its largest point were each charged the bench's
own 683 MB. Started from this process, a few megabytes, the figure is the command's. One command at a time: a JSON
line in, a JSON line out; it ends when the bench closes its input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def serve() -> None:
    for line in sys.stdin:
        job = json.loads(line)
        with open(job["log"], "w") as out:
            started = time.perf_counter()
            process = subprocess.Popen(job["command"], cwd=job["cwd"], env=job["env"], stdout=out,
                                       stderr=subprocess.STDOUT)
            _pid, status, usage = os.wait4(process.pid, 0)
            seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024,
                          "returncode": os.waitstatus_to_exitcode(status),
                          "cpu_seconds": usage.ru_utime + usage.ru_stime}), flush=True)


if __name__ == "__main__":
    try:
        serve()
    except KeyboardInterrupt:  # Ctrl-C reaches the whole group: the command stops itself, the bench says so
        sys.exit(130)
