#!/usr/bin/env python3
"""Verifies every DKIM-Signature of messages with dkimpy, the independent verifier of isomail's
tests (needs `pip install dkimpy pynacl`; PyNaCl for Ed25519). No DNS: the public keys are given.

    python3 verify.py --key NAME=RECORD [--key NAME=RECORD ...] [--expect N] MESSAGE_FILE...

NAME is where the record would be published (`selector._domainkey.domain`), RECORD its TXT value
(`v=DKIM1; k=rsa; p=...`). Prints one line per signature:

    FILE: signature 1 of 2 (d=example.org s=rsa a=rsa-sha256 h=from:from:...): pass
    FILE: signature 2 of 2 (d=example.org s=ed a=ed25519-sha256 h=...): FAIL body hash mismatch ...

Exit status 0 when every signature of every message passes and each message has at least one (or
exactly N with --expect N); 1 when any fails or is missing; 2 for a usage error.
"""

import argparse
import logging
import sys

try:
    import dkim
    import nacl  # noqa: F401  (dkimpy verifies Ed25519 only when PyNaCl is importable)
except ImportError as e:
    print(f"verify.py: {e}: pip install dkimpy pynacl", file=sys.stderr)
    sys.exit(2)


class Collect(logging.Handler):
    """Keeps dkimpy's error messages: the reason a signature fails."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", action="append", default=[], metavar="NAME=RECORD")
    parser.add_argument("--expect", type=int, help="the number of signatures each message has")
    parser.add_argument("messages", nargs="+")
    args = parser.parse_args()
    records = {}
    for pair in args.key:
        name, sep, record = pair.partition("=")
        if not sep or not name or not record:
            parser.error(f"--key {pair!r}: expected NAME=RECORD")
        records[name.lower().rstrip(".")] = record.encode("ascii")
    return args, records


def unfolded(value):
    """A tag value on one line: its folding whitespace removed."""
    return "".join(value.decode("ascii", "replace").split())


def verify_file(path, records, expect):
    """Prints a line per signature; True when all pass and their number is right."""
    with open(path, "rb") as f:
        message = f.read()

    def dnsfunc(name, timeout=5):
        return records.get(name.decode("ascii").lower().rstrip("."), b"")

    try:
        headers = dkim.DKIM(message).headers
    except dkim.DKIMException as e:
        print(f"{path}: FAIL cannot parse the message: {e}")
        return False
    count = sum(1 for name, _ in headers if name.lower() == b"dkim-signature")
    ok = True
    if count == 0 or (expect is not None and count != expect):
        want = "at least 1" if expect is None else str(expect)
        print(f"{path}: FAIL {count} DKIM signatures, expected {want}")
        ok = False
    for idx in range(count):
        collect = Collect()
        logger = logging.getLogger(f"verify.{path}.{idx}")
        logger.propagate = False
        logger.addHandler(collect)
        checker = dkim.DKIM(message, logger=logger)
        try:
            passed = checker.verify(idx=idx, dnsfunc=dnsfunc)
        except dkim.DKIMException as e:
            passed = False
            collect.messages.append(str(e))
        fields = checker.signature_fields or {}
        what = " ".join(
            f"{tag}={unfolded(fields.get(tag.encode(), b'?'))}" for tag in ("d", "s", "a", "h")
        )
        verdict = "pass" if passed else "FAIL " + ("; ".join(collect.messages) or "bad signature")
        print(f"{path}: signature {idx + 1} of {count} ({what}): {verdict}")
        ok = ok and passed
    return ok


def main():
    args, records = parse_args()
    results = [verify_file(path, records, args.expect) for path in args.messages]
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
