"""CLI commands, one module per command group; `main` wires them into one argparse parser."""
