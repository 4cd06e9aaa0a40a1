"""``python -m pikku_cli``: the ``pikku`` developer command."""

import sys

from ._main import main

sys.exit(main())
