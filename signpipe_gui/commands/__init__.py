"""The subcommands of ``signpipe``, each imported only when it runs (no Qt here)."""
