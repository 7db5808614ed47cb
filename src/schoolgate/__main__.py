"""The `schoolgate` console command: Django's management entry point.

`schoolgate migrate`, `schoolgate sync …`, `schoolgate accounts …` all land here.
"""

import os
import sys


def main() -> None:
    """Run a management command with Schoolgate's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")
    # polars allocates through jemalloc, which by default keeps freed pages for ten seconds: after parsing a
    # large SIS export the process would sit at its high-water mark for the rest of the sync. Returning them
    # at once keeps a million-student sync's peak memory ~0.3 GB lower, within its 2 GiB budget. It costs a
    # large sync 1.5 to 2 s of page faults refilling what was just returned; half a second of decay saved that
    # time but took the churn sync to 2,098 MiB (BENCHMARKS.md, 2026-12-07). Must be set before polars loads.
    os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:0,muzzy_decay_ms:0")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
