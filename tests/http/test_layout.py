"""The source tree's shape (README "Architecture"): server/ is a framework that compiles without
api/, and no header or source file reaches itself through its includes."""
import glob
import os
import re

from lib import expect, test

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def includes():
    graph = {}
    for path in glob.glob("server/**/*.[ch]", recursive=True) + glob.glob("api/**/*.[ch]", recursive=True):
        graph[path] = [i for i in INCLUDE.findall(open(path).read()) if os.path.exists(i)]
    return graph


@test
def server_knows_nothing_of_api(ctx):
    """server/ includes nothing from api/: the product registers itself (server/app.h)"""
    bad = sorted("%s -> %s" % (f, i) for f, deps in includes().items() if f.startswith("server/")
                 for i in deps if i.startswith("api/"))
    expect(not bad, "back-edges from server/ to api/: %s", bad)


@test
def no_include_circle(ctx):
    """no file of server/ or api/ includes itself through a circle of headers, and a module's .c
    and .h count as one (so http.c -> worker.h -> ... -> http.h is a circle too)"""
    graph = includes()
    module = {}
    for f, deps in graph.items():
        m = os.path.splitext(f)[0]
        module.setdefault(m, set()).update(os.path.splitext(d)[0] for d in deps)
    for m in module:
        module[m].discard(m)
    state, circles = {}, []

    def visit(m, path):
        state[m] = 1
        for d in sorted(module.get(m, ())):
            if state.get(d) == 1:
                circles.append(" -> ".join(path[path.index(d):] + [d]))
            elif d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(module):
        if m not in state:
            visit(m, [m])
    expect(not circles, "include circles: %s", circles)


@test
def every_option_is_documented(ctx):
    """README's configuration table lists every option `allied --help` prints, with the same default"""
    import subprocess
    from lib import BIN
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, timeout=30).stdout
    opts = re.findall(r"^  ((?:ALLIED_|DATABASE_)[A-Z_]+) .*\(default: ([^)]*)\)$", out, re.M)
    expect(len(opts) >= 30, "options in --help: %r", opts)
    table = open("README.md").read().split("## Configuration", 1)[-1].split("\n## ", 1)[0]
    missing = []
    for name, default in opts:
        shown = "`%s`" % default if default != "none" else None
        row = re.search(r"^\| `%s` \| ([^|]*) \|" % name, table, re.M)
        if not row or (shown and row.group(1).strip() != shown):
            missing.append("%s (default %s)" % (name, default))
    expect(not missing, "not in README's configuration table, or with another default: %s", missing)
