#!/usr/bin/python3
"""Drive the example app: wait until it answers, then request some views
(never /report nor /admin-only) until every worker has served at least one
request.   drive.py BASE_URL WORKERS"""
import concurrent.futures
import json
import sys
import time
import urllib.request


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def main(base, workers):
    deadline = time.monotonic() + 60
    while True:
        try:
            get(base + "/health")
            break
        except OSError:
            if time.monotonic() > deadline:
                print("drive: the app never answered /health", file=sys.stderr)
                return 1
            time.sleep(0.2)
    get(base + "/")
    get(base + "/hello/jenkins")
    # Concurrent requests: a sync worker serves one at a time, so the others
    # have to take some. Bounded by time, not by a count: a worker still
    # importing the app takes none, and two booted workers answer hundreds
    # of requests in a second (seen: 402 requests, 2 of 3 workers).
    pids = set()
    n = 0
    deadline = time.monotonic() + 30
    with concurrent.futures.ThreadPoolExecutor(max_workers=2 * workers) as pool:
        while time.monotonic() < deadline and (len(pids) < workers or n < 20):
            batch = [f"{base}/items/{i}" for i in range(n, n + 2 * workers)]
            for body in pool.map(get, batch):
                pids.add(json.loads(body)["pid"])
            n += len(batch)
    print(f"drive: {n} requests to /items served by {len(pids)} workers", file=sys.stderr)
    return 0 if len(pids) >= workers else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
