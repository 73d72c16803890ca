"""This machine: what a measurement ran on (TensorFlow not imported), and a free local port for a server."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
from importlib import metadata
from pathlib import Path


def machine_info() -> dict:
    """CPU model, core count, Python, TensorFlow and Keras versions, and today's date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "tensorflow": metadata.version("tensorflow"), "keras": metadata.version("keras"),
            "date": dt.date.today().isoformat()}


def free_port() -> int:
    """A TCP port nobody listens on, on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
