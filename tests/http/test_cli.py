"""The `allied` command line over the real binary: every subcommand answers --help and -h without
doing anything else; wrong arguments and unknown ids get one line on stderr and a non-zero exit,
never a database message."""
import os
import subprocess
import uuid
from lib import test, expect, new_tenant, psql, free_port, Client, BIN

COMMANDS = ["serve", "migrate", "tenant", "key", "routes", "version", "workflow"]
# Where nothing listens: a command that tried to reach the database would fail, not print help.
NO_DB = "postgresql:///allied?host=/nonexistent-allied-socket&user=allied&connect_timeout=1"
DB_WORDS = ("ERROR:", "violates", "constraint", "SQLSTATE", "foreign key", "relation ", "DETAIL")


def run(*args, env=None, timeout=20):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=timeout, env=e,
                          stdin=subprocess.DEVNULL)


@test
def every_command_answers_help(ctx):
    """`allied CMD --help` and `-h` print that command's usage to stdout and exit 0, for every command"""
    for cmd in COMMANDS:
        for flag in ("--help", "-h"):
            out = run(cmd, flag, env={"DATABASE_URL": NO_DB})
            expect(out.returncode == 0, "allied %s %s: exit %d, stderr %r", cmd, flag, out.returncode, out.stderr)
            expect(out.stdout.startswith("usage: allied " + cmd), "allied %s %s printed %r", cmd, flag, out.stdout[:200])
            expect(out.stderr == "", "allied %s %s wrote to stderr: %r", cmd, flag, out.stderr)
    for args in (["--help"], ["-h"], ["help"], ["help", "key"]):
        out = run(*args)
        expect(out.returncode == 0 and out.stdout.startswith("usage: allied"), "allied %s: %r", " ".join(args), out)
    out = run("--help")
    for cmd in COMMANDS:
        expect(("\n  %s " % cmd) in out.stdout, "allied --help does not list %s", cmd)


@test
def help_has_no_side_effects(ctx):
    """--help anywhere after a command does nothing else: serve does not listen, migrate and create touch no database"""
    port = free_port()
    out = run("serve", "--help", env={"ALLIED_LISTEN": "127.0.0.1:%d" % port}, timeout=10)
    expect(out.returncode == 0 and "listening" not in out.stderr, "serve --help: %r", out)
    out = run("migrate", "--help", env={"DATABASE_URL": NO_DB})
    expect(out.returncode == 0, "migrate --help tried the database: %r", out)
    tenant, _ = new_tenant("cli help")
    before = psql("SELECT count(*) FROM tenants") + "/" + psql("SELECT count(*) FROM api_keys")
    for args in (["tenant", "create", "--name", "Nope", "--help"], ["tenant", "create", "-h"],
                 ["key", "create", "--tenant", tenant, "--role", "admin", "-h"], ["key", "--help", "create"]):
        out = run(*args)
        expect(out.returncode == 0 and out.stdout.startswith("usage: allied"), "%s: %r", " ".join(args), out)
    after = psql("SELECT count(*) FROM tenants") + "/" + psql("SELECT count(*) FROM api_keys")
    expect(before == after, "tenants/keys went from %s to %s", before, after)


def one_line_error(args, want, rc=None, env=None):
    out = run(*args, env=env)
    what = "allied " + " ".join(args)
    expect(out.returncode != 0, "%s exited 0: %r", what, out.stdout[:200])
    if rc is not None:
        expect(out.returncode == rc, "%s exited %d, not %d", what, out.returncode, rc)
    lines = out.stderr.splitlines()
    expect(len(lines) == 1, "%s: %d lines on stderr: %r", what, len(lines), out.stderr[:500])
    expect(lines[0].startswith("allied"), "%s: %r", what, lines[0])
    expect(want in lines[0], "%s: %r does not say %r", what, lines[0], want)
    expect(not any(w in lines[0] for w in DB_WORDS), "%s: a database message: %r", what, lines[0])
    expect(out.stdout == "", "%s printed %r", what, out.stdout[:200])


@test
def wrong_arguments_get_one_line(ctx):
    """wrong arguments get one line naming the mistake and exit 2: unknown commands, subcommands, options, missing values"""
    tenant, _ = new_tenant("cli args")
    u = str(uuid.uuid4())
    for args, want in (
        (["nosuch"], 'unknown command "nosuch"'),
        (["nosuch", "--help"], 'unknown command "nosuch"'),
        (["serve", "now"], 'unexpected argument "now"'),
        (["migrate", "--force"], 'unexpected argument "--force"'),
        (["routes", "x"], 'unexpected argument "x"'),
        (["version", "x"], 'unexpected argument "x"'),
        (["workflow", "x"], "no table named x"),
        (["workflow", "referral", "x"], "takes at most one argument"),
        (["tenant"], "missing the subcommand"),
        (["tenant", "delete", "--name", "x"], 'unknown subcommand "delete"'),
        (["tenant", "create"], "--name NAME is required"),
        (["tenant", "create", "--name"], "--name needs a value"),
        (["tenant", "create", "--name", ""], "--name NAME is required"),
        (["tenant", "create", "--name", "x" * 201], "1 to 200 characters"),
        (["tenant", "create", "--nam", "x"], 'unknown option "--nam"'),
        (["tenant", "create", "--name", "a", "--name", "b"], "--name is given twice"),
        (["key"], "missing the subcommand"),
        (["key", "list"], 'unknown subcommand "list"'),
        (["key", "create", "--role", "admin"], "--tenant UUID is required"),
        (["key", "create", "--tenant", "nope", "--role", "admin"], "--tenant must be a tenant id"),
        (["key", "create", "--tenant", tenant], "--role is required"),
        (["key", "create", "--tenant", tenant, "--role", "root"], "--role must be"),
        (["key", "create", "--tenant", tenant, "--role", "partner"], "--role partner needs --partner"),
        (["key", "create", "--tenant", tenant, "--role", "admin", "--partner", u], "--partner goes only with --role partner"),
        (["key", "create", "--tenant", tenant, "--role", "partner", "--partner", "p1"], "--partner must be a partner id"),
        (["key", "create", "--tenant", tenant, "--role", "admin", "extra"], 'unknown argument "extra"'),
    ):
        one_line_error(args, want, rc=2)


@test
def unknown_ids_get_one_line(ctx):
    """`key create` for an unknown tenant or partner says so in one line and exits 1, never a foreign-key error"""
    tenant, admin = new_tenant("cli ids")
    u = str(uuid.uuid4())
    one_line_error(["key", "create", "--tenant", u, "--role", "admin"], "no tenant has the id " + u, rc=1)
    one_line_error(["key", "create", "--tenant", tenant, "--role", "partner", "--partner", u],
                   "has no partner with the id " + u, rc=1)
    other, other_admin = new_tenant("cli ids other")
    p = Client(ctx.MAIN.port, other_admin).post("/v1/partners", {"name": "Elsewhere"}).json
    one_line_error(["key", "create", "--tenant", tenant, "--role", "partner", "--partner", p["id"]],
                   "has no partner with the id", rc=1)
    out = run("key", "create", "--tenant", other, "--role", "partner", "--partner", p["id"], "--name", "ok")
    expect(out.returncode == 0 and '"role": "partner"' in out.stdout, "a right key create failed: %r", out)
    one_line_error(["migrate"], "cannot connect to the database", rc=1, env={"DATABASE_URL": NO_DB})
    one_line_error(["tenant", "create", "--name", "x"], "cannot connect to the database", rc=1, env={"DATABASE_URL": NO_DB})
