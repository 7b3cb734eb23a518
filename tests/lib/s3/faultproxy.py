#!/usr/bin/python3
"""A fault-injecting HTTP proxy for S3 tests (stdlib only).

    faultproxy.py UPSTREAM_PORT PORTFILE LOGFILE RULES_JSON [CERT KEY]

With CERT and KEY (PEM) it speaks https to its clients (for the TLS tests).

Listens on 127.0.0.1 (a free port, written to PORTFILE), forwards every
request unchanged (Host header included, so SigV4 signatures stay valid) to
127.0.0.1:UPSTREAM_PORT, except when a rule fires. Each request is logged as
one JSON line to LOGFILE: {"method","path","query","action","status",
"inflight"}, where inflight is how many requests (this one included) the
proxy was handling when this one arrived: concurrency made visible.

RULES_JSON is a list of rules, tried in order:
  {"method": "PUT", "query": "partNumber", "skip": 0, "count": 2,
   "action": "slowdown"}
A rule matches a request whose method equals "method" (if given) and whose
raw query contains "query" (if given; "!" prefix = must not contain). It
fires on matches number skip+1 .. skip+count. Actions:
  slowdown        503 with <Code>SlowDown</Code>, request not forwarded
  error500        500 InternalError, not forwarded
  reset_request   read half the request body, then reset the connection
  reset_response  forward, send the headers and half the body, then reset
  stall           read the request, send nothing for "seconds" (default 6)
  delay           wait "seconds" (default 0.3), then forward: makes requests
                  sent at once overlap for certain
  complete_error  200 with an <Error> body (InternalError), not forwarded
  forward_then_error  forward (it succeeds upstream), answer 200 + <Error>
  status          answer "code"/"s3code" (e.g. 400 InvalidPart), not forwarded
  expired_token   403 ExpiredToken, not forwarded
  skewed          403 RequestTimeTooSkewed with a Date header "offset" seconds
                  (default 0) from now, not forwarded
"""
import http.client
import http.server
import json
import socket
import socketserver
import struct
import sys
import threading
import time

UPSTREAM = int(sys.argv[1])
PORTFILE, LOGFILE = sys.argv[2], sys.argv[3]
RULES = json.loads(sys.argv[4])
LOCK = threading.Lock()
INFLIGHT = [0]  # requests being handled now (a list: mutable from threads, under LOCK)
for r in RULES:
    r["seen"] = 0


def pick(method, query):
    with LOCK:
        for r in RULES:
            if "method" in r and r["method"] != method:
                continue
            q = r.get("query")
            if q is not None:
                if q.startswith("!"):
                    if q[1:] in query:
                        continue
                elif q not in query:
                    continue
            r["seen"] += 1
            if r.get("skip", 0) < r["seen"] <= r.get("skip", 0) + r.get("count", 1):
                return r
    return None


def log(entry):
    with LOCK:
        with open(LOGFILE, "a") as f:
            f.write(json.dumps(entry) + "\n")


def s3_error(code, msg):
    return ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code>'
            "<Message>%s</Message><RequestId>faultproxy</RequestId></Error>" % (code, msg)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reset(self):
        # RST instead of FIN: SO_LINGER with a zero timeout.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def reply(self, status, body, ctype="application/xml"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        with LOCK:
            INFLIGHT[0] += 1
            now = INFLIGHT[0]
        try:
            self.handle_counted(now)
        finally:
            with LOCK:
                INFLIGHT[0] -= 1

    def handle_counted(self, inflight):
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        rule = pick(self.command, query)
        action = rule["action"] if rule else "forward"
        entry = {"method": self.command, "path": path, "query": query, "action": action,
                 "inflight": inflight}
        if action == "reset_request":
            self.rfile.read(length // 2)
            entry["status"] = "reset"
            log(entry)
            self.reset()
            return
        body = self.rfile.read(length) if length else b""
        if action == "stall":
            time.sleep(rule.get("seconds", 6))
            entry["status"] = "stalled"
            log(entry)
            self.reset()
            return
        if action == "slowdown":
            entry["status"] = 503
            log(entry)
            return self.reply(503, s3_error("SlowDown", "Please reduce your request rate."))
        if action == "error500":
            entry["status"] = 500
            log(entry)
            return self.reply(500, s3_error("InternalError", "We encountered an internal error."))
        if action == "expired_token":
            entry["status"] = 403
            log(entry)
            return self.reply(403, s3_error("ExpiredToken", "The provided token has expired."))
        if action == "skewed":
            entry["status"] = 403
            log(entry)
            body = s3_error("RequestTimeTooSkewed", "The difference is too large.")
            self.send_response_only(403)
            self.send_header("Date", self.date_time_string(time.time() + rule.get("offset", 0)))
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if action == "status":
            entry["status"] = rule["code"]
            log(entry)
            return self.reply(rule["code"], s3_error(rule["s3code"], "injected by faultproxy"))
        if action == "complete_error":
            entry["status"] = 200
            log(entry)
            return self.reply(200, s3_error("InternalError", "injected 200 with Error"))
        if action == "delay":
            time.sleep(rule.get("seconds", 0.3))
        status, headers, data = self.forward(body)
        entry["status"] = status
        log(entry)
        if action == "forward_then_error":
            return self.reply(200, s3_error("InternalError", "injected after success"))
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if action == "reset_response" and len(data) > 1:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.reset()
            return
        self.wfile.write(data)

    def forward(self, body):
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=60)
        hdrs = {k: v for k, v in self.headers.items()}
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body if body else None)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    if len(sys.argv) > 6:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[5], sys.argv[6])
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(PORTFILE + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(PORTFILE + ".tmp", PORTFILE)
    srv.serve_forever()


if __name__ == "__main__":
    main()
