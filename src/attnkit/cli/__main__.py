"""``python -m attnkit.cli ...`` (what ``torchrun -m attnkit.cli train TASK`` starts)."""

import sys

from attnkit.cli import main

sys.exit(main())
