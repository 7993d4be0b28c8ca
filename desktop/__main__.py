import sys

from desktop.shell.cli import main

if __name__ == "__main__":
    sys.exit(main())
