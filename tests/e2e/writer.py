"""A client application for the demo: appends numbered records to a file in a replicated
directory, each made durable (fsync) before it counts as acknowledged, and prints
"ack N <monotonic time>" for each. Stops at the first failure (the mount went read-only or
away) and prints "stop <errno name> <time>". Usage: writer.py FILE FIRST_SEQ INTERVAL_S"""

import errno
import os
import sys
import time

path, seq, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
while True:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"record {seq}\n".encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        print(f"stop {errno.errorcode.get(e.errno, e.errno)} {time.monotonic():.6f}", flush=True)
        sys.exit(0)
    print(f"ack {seq} {time.monotonic():.6f}", flush=True)
    seq += 1
    time.sleep(interval)
