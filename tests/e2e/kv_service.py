"""A small real service for the end-to-end tests: an HTTP key-value store on SQLite.

  PUT /kv/KEY  (body = value)  stores it; 200 only once the transaction is committed
  GET /kv/KEY                  the value, or 404
  GET /kv                      every pair as a JSON object

The database lives in the module's replicated directory. WAL journal with synchronous=FULL
(each commit fsyncs the WAL) and EXCLUSIVE locking, so the WAL index lives in the process's
memory rather than in a shared-memory file mapped through the mount. The pid file is written
once the socket listens, so whoever starts the service can wait for it.

Usage: kv_service.py --port PORT --db FILE --pidfile FILE
"""

import argparse
import json
import os
import signal
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Store:
    def __init__(self, path):
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA locking_mode=EXCLUSIVE")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
        self.lock = threading.Lock()

    def put(self, key, value):
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def get(self, key):
        with self.lock:
            row = self.db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def all(self):
        with self.lock:
            return dict(self.db.execute("SELECT k, v FROM kv"))


def handler_for(store):
    class Handler(BaseHTTPRequestHandler):
        def reply(self, code, body):
            data = body.encode()
            try:
                self.send_response(code)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting; it retries the same write

        def do_PUT(self):
            if not self.path.startswith("/kv/"):
                return self.reply(404, "no such path\n")
            value = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
            try:
                store.put(self.path[4:], value)
            except sqlite3.Error as e:  # the mount went read-only or away: not acknowledged
                return self.reply(503, f"not stored: {e}\n")
            self.reply(200, "stored\n")

        def do_GET(self):
            try:
                if self.path == "/kv":
                    return self.reply(200, json.dumps(store.all()))
                if self.path.startswith("/kv/"):
                    value = store.get(self.path[4:])
                    return self.reply(404, "") if value is None else self.reply(200, value)
            except sqlite3.Error as e:
                return self.reply(503, f"cannot read: {e}\n")
            self.reply(404, "no such path\n")

        def log_message(self, *args):
            pass  # one line per request would drown the module log

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--pidfile", required=True)
    args = parser.parse_args()
    store = Store(args.db)
    server = ThreadingHTTPServer(("0.0.0.0", args.port), handler_for(store))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(args.pidfile + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(args.pidfile + ".tmp", args.pidfile)
    print(f"kv_service: serving {args.db} on port {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
