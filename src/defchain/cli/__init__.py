"""The ``defchain`` command-line tool: thin commands, one module per domain."""
