#!/usr/bin/env python3
"""Quick self-test of faulty_smtp.py (about 5 s): every behaviour, RSET, concurrency, exits.

    python3 tests/smtp/selftest_faulty.py      # exits 0 and prints "selftest OK"
"""

import concurrent.futures
import hashlib
import json
import os
import signal
import smtplib
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SENDER = "sender@isomail.test"


def start(log, *extra, stderr=None):
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "faulty_smtp.py"), "--port", "0", "--log", log,
         "--slow-seconds", "1", *extra], stdout=subprocess.PIPE, stderr=stderr, text=True)
    line = proc.stdout.readline().split()
    assert line[0] == "READY", line
    return proc, int(line[1])


def message(n):
    # CRLF endings and a trailing CRLF so smtplib sends these bytes unchanged; the "." line
    # checks that the hash is taken after dot-unstuffing.
    return (f"From: {SENDER}\r\nSubject: test {n}\r\nMessage-ID: <m{n}@isomail.test>\r\n\r\n"
            f"body {n}\r\n.leading dot\r\n").encode()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def one(port, rcpt, n):
    """Send message n to rcpt; return the outcome as a short string."""
    s = smtplib.SMTP("127.0.0.1", port, timeout=10)
    try:
        s.ehlo("selftest")
        s.mail(SENDER)
        code, msg = s.rcpt(rcpt)
        if code != 250:
            return f"rcpt {code} {msg.decode()}"
        code, msg = s.data(message(n))
        return f"data {code}"
    except (smtplib.SMTPServerDisconnected, ConnectionError) as e:
        return f"dropped {type(e).__name__}"
    finally:
        try:
            s.quit()
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            pass


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def main():
    tmp = tempfile.mkdtemp(prefix="faulty-smtp-")
    log = os.path.join(tmp, "log.jsonl")
    started = time.time()
    proc, port = start(log)
    try:
        cases = {
            "ok1@x.test": "data 250",
            "anything@x.test": "data 250",
            "tempfail1@x.test": "rcpt 451 4.7.1 Temporary failure, try again later",
            "reject1@x.test": "rcpt 550 5.1.1 No such user",
            "datareject1@x.test": "data 554",
            "resetrcpt1@x.test": "dropped",
            "resetdata1@x.test": "dropped",
            "bye1@x.test": "rcpt 421 4.3.2 closing",
        }
        for n, (rcpt, want) in enumerate(cases.items()):
            got = one(port, rcpt, n)
            assert got.startswith(want), (rcpt, got)
        assert one(port, "tempfail1@x.test", 99).startswith("rcpt 451")  # always
        assert one(port, "greylist1@x.test", 100).startswith("rcpt 451 4.7.1 Greylisted")
        assert one(port, "greylist1@x.test", 101) == "data 250"
        assert one(port, "greylist2@x.test", 102).startswith("rcpt 451")  # per address
        t0 = time.monotonic()
        assert one(port, "slow1@x.test", 103) == "data 250"
        assert 0.9 < time.monotonic() - t0 < 3

        # RSET and several transactions on one connection.
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
            s.mail(SENDER)
            s.rcpt("ok-rset@x.test")
            s.rset()
            for n in (200, 201):
                s.sendmail(SENDER, [f"ok{n}@x.test"], message(n))
            assert s.noop()[0] == 250

        # Concurrency: 20 connections x 25 messages each.
        def burst(k):
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
                for i in range(25):
                    s.sendmail(SENDER, [f"ok-c{k}-{i}@x.test"], message(1000 + k * 100 + i))
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            list(pool.map(burst, range(20)))

        entries = read_log(log)
        by_rcpt = {e["rcpt"]: e for e in entries}
        # ok1, anything, greylist1, slow1, ok200, ok201, resetdata1 and the 500-message burst.
        assert len(entries) == len(by_rcpt) == 7 + 500, len(entries)
        # Each line has the time it was stored, within this run's span.
        assert all(started <= e.pop("ts") <= time.time() for e in entries), entries[:3]
        assert by_rcpt["ok1@x.test"] == {
            "rcpt": "ok1@x.test", "mail_from": SENDER, "sha256": sha(message(0)),
            "message_id": "<m0@isomail.test>", "state": "accepted", "mail_options": [],
            "to": None}
        assert by_rcpt["resetdata1@x.test"]["state"] == "no-reply"
        assert by_rcpt["resetdata1@x.test"]["sha256"] == sha(message(6))
        assert by_rcpt["greylist1@x.test"]["sha256"] == sha(message(101))
        assert by_rcpt["ok-c19-24@x.test"]["sha256"] == sha(message(1000 + 1924))
        for absent in ("datareject1@x.test", "resetrcpt1@x.test", "ok-rset@x.test"):
            assert absent not in by_rcpt, absent

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()

    proc, _ = start(log, "--max-seconds", "0.5", stderr=subprocess.PIPE)
    assert proc.wait(timeout=5) == 0
    assert "--max-seconds reached" in proc.stderr.read()
    print("selftest OK")


if __name__ == "__main__":
    main()
