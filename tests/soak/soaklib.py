"""What the soak scripts share: the HTTP test harness, and a private PostgreSQL cluster with the
schema migrated and `allied serve` running on it."""
import contextlib
import os
import subprocess
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "http"))
import lib  # noqa: E402


@contextlib.contextmanager
def server(name, **env):
    """Yields a running lib.Server on a migrated database: DATABASE_URL if set, else a private
    cluster under .pg/ that is removed afterwards."""
    os.chdir(TOP)
    lib.BIN = os.environ.get("ALLIED_BIN", os.path.join(TOP, "build", "allied"))
    pgdir = None
    if not os.environ.get("DATABASE_URL"):
        pgdir = os.path.join(TOP, ".pg", "%s-%d" % (name, os.getpid()))
        os.environ["DATABASE_URL"] = subprocess.check_output(["sh", "scripts/pg.sh", "start", pgdir], text=True).strip()
    try:
        subprocess.run([lib.BIN, "migrate"], check=True, capture_output=True)
        srv = lib.Server(**env)
        try:
            yield srv
        finally:
            srv.stop()
    finally:
        if pgdir:
            subprocess.run(["sh", "scripts/pg.sh", "stop", pgdir], capture_output=True)
            subprocess.run(["rm", "-rf", pgdir])
            del os.environ["DATABASE_URL"]
