"""`python -m benchmarks --help`."""

from benchmarks.harness import main

raise SystemExit(main())
