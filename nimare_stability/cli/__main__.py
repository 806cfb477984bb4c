"""``python -m nimare_stability.cli``: the ``nimare-stability`` command."""

import sys

from nimare_stability.cli import main

sys.exit(main())
