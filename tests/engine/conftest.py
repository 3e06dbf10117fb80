"""Fixtures shared by the engine tests."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test: small models train fastest (and most steadily on a busy
    2-core box) that way. Training test modules use it for every test through ``pytestmark``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def run_main(capsys):
    """Factory: ``run_main(argv)`` → (exit code, stdout, stderr) of ``python main.py ARGV``, run
    in this process; an argparse exit (``--help``, a bad choice) gives its code."""
    import main

    def run(argv: list[str]) -> tuple[int, str, str]:
        try:
            code = main.main(argv)
        except SystemExit as exc:
            code = exc.code
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def assert_ruff_clean():
    """Callable: ``assert_ruff_clean(paths)`` fails with ruff's report unless the generated files
    pass ``ruff check`` (pycodestyle, pyflakes, isort, bugbear, pyupgrade rules) with no project
    config; skips the test where ruff is not installed."""

    def check(paths: list) -> None:
        ruff = shutil.which("ruff")
        if ruff is None:
            pytest.skip("ruff is not installed")
        proc = subprocess.run(
            [ruff, "check", "--isolated", "--select", "E,F,W,I,B,UP", *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout[-3000:]

    return check
