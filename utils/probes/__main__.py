"""`python -m utils.probes [--legacy]`: print the behaviour matrix as JSON."""

import sys

from utils.probes import main

sys.exit(main())
