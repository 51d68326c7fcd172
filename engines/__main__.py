"""The command line: ``python -m engines <command> …`` (see ``python -m engines --help``)."""
import gc

from .cli.main import main

if __name__ == "__main__":
    code = main()
    # The command is done: move every live object out of the collector's reach, so the interpreter's exit does not
    # walk torch's whole object graph once more (0.3-0.4 s of a one-photo invert on 2 cores; atexit handlers and
    # file flushing run as usual). Only here, in the command's own process: `main()` is also called in-process.
    gc.freeze()
    raise SystemExit(code)
