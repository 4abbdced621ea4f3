"""``python -m django_bolt``: see ``django_bolt.cli``."""

import sys

from .cli import main

sys.exit(main())
