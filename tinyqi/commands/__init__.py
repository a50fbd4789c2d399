"""CLI commands, one module each; every module exposes `command`. Commands parse options and call the library."""
