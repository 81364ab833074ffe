"""A hostile Python renderer for the isolation tests: three misbehaviours, chosen by the subject.

- subject `accumulate`: the 2016 bug in Python. A module-level list keeps every recipient this
  instance has seen, and every message prints all of them. In a reused instance message N carries
  N addresses; through isomail it must carry exactly one.
- subject `probe`: a capability probe. The recipient's `probe` column names one thing a Python
  program would try (environment, arguments, files, clocks, randomness, stdio, sockets,
  subprocesses, exit); the message reports what it saw, as `<probe>: ok <value>` or
  `<probe>: raised <exception>`, after a `me=<address>` line that shows the report carries what
  the renderer does see. A call that traps (componentize-py's `--stub-wasi` stubs) fails the
  message instead, which the test pins too.
- subject `big`: a text of as many `x` as the recipient's `size` column says, to meet the output
  limit with more than the host will copy out of the component.

Every module is imported at the top: componentize-py bundles what the module imported when it
was built, and the sandbox has no file system to import anything from later.
"""

# The codec CPython's socket module encodes host names with; imported here like everything else.
import encodings.idna
import os
import random
import secrets
import socket
import subprocess
import sys
import time

import wit_world
from wit_world.imports.types import Content, Recipient, Templates

# The 2016 bug: state that outlives one message.
SEEN: list[str] = []


def attempt(call) -> str:
    try:
        return "ok " + repr(call())
    except BaseException as caught:  # SystemExit too: the probe reports, it does not exit
        return "raised " + type(caught).__name__ + ": " + str(caught)


def set_and_read_environment() -> dict:
    """The control for `env`: the same read reports a variable when there is one."""
    os.environ["ISOMAIL_PROBE_CONTROL"] = "set by the probe"
    return dict(os.environ)


PROBES = {
    "env": lambda email: dict(os.environ),
    "env-control": lambda email: set_and_read_environment(),
    "args": lambda email: sys.argv,
    "cwd": lambda email: os.getcwd(),
    "passwd": lambda email: open("/etc/passwd").read(),
    "listdir": lambda email: os.listdir("/"),
    "proc": lambda email: open("/proc/self/environ", "rb").read(),
    "write": lambda email: open("leak.txt", "w").write(email),
    "time": lambda email: time.time(),
    "monotonic": lambda email: time.monotonic(),
    "random": lambda email: random.random(),
    "urandom": lambda email: os.urandom(8).hex(),
    "secrets": lambda email: secrets.token_hex(8),
    "hash": lambda email: hash("the same input"),
    "socket": lambda email: socket.create_connection(("127.0.0.1", 25), timeout=1),
    "subprocess": lambda email: subprocess.run(["/bin/sh", "-c", "id"], capture_output=True),
    "stdin": lambda email: sys.stdin.read(),
    "stdout": lambda email: print("stdout sees", email),
    "stderr": lambda email: print("stderr sees", email, file=sys.stderr),
    "exit": lambda email: sys.exit(7),
    "_exit": lambda email: os._exit(7),
}


class WitWorld(wit_world.WitWorld):
    def render(self, templates: Templates, recipient: Recipient) -> Content:
        if templates.subject == "accumulate":
            SEEN.append(recipient.email)
            return Content(subject="accumulate", text="\n".join(SEEN) + "\n", html=None)
        if templates.subject == "big":
            size = int(dict(recipient.fields)["size"])
            return Content(subject="big", text="x" * size, html=None)
        name = dict(recipient.fields).get("probe", "")
        probe = PROBES.get(name)
        seen = attempt(lambda: probe(recipient.email)) if probe else "no such probe"
        return Content(
            subject="probe", text=f"me={recipient.email}\n{name}: {seen}\n", html=None
        )
