#!/usr/bin/env python3
"""Fault-injecting SMTP server for isomail's delivery tests (needs `pip install aiosmtpd`).

    python3 faulty_smtp.py --port PORT --log LOGFILE [--host ::1] [--slow-seconds 3] [--max-seconds 600]
                           [--implicit-tls CERT KEY] [--no-smtputf8]

Listens on 127.0.0.1 only, or [::1] with --host ::1 (plain SMTP, or TLS from the first byte with --implicit-tls; no AUTH) and prints `READY <port>` once it
accepts connections (--port 0 picks a free port). It offers SMTPUTF8 (RFC 6531) and 8BITMIME
unless --no-smtputf8 is given (then only 8BITMIME, and aiosmtpd answers a MAIL with the
SMTPUTF8 parameter with 501). What happens to a recipient depends on the
prefix of its local part (case-insensitive):

    ok...        250 at RCPT, 250 at end of DATA (also the default for anything unlisted)
    tempfail...  451 4.7.1 at RCPT, always
    greylist...  451 4.7.1 the first time this exact address is seen, then like ok
    reject...    550 5.1.1 at RCPT
    datareject.. 250 at RCPT, 554 5.7.1 after the DATA body; nothing stored
    resetrcpt... connection reset (TCP RST) instead of the RCPT reply
    resetdata... 250 at RCPT; after the body the message IS stored, then reset, no reply
    bye...       `421 4.3.2 closing` to the RCPT, then the connection is closed
    slow...      waits --slow-seconds before the 250 to RCPT, then like ok

With several recipients in one transaction, any datareject recipient makes the whole DATA fail
and any resetdata recipient makes the whole transaction end in a reset after storing.

Every stored message is appended to LOGFILE as one JSON line per recipient, written, flushed
and fsynced BEFORE the client can see a 250 (or the reset), so a test may treat the log as the
ground truth of what the server holds:
    {"rcpt", "mail_from", "sha256" (of envelope.content, the exact DATA bytes after
     dot-unstuffing), "message_id" (Message-ID header or null), "state": "accepted"|"no-reply",
     "ts" (Unix time in seconds, a float, when it was stored)}
"""

import argparse
import asyncio
import email.parser
import email.policy
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time

from aiosmtpd.smtp import SMTP

PREFIX_ORDER = ("datareject", "resetrcpt", "resetdata", "tempfail", "greylist",
                "reject", "bye", "slow", "ok")  # longest/most specific first


def behaviour(address):
    local = address.rpartition("@")[0] or address
    local = local.lower()
    for prefix in PREFIX_ORDER:
        if local.startswith(prefix):
            return prefix
    return "ok"


def raw_header(content, name):
    """The first `name` header of the message, unfolded, decoded as UTF-8 (RFC 6532), or None."""
    head = content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
    for line in unfolded.split("\r\n"):
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == name.lower():
            return value.strip()
    return None


def message_id(content):
    # compat32 never raises on malformed headers; headersonly skips the body.
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
        content, headersonly=True)
    value = msg.get("Message-ID")
    return " ".join(str(value).split()) if value is not None else None


async def drop_connection(server):
    """Reset the connection with no reply, then park until aiosmtpd notices.

    SO_LINGER 0 turns close into a TCP RST: the client sees ECONNRESET, the harshest case.
    abort() discards anything still buffered. aiosmtpd's connection_lost() then cancels the
    session task, which cancels us here, so the hook never returns a reply to push.
    """
    sock = server.transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    server.transport.abort()
    await asyncio.Future()


class FaultyHandler:
    def __init__(self, log_path, slow_seconds):
        # Binary append + fsync per message: lines from concurrent sessions never interleave
        # because the event loop is single-threaded and each write is one call.
        self.log = open(log_path, "ab", buffering=0)
        self.slow_seconds = slow_seconds
        self.greylisted = set()

    def store(self, envelope, state):
        content = envelope.content
        digest = hashlib.sha256(content).hexdigest()
        mid = message_id(content)
        stored_at = time.time()  # when the server stored it: for tests of pacing
        lines = b"".join(
            json.dumps({"rcpt": rcpt, "mail_from": envelope.mail_from, "sha256": digest,
                        "message_id": mid, "state": state, "ts": stored_at,
                        "mail_options": envelope.mail_options,
                        "to": raw_header(content, "To")}).encode() + b"\n"
            for rcpt in envelope.rcpt_tos)
        self.log.write(lines)
        os.fsync(self.log.fileno())

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        kind = behaviour(address)
        if kind == "tempfail":
            return "451 4.7.1 Temporary failure, try again later"
        if kind == "greylist" and address not in self.greylisted:
            self.greylisted.add(address)
            return "451 4.7.1 Greylisted, try again later"
        if kind == "reject":
            return "550 5.1.1 No such user"
        if kind == "resetrcpt":
            await drop_connection(server)
        if kind == "bye":
            await server.push("421 4.3.2 closing")
            server.transport.close()  # graceful: the 421 is flushed first
            await asyncio.Future()    # cancelled by connection_lost
        if kind == "slow":
            await asyncio.sleep(self.slow_seconds)
        # Returning a status means aiosmtpd does not record the recipient itself.
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        kinds = {behaviour(r) for r in envelope.rcpt_tos}
        if "datareject" in kinds:
            return "554 5.7.1 Message rejected"
        if "resetdata" in kinds:
            self.store(envelope, "no-reply")
            await drop_connection(server)
        self.store(envelope, "accepted")
        return "250 2.0.0 OK stored"


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1"],
                    help="the loopback address to listen on (IPv4 or IPv6)")
    ap.add_argument("--log", required=True)
    ap.add_argument("--slow-seconds", type=float, default=3.0)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    ap.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"),
                    help="speak TLS from the first byte (an smtps:// server) with this PEM pair")
    ap.add_argument("--no-smtputf8", action="store_true",
                    help="do not offer SMTPUTF8 (RFC 6531), as many relays still do not")
    args = ap.parse_args()

    ssl_context = None
    if args.implicit_tls:
        import ssl
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(*args.implicit_tls)

    loop = asyncio.get_running_loop()
    handler = FaultyHandler(args.log, args.slow_seconds)
    # A fixed hostname avoids socket.getfqdn(), which may hang without DNS.
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="faulty-smtp.test", enable_SMTPUTF8=not args.no_smtputf8,
                     loop=loop),
        host=args.host, port=args.port, backlog=1024, reuse_address=True, ssl=ssl_context)
    port = server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.max_seconds)
    except asyncio.TimeoutError:
        print("faulty_smtp: --max-seconds reached, exiting", file=sys.stderr, flush=True)
    server.close()
    # Open sessions are simply dropped at exit; everything stored is already fsynced.
    handler.log.close()


if __name__ == "__main__":
    asyncio.run(main())
