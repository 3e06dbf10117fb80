"""Test-wide settings: Qt renders offscreen; torch stays on few threads on this 2-core box."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Runs, recovery files and user blocks go to a throwaway folder, never the user's own.
os.environ["DEEPWIRE_DATA_DIR"] = tempfile.mkdtemp(prefix="deepwire-test-data-")
atexit.register(shutil.rmtree, os.environ["DEEPWIRE_DATA_DIR"], True)
