"""Test-wide settings: Qt renders offscreen; torch stays on few threads on this 2-core box."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
