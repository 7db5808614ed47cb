"""The `schoolgate` console command: Django's management entry point.

`schoolgate migrate`, `schoolgate sync …`, `schoolgate accounts …` all land here.
"""

import os
import sys


def main() -> None:
    """Run a management command with Schoolgate's settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "schoolgate.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
