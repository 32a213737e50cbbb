"""A scriptable SMTP server for the mta's tests: it takes mail on a
loopback address and keeps what it got, and can be told to refuse,
defer, drop extensions, offer STARTTLS with a given certificate or ask
for AUTH.

    sink = Sink(port=0, addr="127.0.0.1", ext=("PIPELINING", "8BITMIME"),
                cert=None, key=None, auth=None)
    sink.rcpt_reply = {"bad@x.test": "550 5.1.1 no such user"}
    sink.data_reply = "451 4.3.0 try later"      # or None: 250
    sink.hold = True; sink.holding; sink.release()   # stall the reply
    sink.messages  # list of Received(mail_from, mail_params, rcpts,
                   #   data (bytes, dot-unstuffed), tls, auth, conn)
    sink.connections  # how many connections were accepted
    sink.close()
"""
import base64
import collections
import socket
import ssl
import threading

Received = collections.namedtuple(
    "Received", "mail_from mail_params rcpts rcpt_params data tls auth conn")

DEFAULT_EXT = ("PIPELINING", "8BITMIME", "SIZE 50000000", "DSN",
               "ENHANCEDSTATUSCODES", "SMTPUTF8")


class Sink:
    def __init__(self, port=0, addr="127.0.0.1", ext=DEFAULT_EXT, cert=None,
                 key=None, auth=None, name="sink.test"):
        self.ext = list(ext)
        self.name = name
        self.auth = auth            # (user, password) or None
        self.rcpt_reply = {}
        self.mail_reply = None
        self.data_reply = None
        self.greeting = "220 %s ESMTP sink" % name
        self.messages = []
        self.connections = 0
        self.commands = []          # every command line, in order
        self.hold = False           # wait before the reply to the data
        self.close_after = False    # hang up after each message
        self.busy_second = False    # 421 to a second MAIL on a session
        self.holding = False
        self._release = threading.Event()
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.ctx = None
        if cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(cert, key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, port))
        self.sock.listen(64)
        self.addr, self.port = self.sock.getsockname()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass

    def release(self):
        """Let a held reply go (only to a client still connected)."""
        self._release.set()

    def wait(self, n, timeout=30):
        """Wait until n messages arrived; True if they did."""
        with self.cond:
            return self.cond.wait_for(lambda: len(self.messages) >= n,
                                      timeout)

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                conn = self.connections
            threading.Thread(target=self._serve, args=(c, conn),
                             daemon=True).start()

    def _serve(self, c, conn):
        try:
            _Session(self, c, conn).run()
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass


class _Session:
    def __init__(self, sink, sock, conn):
        self.sink = sink
        self.sock = sock
        self.conn = conn
        self.f = sock.makefile("rb")
        self.tls = False
        self.user = None
        self.delivered = 0
        self.reset()

    def reset(self):
        self.mail_from = None
        self.mail_params = ""
        self.rcpts = []
        self.rcpt_params = []

    def _peer_gone(self):
        try:
            self.sock.setblocking(False)
            try:
                return self.sock.recv(1, socket.MSG_PEEK) == b""
            except (BlockingIOError, ssl.SSLWantReadError):
                return False
            finally:
                self.sock.setblocking(True)
        except OSError:
            return True

    def send(self, line):
        self.sock.sendall(line.encode() + b"\r\n")

    def readline(self):
        line = self.f.readline(65536)
        if not line:
            raise ValueError("eof")
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    def run(self):
        self.sock.settimeout(60)
        self.send(self.sink.greeting)
        if not self.sink.greeting.startswith("220"):
            return
        while True:
            line = self.readline()
            with self.sink.lock:
                self.sink.commands.append(line)
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb) + 1:]
            if verb == "EHLO":
                ext = list(self.sink.ext)
                if self.sink.ctx and not self.tls:
                    ext.append("STARTTLS")
                if self.sink.auth:
                    ext.append("AUTH PLAIN LOGIN")
                lines = [self.sink.name] + ext
                for i, x in enumerate(lines):
                    sep = " " if i == len(lines) - 1 else "-"
                    self.send("250%s%s" % (sep, x))
                self.reset()
            elif verb == "HELO":
                self.send("250 %s" % self.sink.name)
            elif verb == "STARTTLS" and self.sink.ctx and not self.tls:
                self.send("220 2.0.0 go ahead")
                self.sock = self.sink.ctx.wrap_socket(self.sock,
                                                      server_side=True)
                self.f = self.sock.makefile("rb")
                self.tls = True
                self.reset()
            elif verb == "AUTH" and self.sink.auth:
                parts = arg.split()
                ok = False
                if len(parts) == 2 and parts[0].upper() == "PLAIN":
                    try:
                        _, u, p = base64.b64decode(parts[1]).split(b"\0")
                        ok = (u.decode(), p.decode()) == tuple(
                            self.sink.auth)
                    except ValueError:
                        ok = False
                if ok:
                    self.user = self.sink.auth[0]
                    self.send("235 2.7.0 ok")
                else:
                    self.send("535 5.7.8 bad credentials")
            elif verb == "MAIL":
                if self.sink.busy_second and self.delivered > 0:
                    self.send("421 4.4.2 sink.test closing: idle too long")
                    return
                if self.sink.auth and self.user is None:
                    self.send("530 5.7.0 authentication required")
                    continue
                if self.sink.mail_reply:
                    self.send(self.sink.mail_reply)
                    continue
                a = arg[arg.index("<") + 1:arg.index(">")]
                self.mail_from = a
                self.mail_params = arg[arg.index(">") + 1:].strip()
                self.send("250 2.1.0 ok")
            elif verb == "RCPT":
                if self.mail_from is None:
                    self.send("503 5.5.1 MAIL first")
                    continue
                a = arg[arg.index("<") + 1:arg.index(">")]
                r = self.sink.rcpt_reply.get(a)
                if r:
                    self.send(r)
                    continue
                self.rcpts.append(a)
                self.rcpt_params.append(arg[arg.index(">") + 1:].strip())
                self.send("250 2.1.5 ok")
            elif verb == "DATA":
                if not self.rcpts:
                    self.send("554 5.5.1 no valid recipients")
                    continue
                self.send("354 go ahead")
                data = []
                while True:
                    raw = self.f.readline(1 << 20)
                    if not raw:
                        raise ValueError("eof in data")
                    if raw == b".\r\n":
                        break
                    if raw.startswith(b"."):
                        raw = raw[1:]
                    data.append(raw)
                if self.sink.hold:
                    self.sink.holding = True
                    self.sink._release.wait(120)
                    self.sink._release.clear()
                    self.sink.holding = False
                    if self._peer_gone():
                        return      # it never saw a reply: not taken
                reply = self.sink.data_reply or "250 2.0.0 queued as x"
                if reply.startswith("2"):
                    with self.sink.cond:
                        self.sink.messages.append(Received(
                            self.mail_from, self.mail_params,
                            list(self.rcpts), list(self.rcpt_params),
                            b"".join(data), self.tls, self.user,
                            self.conn))
                        self.sink.cond.notify_all()
                self.send(reply)
                self.reset()
                self.delivered += 1
                if self.sink.close_after:
                    return
            elif verb == "RSET":
                self.reset()
                self.send("250 2.0.0 ok")
            elif verb == "NOOP":
                self.send("250 2.0.0 ok")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.2 unknown command")


def _main():
    """The demo's stand-in smarthost: keeps each message as DIR/N.eml
    (its envelope in DIR/envelopes), and ends with its parent."""
    import argparse
    import os
    import time
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    sink = Sink(port=a.port, addr=a.addr, name="smarthost.demo")
    parent = os.getppid()
    saved = 0
    while os.getppid() == parent:
        with sink.cond:
            sink.cond.wait(1)
            fresh = sink.messages[saved:]
        for m in fresh:
            saved += 1
            name = "%d.%d.eml" % (int(time.time()), saved)
            with open(os.path.join(a.dir, name), "wb") as f:
                f.write(m.data)
            with open(os.path.join(a.dir, "envelopes"), "a") as f:
                f.write("%s from=<%s> to=%s\n" % (
                    name, m.mail_from, ",".join("<%s>" % r for r in m.rcpts)))
            print("smarthost: %s from=<%s> to=%s" % (
                name, m.mail_from, ",".join(m.rcpts)), flush=True)
    sink.close()


if __name__ == "__main__":
    _main()
