"""`python -m registry`: see registry/fronts/cli.py."""

import sys
import warnings

from registry.fronts.cli import main

warnings.filterwarnings("ignore", category=FutureWarning)
sys.exit(main())
