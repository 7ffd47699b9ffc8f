"""Sub-commands of the ``vsodboost`` CLI (one module each, listed in :data:`vsodboost.cli.COMMANDS`)."""
