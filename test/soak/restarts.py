#!/usr/bin/env python3
"""Memory over 100 graceful restarts: does the parent (or the server as a
whole) grow when a big map is reloaded again and again?

Starts httpd with a generated map (default 200,000 rules), then sends 100
restart signals (SIGUSR1, what `apachectl graceful` sends after its check):
every other restart with an edited map (so its table is rebuilt and the
old one freed), the others with the map unchanged (so it is reused).  After
each, it waits until the new generation answers, then records the parent's
RSS and the PSS of the parent and all children.  Prints the series and the
growth from restart 10 to restart 100 (the first ones fill allocator
caches); exits 1 if the parent grew by more than 5%.

    python3 test/soak/restarts.py --module $PWD/.libs/mod_redirect307.so
    env: RESTARTS_N (rules), RESTARTS_COUNT (restarts)
"""
import argparse
import os
import signal
import socket
import sys
import time
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))          # test/: httpd_harness
import httpd_harness as hh  # noqa: E402


def ask(port, path):
    """The Location of a GET, or None if nothing answered."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(("GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
                   % path).encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
    except OSError:
        return None
    for line in data.split(b"\r\n"):
        if line.lower().startswith(b"location:"):
            return line.split(b":", 1)[1].strip().decode()
    return ""


def kib(path, field):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def write_map(path, n, tag):
    with open(path + ".tmp", "w") as f:
        for i in range(n):
            f.write("/old/s%d/p%d /%s/s%d/p%d 307\n" % (i // 1000, i, tag,
                                                         i // 1000, i))
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--module", required=True)
    ap.add_argument("--apache", default="/usr/sbin/apache2")
    opts = ap.parse_args()
    n = int(os.environ.get("RESTARTS_N", "200000"))
    count = int(os.environ.get("RESTARTS_COUNT", "100"))
    d = hh.make_root("redirect307-restarts-", "/var/tmp")
    port = hh.free_port()
    rules = os.path.join(d, "big.rules")
    write_map(rules, n, "a")
    conf = hh.conf_head(d, [port], hh.CORE_MODULES) + [
        "LoadModule redirect307_module %s" % os.path.abspath(opts.module),
        'DocumentRoot "%s"' % d, 'Redirect307Map "%s"' % rules, ""]
    srv = hh.Httpd(opts.apache, "restarts", d, [port],
                   conf_text="\n".join(conf), start_timeout=30.0,
                   cmd_timeout=120.0)
    probe = "/old/s0/p7"
    try:
        try:
            srv.start(ready=lambda: ask(port, probe))
        except hh.StartError as e:
            sys.exit(str(e))
        pid = srv.pid
        rss, pss, tag = [], [], "a"
        for k in range(1, count + 1):
            if k % 2:
                tag = "b" if tag == "a" else "a"
                write_map(rules, n, tag)
            os.kill(pid, signal.SIGUSR1)
            want = "/%s/s0/p7" % tag
            t0 = time.time()
            while not (ask(port, probe) or "").endswith(want):
                if time.time() - t0 > 60:
                    sys.exit("restart %d: new rules never answered" % k)
                time.sleep(0.02)
            time.sleep(0.3)
            rss.append(kib("/proc/%d/status" % pid, "VmRSS:"))
            pss.append(sum(kib("/proc/%d/smaps_rollup" % p, "Pss:")
                           for p in [pid] + hh.children_of(pid)))
        print("parent VmRSS KiB after each restart:", " ".join(map(str, rss)))
        print("server PSS KiB after each restart:  ", " ".join(map(str, pss)))
        first = min(10, count) - 1
        grow = rss[-1] / rss[first]
        # PSS depends on whether old children are still exiting when it is
        # read, so compare the highest of the first and of the last ten.
        band0, band1 = max(pss[:10]), max(pss[-10:])
        print("%d rules, %d restarts (every other one with an edited map): "
              "parent RSS %d KiB after restart %d, %d KiB after restart %d "
              "(x%.3f); server PSS, highest of restarts 1-10 %d KiB, of the "
              "last 10 %d KiB (x%.3f)"
              % (n, count, rss[first], first + 1, rss[-1], count, grow,
                 band0, band1, band1 / band0))
        sys.exit(0 if grow <= 1.05 else 1)
    finally:
        srv.stop()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
