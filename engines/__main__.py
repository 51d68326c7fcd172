"""The command line: ``python -m engines <command> …`` (see ``python -m engines --help``)."""
from .cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
