"""CLI commands, one module each; every command module exposes `command` (cli.COMMAND_MODULES lists them).
Commands parse options and call the library; params.py holds the option types they share."""
