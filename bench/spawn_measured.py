"""Run one command and record its wall time and its own peak memory, measured from a small process.

    python bench/spawn_measured.py REPORT.json COMMAND [ARG...]

Why a separate launcher: on Linux a child's ru_maxrss starts from the resident size of the process that
launched it (exec keeps the high-water mark of the address space it replaces, and subprocess's vfork shares
the parent's). Launched straight from the benchmark runner, which has just parsed half a gigabyte of CSV
with polars, even `true` would report the runner's size. Launched from this small interpreter (≈ 10 MiB,
nothing imported beyond the standard library), the figure is the command's own.

The command inherits stdin, stdout and stderr. The report holds seconds, maxrss (as getrusage gives it) and
the exit code; this launcher exits 0 whenever it could run the command.
"""

import json
import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    report_path, command = argv[0], argv[1:]
    started = time.perf_counter()
    proc = subprocess.Popen(command)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    report = {"seconds": seconds, "maxrss": usage.ru_maxrss, "returncode": proc.returncode}
    with open(report_path, "w", encoding="utf-8") as out:
        json.dump(report, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
