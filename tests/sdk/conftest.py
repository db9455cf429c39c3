"""Conformance harness: the tracking libraries themselves, unmodified, against
a live Tributary server; the tests then read what was stored.

Node libraries come from ``tests/sdk/node/package-lock.json`` through
``npm ci`` (run here when ``node_modules`` is missing or older than the
lockfile); Python libraries are pinned in the ``dev`` extra.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sources.services.keys import create_source

NODE_DIR = Path(__file__).parent / "node"
_STAMP = NODE_DIR / "node_modules" / ".tributary-lock-sha256"


def install_node_libraries() -> None:
    """``npm ci`` from the committed lockfile, once per lockfile version."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("tests/sdk needs Node.js and npm (Debian: apt-get install nodejs npm)")
    wanted = hashlib.sha256((NODE_DIR / "package-lock.json").read_bytes()).hexdigest()
    with open(NODE_DIR / "package-lock.json", "rb") as lockfile:
        fcntl.flock(lockfile, fcntl.LOCK_EX)  # two test runs never install at once
        if _STAMP.exists() and _STAMP.read_text() == wanted:
            return
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=300,
        )
        _STAMP.write_text(wanted)


@pytest.fixture(scope="session")
def node_libraries():
    install_node_libraries()
    return NODE_DIR


@pytest.fixture
def keyed(db):
    """A server-side source and its write key."""
    return create_source(name="Backend", kind="server")


@pytest.fixture
def run_node(node_libraries, live_server, keyed):
    """Run a scenario through a Node library (``send.mjs``); returns its errors."""
    _, key = keyed

    def run(library: str, calls: list[dict], *, clock_offset_seconds: int = 0) -> list[str]:
        scenario = {
            "library": library,
            "host": live_server.url,
            "writeKey": key,
            "clockOffsetSeconds": clock_offset_seconds,
            "calls": [{"method": method, "args": args} for method, args in calls],
        }
        done = subprocess.run(
            ["node", str(node_libraries / "send.mjs")],
            input=json.dumps(scenario),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])["errors"]

    return run
