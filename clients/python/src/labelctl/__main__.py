"""`python -m labelctl`: the CLI."""
import sys

from labelctl.cli import main

sys.exit(main())
