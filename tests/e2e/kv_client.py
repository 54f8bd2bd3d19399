"""The client of the key-value service (kv_service.py), run in the client's namespace.

  kv_client.py write URL PREFIX FIRST_SEQ INTERVAL_S
      PUTs PREFIX-<seq> = v<seq> for seq = FIRST_SEQ, FIRST_SEQ+1, ... one at a time, each
      retried (same key, same value) until a 200 comes back, and prints
      "ack <seq> <monotonic time>" for each acknowledged one. Until SIGTERM; then prints
      "stopped <retries>" (how many attempts failed) and exits 0.
  kv_client.py read URL
      prints the service's whole store (GET /kv) as JSON, or fails.

Every request is a new connection with a short timeout, so a client waiting on a dead server
notices within REQUEST_TIMEOUT_S and the measured outage stays close to the real one.
"""

import signal
import sys
import time
import urllib.error
import urllib.request

REQUEST_TIMEOUT_S = 0.25


def put(url, key, value):
    request = urllib.request.Request(f"{url}/kv/{key}", data=value.encode(), method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as reply:
            return reply.status == 200
    except (OSError, urllib.error.URLError):
        return False


def write(url, prefix, seq, interval):
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    retries = 0
    while not stopping:
        if put(url, f"{prefix}-{seq}", f"v{seq}"):
            print(f"ack {seq} {time.monotonic():.6f}", flush=True)
            seq += 1
            time.sleep(interval)
        else:
            retries += 1
            time.sleep(0.01)
    print(f"stopped {retries}", flush=True)


def read(url):
    with urllib.request.urlopen(f"{url}/kv", timeout=10) as reply:
        sys.stdout.write(reply.read().decode())


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
    elif sys.argv[1] == "read":
        read(sys.argv[2])
    else:
        sys.exit(f"kv_client.py: unknown command {sys.argv[1]!r} (write or read)")
