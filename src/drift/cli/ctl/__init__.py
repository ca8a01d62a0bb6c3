"""``driftctl`` subcommand groups, one module each (registered in ``drift.cli.driftctl``)."""
