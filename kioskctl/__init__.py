"""`kioskctl`: one command line for every process of the stack. It only dispatches; each part
owns its own subcommands in its `cli.py`."""
