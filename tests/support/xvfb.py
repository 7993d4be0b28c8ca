"""Start a private Xvfb display: for the real-window tests and the launch benchmark."""

from __future__ import annotations

import os
import subprocess


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """An Xvfb on a free display number (Xvfb picks it and reports it through -displayfd)."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read_fd, 16)
        if not chunk:
            proc.kill()
            raise RuntimeError("Xvfb did not start")
        number += chunk
    os.close(read_fd)
    return proc, f":{number.decode().strip()}"
