"""``python -m pikku_queue_arq``: the same as the ``pikku-queue-arq`` command."""

import sys

from ._cli import main

sys.exit(main())
