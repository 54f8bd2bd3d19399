"""An application inside one node's mount namespace, driven by a test: it reads one JSON
command a line on stdin, {"op": NAME, "args": [...]}, runs the operation of that name from
mount_ops.py on the node's view of the mount, and answers one JSON line on stdout:
{"ok": RESULT} or {"error": "what failed"}. It keeps running between commands, so a test
pays for entering the namespace once and an open file can stay open across commands.

    nsenter -t PID -m -- python3 mount_agent.py
"""

import json
import sys
import traceback

import mount_ops


def main():
    state = {}  # what one command leaves for a later one (an open descriptor...)
    for line in sys.stdin:
        try:
            command = json.loads(line)
            op = getattr(mount_ops, command["op"])
            answer = {"ok": op(state, *command.get("args", []))}
        except Exception:  # the test shows it; the agent serves the next command
            answer = {"error": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
