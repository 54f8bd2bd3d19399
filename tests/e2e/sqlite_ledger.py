"""A small SQLite application for the end-to-end tests: a ledger in WAL mode that commits
multi-row transactions and says which ones committed, and a checker that tells whether a copy
of the database holds exactly what was committed.

    python3 sqlite_ledger.py write DB [N]   commits the next transactions (1, 2, 3... or on
        from the last one there) until killed, or N of them and then closes the database;
        after each COMMIT returns it prints one line, flushed:
        "<transaction id> <database file size> <WAL file size>"
    python3 sqlite_ledger.py check DB       prints one JSON object: integrity_check's answer,
        the transactions present, and every way the content differs from what transactions
        1..last present wrote (an empty list when it is exact)

Transaction t inserts ROWS_PER_TRANSACTION rows (t, seq, payload, sha256 of the payload) whose
payloads are a pure function of (t, seq), and updates the one totals row (transactions, rows,
payload bytes, last transaction). So a checker recomputes every byte that must be there. The
rows are large enough that the database reaches a few MiB within seconds, and a small
wal_autocheckpoint makes SQLite checkpoint the WAL into the database file many times per run.
"""

import hashlib
import json
import os
import sqlite3
import sys

ROWS_PER_TRANSACTION = 8
PAYLOAD_BYTES = 1500
WAL_AUTOCHECKPOINT_PAGES = 64  # 256 KiB of 4 KiB pages: a checkpoint every ~20 transactions
MAX_TRANSACTIONS = 100000  # a bound only: the tests kill the writer long before


def payload(txid, seq):
    return hashlib.shake_256(f"duet-ledger {txid} {seq}".encode()).digest(PAYLOAD_BYTES)


def size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def connect(db):
    conn = sqlite3.connect(db, isolation_level=None)  # explicit BEGIN/COMMIT below
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal":
        raise SystemExit(f"sqlite_ledger.py: {db}: journal_mode is {mode!r}, not 'wal'")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def write(db, count):
    conn = connect(db)
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    conn.execute("CREATE TABLE IF NOT EXISTS rows (txid INTEGER, seq INTEGER, payload BLOB, "
                 "sha256 TEXT, PRIMARY KEY (txid, seq))")
    conn.execute("CREATE TABLE IF NOT EXISTS totals (id INTEGER PRIMARY KEY CHECK (id = 1), "
                 "transactions INTEGER, rows INTEGER, bytes INTEGER, last_txid INTEGER)")
    conn.execute("INSERT OR IGNORE INTO totals VALUES (1, 0, 0, 0, 0)")
    first = conn.execute("SELECT last_txid FROM totals").fetchone()[0] + 1
    for txid in range(first, first + count):
        conn.execute("BEGIN IMMEDIATE")
        for seq in range(ROWS_PER_TRANSACTION):
            data = payload(txid, seq)
            conn.execute("INSERT INTO rows VALUES (?, ?, ?, ?)",
                         (txid, seq, data, hashlib.sha256(data).hexdigest()))
        conn.execute("UPDATE totals SET transactions = transactions + 1, rows = rows + ?, "
                     "bytes = bytes + ?, last_txid = ?",
                     (ROWS_PER_TRANSACTION, ROWS_PER_TRANSACTION * PAYLOAD_BYTES, txid))
        conn.execute("COMMIT")
        print(txid, size(db), size(db + "-wal"), flush=True)
    conn.close()


def check(db):
    conn = connect(db)
    integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
    problems = []
    per_txid = dict(conn.execute("SELECT txid, count(*) FROM rows GROUP BY txid"))
    last = max(per_txid, default=0)
    missing = [t for t in range(1, last + 1) if t not in per_txid]
    if missing:
        problems.append(f"{len(missing)} transactions missing below {last}: {missing[:10]}")
    short = {t: n for t, n in per_txid.items() if n != ROWS_PER_TRANSACTION}
    if short:
        problems.append(f"transactions without {ROWS_PER_TRANSACTION} rows: "
                        f"{dict(list(short.items())[:10])}")
    wrong = []
    for txid, seq, data, digest in conn.execute("SELECT txid, seq, payload, sha256 FROM rows"):
        if data != payload(txid, seq) or digest != hashlib.sha256(data).hexdigest():
            wrong.append((txid, seq))
    if wrong:
        problems.append(f"{len(wrong)} rows with wrong bytes: {wrong[:10]}")
    totals = conn.execute("SELECT transactions, rows, bytes, last_txid FROM totals").fetchall()
    want = [(last, last * ROWS_PER_TRANSACTION, last * ROWS_PER_TRANSACTION * PAYLOAD_BYTES,
             last)]
    if totals != want:
        problems.append(f"totals {totals} where the rows say {want}")
    conn.close()
    print(json.dumps({"integrity": integrity, "last_txid": last, "transactions": len(per_txid),
                      "problems": problems}))


def main():
    args = sys.argv[1:]
    if args[:1] == ["write"] and len(args) in (2, 3):
        write(args[1], int(args[2]) if len(args) == 3 else MAX_TRANSACTIONS)
    elif args[:1] == ["check"] and len(args) == 2:
        check(args[1])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
