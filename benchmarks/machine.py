"""The line every benchmark starts with: the date and the machine its figures come from."""

import os
import platform
import time


def machine() -> str:
    return f"{time.strftime('%Y-%m-%d')} on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
