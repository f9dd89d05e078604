"""`run_python`, offered only with `--allow-code`: the code runs in a separate, isolated
Python process (`-I`), in an empty temporary folder, killed after a timeout."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Callable


def python_runner(timeout: float = 10.0, max_chars: int = 4000) -> Callable[[str], str]:
    def run_python(code: str) -> str:
        """Run a Python program and return what it printed (stdout and stderr).

        Args:
            code: a complete Python program; use print() to show results.
        """
        with tempfile.TemporaryDirectory(prefix="agent-code-") as folder:
            try:
                done = subprocess.run([sys.executable, "-I", "-c", code], cwd=folder,
                                      capture_output=True, text=True, timeout=timeout,
                                      stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                return f"error: the program ran longer than {timeout:g} s and was stopped"
        out = (done.stdout + done.stderr).strip() or "(no output)"
        if done.returncode:
            out = f"exit code {done.returncode}\n{out}"
        return out if len(out) <= max_chars else out[:max_chars] + "\n[... cut]"

    return run_python
