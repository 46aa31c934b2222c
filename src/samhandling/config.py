"""Where the warehouse lives.

Order: ``--warehouse DIR``, else ``$SAMHANDLING_HOME``, else ``./samhandling-data``.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_WAREHOUSE_DIRNAME = "samhandling-data"
ENV_HOME = "SAMHANDLING_HOME"


def warehouse_dir(explicit: str | Path | None = None) -> Path:
    """Resolve the warehouse folder in the documented order of precedence."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / DEFAULT_WAREHOUSE_DIRNAME).resolve()
