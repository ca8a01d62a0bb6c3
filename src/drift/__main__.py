"""`python -m drift` is the `drift` command."""

from drift.cli.drift import main

raise SystemExit(main())
