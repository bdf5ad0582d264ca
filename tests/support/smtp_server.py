#!/usr/bin/python3
"""A real SMTP server for the email report tests, on Debian's aiosmtpd.

Every message it accepts is appended to OUT as one JSON line: the envelope (mailFrom,
rcptTos), the headers (from, to, subject, messageId, autoSubmitted, mimeVersion), the top
content type, each text part decoded (text, html) with its transfer encoding, and whether the
session was encrypted (tls) and authenticated (auth). With --cert and --key it offers STARTTLS
and requires it; with --user and --password it requires AUTH (PLAIN or LOGIN, after STARTTLS
when TLS is on). It prints "ready PORT" once it listens and runs until SIGTERM.
"""

import argparse
import email
import email.policy
import json
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "from": str(msg["From"]),
            "to": str(msg["To"]),
            "subject": str(msg["Subject"]),
            "messageId": str(msg["Message-ID"]),
            "autoSubmitted": str(msg["Auto-Submitted"]),
            "mimeVersion": str(msg["MIME-Version"]),
            "date": str(msg["Date"]),
            "contentType": msg.get_content_type(),
            "tls": session.ssl is not None,
            "auth": bool(getattr(session, "authenticated", False)),
            "longestLine": max(len(line) for line in raw.split(b"\r\n")),
        }
        for part in msg.walk():
            kind = part.get_content_type()
            if kind in ("text/plain", "text/html"):
                key = "text" if kind == "text/plain" else "html"
                record[key] = part.get_content()
                record[key + "Encoding"] = str(part["Content-Transfer-Encoding"])
                record[key + "Charset"] = part.get_content_charset()
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == args.user
              and auth_data.password.decode() == args.password)
        return AuthResult(success=ok, handled=False)

    kwargs = {}
    if tls is not None:
        kwargs.update(tls_context=tls, require_starttls=True)
    if args.user:
        kwargs.update(authenticator=authenticate, auth_required=True,
                      auth_require_tls=tls is not None)
    controller = Controller(Store(args.out), hostname="127.0.0.1", port=args.port, **kwargs)
    controller.start()
    print("ready", args.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
