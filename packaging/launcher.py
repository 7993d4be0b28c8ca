"""Entry point of the frozen app: the same program as `python -m desktop`."""

import sys

from desktop.shell.cli import main

if __name__ == "__main__":
    sys.exit(main())
