#!/usr/bin/env python3
"""Integration tests of per-directory rules (.htaccess, <Directory>,
<Location>) against a real Apache httpd, with mod_rewrite and mod_alias
loaded.  The helpers (raw-socket HTTP, servers started by pid, the echo
server) are test/integration.py's; this file adds its own servers and
checks and is run by `make integration` after it.

    python3 test/integration_dir.py --module /abs/.libs/mod_redirect307.so \
        --apache /usr/sbin/apache2 [-k SUBSTRING] [-v]

Prints "ok   NAME" or "FAIL NAME: reason" per check and ends with the line
"N passed, M failed"; exit status 0 only when nothing failed.

Python 3 standard library only.
"""

import json
import os
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import httpd_harness as hh  # noqa: E402
import integration as it  # noqa: E402
from httpd_harness import LOOPBACK, free_port, run, write_file  # noqa: E402
from integration import (Failure, build_request, exchange, expect,  # noqa: E402
                         expect_eq, note, read_until_eof, request, short)

REWRITE_MODULE = ("rewrite_module", "mod_rewrite.so")

CHECKS = []
check = it.registrar(CHECKS)


# The stock WordPress block, as WordPress writes it, with our rules and a
# mod_rewrite redirect for the same URL as one of ours above it.
WP_HTACCESS = """\
Redirect307 /old-post /new-post
Redirect307 308 /moved /ours-says
Redirect307Map wp.map

RewriteEngine On
RewriteRule ^moved$ /rewrite-says [R=302,L]

# BEGIN WordPress
<IfModule mod_rewrite.c>
RewriteEngine On
RewriteBase /
RewriteRule ^index\\.php$ - [L]
RewriteCond %{REQUEST_FILENAME} !-f
RewriteCond %{REQUEST_FILENAME} !-d
RewriteRule . /index.php [L]
</IfModule>
# END WordPress
"""

SITE_MAP = """\
# the site's own map, relative to its .htaccess
/site/from-map        /site/map-target
/site/docs/*          /site/manual/*
/site/perm            /site/perm-target    301
"""

# (line 3 is bad: an unknown status)
BAD_MAP = """\
/bad/ok     /bad/fine
/bad/two    /bad/fine2
/bad/three  /bad/x      999
"""


class DirSuite(it.Suite):
    """Servers of this file; the fixture machinery is integration.py's."""

    def dir_conf(self, root, port, docroot, extra=()):
        c = it.base_conf(root, [port], self.module, docroot)
        c.add("<IfModule !rewrite_module>\n    LoadModule rewrite_module "
              "%s/mod_rewrite.so\n</IfModule>" % hh.MODULE_DIR)
        # One child: the per-child cache's figures are this child's.
        c.add("ServerLimit 1\nStartServers 1\nThreadsPerChild 10\n"
              "MaxRequestWorkers 10\nMinSpareThreads 1\nMaxSpareThreads 10")
        c.add("<Directory %s>\n    AllowOverride FileInfo\n"
              "    Options FollowSymLinks\n</Directory>" % docroot)
        for line in extra:
            c.add(line)
        return c

    def setup_dir(self):
        root = self.new_root("dir")
        port = free_port()
        echo = self.echo_port()
        d = os.path.join(root, "htdocs")
        write_file(os.path.join(d, "index.html"), "<p>root</p>\n")
        # .htaccess with inline rules and a map in its own tree
        write_file(os.path.join(d, "site", ".htaccess"),
                   "Redirect307 /site/old /site/new\n"
                   "Redirect307 308 /site/post http://%s:%d/echo/site/post\n"
                   "Redirect307 /site/both /site/dir-loses\n"
                   "Redirect307 /elsewhere/x /site/hijacked\n"
                   "Redirect307Map maps/site.map\n" % (LOOPBACK, echo))
        write_file(os.path.join(d, "site", "maps", "site.map"), SITE_MAP)
        # inside <Files> in a .htaccess: still relative to its directory
        write_file(os.path.join(d, "files", ".htaccess"),
                   "<Files \"old\">\nRedirect307Map files.map\n</Files>\n")
        write_file(os.path.join(d, "files", "files.map"),
                   "/files/old /files/new\n")
        write_file(os.path.join(d, "files", "old"), "old file\n")
        write_file(os.path.join(d, "site", "page.html"), "<p>site page</p>\n")
        write_file(os.path.join(d, "elsewhere", "x"), "elsewhere\n")
        # mod_alias's per-directory Redirect, the reference
        write_file(os.path.join(d, "alias", ".htaccess"),
                   "Redirect 307 /alias/old /alias/new\n"
                   "Redirect 307 /alias/docs /alias/manual\n")
        # AllowOverride None: httpd never reads the file
        write_file(os.path.join(d, "none", ".htaccess"),
                   "Redirect307 /none/old /none/new\n")
        write_file(os.path.join(d, "none", "old"), "not redirected\n")
        # a map with a bad line
        write_file(os.path.join(d, "bad", ".htaccess"),
                   "Redirect307Map bad.map\n")
        write_file(os.path.join(d, "bad", "bad.map"), BAD_MAP)
        # maps outside the tree: by .. and by a symlink
        write_file(os.path.join(root, "outside.map"), "/up/x /stolen\n")
        write_file(os.path.join(d, "up", ".htaccess"),
                   "Redirect307Map ../../outside.map\n")
        write_file(os.path.join(d, "link", ".htaccess"),
                   "Redirect307Map inside.map\n")
        os.symlink(os.path.join(root, "outside.map"),
                   os.path.join(d, "link", "inside.map"))
        # an inline rule with a bad status
        write_file(os.path.join(d, "badline", ".htaccess"),
                   "# a comment\nRedirect307 999 /badline/a /badline/b\n")
        # a redirect loop within a map
        write_file(os.path.join(d, "loop", ".htaccess"),
                   "Redirect307Map loop.map\n")
        write_file(os.path.join(d, "loop", "loop.map"),
                   "/loop/a /loop/b\n/loop/b /loop/a\n")
        # a FIFO: never opened (the open would block a thread)
        write_file(os.path.join(d, "fifo", ".htaccess"),
                   "Redirect307Map pipe.map\n")
        os.mkfifo(os.path.join(d, "fifo", "pipe.map"))
        # a map first requested by many threads at once
        write_file(os.path.join(d, "herd", ".htaccess"),
                   "Redirect307Map herd.map\n")
        write_file(os.path.join(d, "herd", "herd.map"),
                   "".join("/herd/p%05d /herd/t%05d\n" % (i, i)
                           for i in range(2500)))
        # a map that is edited while the server runs
        write_file(os.path.join(d, "edit", ".htaccess"),
                   "Redirect307Map edit.map\n")
        write_file(os.path.join(d, "edit", "edit.map"),
                   "/edit/x  /edit/first\n")
        # a map over Redirect307DirMapMaxSize
        write_file(os.path.join(d, "big", ".htaccess"),
                   "Redirect307Map big.map\n")
        write_file(os.path.join(d, "big", "big.map"),
                   "".join("/big/p%06d /big/t%06d\n" % (i, i)
                           for i in range(3000)))
        # a directory httpd denies: access control comes first
        write_file(os.path.join(d, "denied", ".htaccess"),
                   "Redirect307 /denied/x /denied/y\n")
        # the directory's Redirect307Default
        write_file(os.path.join(d, "dflt", ".htaccess"),
                   "Redirect307 /dflt/a /dflt/b\nRedirect307Default 308\n")
        # WordPress, in a virtual host of its own
        wp = os.path.join(root, "wp")
        write_file(os.path.join(wp, ".htaccess"), WP_HTACCESS)
        write_file(os.path.join(wp, "wp.map"), "/from-wp-map /wp-map-target\n")
        write_file(os.path.join(wp, "index.php"), "front controller\n")
        write_file(os.path.join(wp, "existing.html"), "a real file\n")
        # httpd.conf sections
        write_file(os.path.join(root, "loc.map"),
                   "/loc/from-map /loc/map-target 301\n")
        for sub in ("dsec", "dsec/inner"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        write_file(os.path.join(d, "dsec", "inner", ".htaccess"),
                   "Redirect307 /dsec/inner/a /dsec/inner-wins\n")
        wp_port = free_port()
        c = self.dir_conf(root, port, d, extra=[
            "Redirect307 /site/both /site/server-wins",
            "Redirect307DirMapMaxSize 64K",
            "<Directory %s/none>\n    AllowOverride None\n</Directory>" % d,
            "<Directory %s/denied>\n    Require all denied\n</Directory>" % d,
            "<Directory %s/dsec>\n    Redirect307 /dsec/old /dsec/new\n"
            "    Redirect307 /dsec/inner/a /dsec/outer-loses\n"
            "    Redirect307 /dsec/inner/b /dsec/outer-b\n"
            "</Directory>" % d,
            "<Location /loc>\n    Redirect307Map loc.map\n"
            "    Redirect307 /loc/inline /loc/inline-target\n</Location>",
            "<Location /r307-status>\n    SetHandler redirect307-status\n"
            "</Location>",
            "Listen %s:%d" % (LOOPBACK, wp_port),
            "<VirtualHost %s:%d>\n    ServerName wp.test\n"
            "    DocumentRoot %s\n    <Directory %s>\n"
            "        Require all granted\n        AllowOverride FileInfo\n"
            "        Options FollowSymLinks\n    </Directory>\n"
            "</VirtualHost>" % (LOOPBACK, wp_port, wp, wp),
        ])
        srv = self.start("dir", root, c, [port, wp_port],
                         info={"docroot": d, "wp_port": wp_port, "echo": echo})
        return srv

    def setup_small(self):
        """Redirect307DirCacheSize 2: three maps take turns."""
        root = self.new_root("dirsmall")
        port = free_port()
        d = os.path.join(root, "htdocs")
        for n in ("a", "b", "c"):
            write_file(os.path.join(d, n, ".htaccess"),
                       "Redirect307Map %s.map\n" % n)
            write_file(os.path.join(d, n, "%s.map" % n),
                       "/%s/x /%s/target\n" % (n, n))
        c = self.dir_conf(root, port, d, extra=[
            "Redirect307DirCacheSize 2",
            "<Location /r307-status>\n    SetHandler redirect307-status\n"
            "</Location>"])
        self.start("small", root, c, [port], info={"docroot": d})


S = None


def srv():
    return S.server("dir")


def base(port=None):
    return "http://%s:%d" % (LOOPBACK, port or srv().port)


def get(path, port=None, **kw):
    return request(port or srv().port, path, **kw)


def expect_redirect(resp, status, location):
    expect_eq(resp.status, status, "status")
    expect_eq(resp.location, location, "Location")


def dir_cache(server):
    r = request(server.port, "/r307-status?json")
    expect_eq(r.status, 200, "status page")
    return json.loads(r.body)["dir_cache"]


def log_since(server, since):
    return server.log_text(since)


# ---------------------------------------------------------------------------
# .htaccess rules
# ---------------------------------------------------------------------------

@check("htaccess_inline_rule_redirects")
def _():
    expect_redirect(get("/site/old"), 307, base() + "/site/new")


@check("htaccess_map_relative_to_its_directory")
def _():
    expect_redirect(get("/site/from-map"), 307, base() + "/site/map-target")
    expect_redirect(get("/site/perm"), 301, base() + "/site/perm-target")


@check("htaccess_map_inside_files_section_relative_to_directory")
def _():
    expect_redirect(get("/files/old"), 307, base() + "/files/new")


@check("htaccess_prefix_rule_carries_rest")
def _():
    expect_redirect(get("/site/docs/a/b?x=1"), 307,
                    base() + "/site/manual/a/b?x=1")


@check("htaccess_miss_served_as_without_rules")
def _():
    r = get("/site/page.html")
    expect_eq(r.status, 200, "status")
    expect_eq(r.body, b"<p>site page</p>\n", "body")


@check("htaccess_same_location_as_mod_alias_per_dir_redirect")
def _():
    """mod_alias's Redirect in a .htaccess is the reference: same
    Location for the same rule, query and prefix rest."""
    for ours, theirs in (("/site/old?a=1&b=2", "/alias/old?a=1&b=2"),
                         ("/site/docs/x/y%20z", "/alias/docs/x/y%20z")):
        a, b = get(ours), get(theirs)
        expect_eq(a.status, b.status, "status, ours vs mod_alias")
        expect_eq(a.location.replace("/site/", "/X/"),
                  b.location.replace("/alias/", "/X/"), "Location vs mod_alias")


@check("htaccess_allowoverride_none_ignores_rules")
def _():
    r = get("/none/old")
    expect_eq(r.status, 200, "status")
    expect_eq(r.body, b"not redirected\n", "body")


@check("htaccess_rule_never_answers_outside_its_directory")
def _():
    """/site/.htaccess names /elsewhere/x: a request for it never reaches
    /site/, so the rule cannot answer it."""
    r = get("/elsewhere/x")
    expect_eq(r.status, 200, "status")
    expect_eq(r.location, None, "Location")


@check("htaccess_rule_answers_after_access_control")
def _():
    """As mod_alias's per-directory Redirect: a denied directory stays
    denied, its rules do not tell what lies behind it."""
    r = get("/denied/x")
    expect_eq(r.status, 403, "status")
    expect_eq(r.location, None, "Location")


@check("server_level_rules_answer_first")
def _():
    expect_redirect(get("/site/both"), 307, base() + "/site/server-wins")


@check("htaccess_redirect307default_applies_to_its_rules")
def _():
    expect_redirect(get("/dflt/a"), 308, base() + "/dflt/b")


# ---------------------------------------------------------------------------
# The request body: POST through a per-directory 307/308
# ---------------------------------------------------------------------------

@check("htaccess_post_followed_keeps_method_and_body")
def _():
    body = bytes(range(256)) * 4 + b"\r\n\r\nGET / HTTP/1.1\r\n"
    path = os.path.join(srv().root, "body.bin")
    write_file(path, body)
    out = os.path.join(srv().root, "curl.out")
    cmd = ["curl", "-q", "-sS", "--noproxy", "*", "--max-time", "10", "-L",
           "--data-binary", "@" + path, "-o", out,
           "-w", "%{http_code} %{num_redirects}", base() + "/site/post"]
    rc, text = run(cmd, timeout=20, env=it.clean_env())
    note("%s -> %d %s" % (" ".join(cmd), rc, text))
    expect_eq(rc, 0, "curl exit status")
    expect_eq(text.split(), ["200", "1"], "final status, redirects")
    with open(out, "rb") as f:
        echo = json.loads(f.read())
    expect_eq(echo["method"], "POST", "method the target saw")
    expect_eq(echo["path"], "/echo/site/post", "path the target saw")
    expect_eq(bytes.fromhex(echo["body_hex"]), body, "body the target saw")


def unsent_post(expect_100):
    headers = ["Content-Type: application/octet-stream",
               "Content-Length: 10000000"]
    if expect_100:
        headers.append("Expect: 100-continue")
    return build_request("POST", "/site/post", "%s:%d" % (LOOPBACK, srv().port),
                         headers, close=False)


@check("htaccess_expect_100_continue_redirect_without_continue")
def _():
    r, sock = exchange(srv().port, unsent_post(True), keep=True)
    try:
        rest = read_until_eof(sock, it.IO_TIMEOUT)
    finally:
        sock.close()
    note("first status line %s" % short(r.status_line))
    expect(r.status_line.startswith(b"HTTP/1.1 308"),
           "first status line %s, want 308 (no 100 Continue first)"
           % short(r.status_line))
    expect(rest is not None, "connection still open after the redirect")
    allbytes = r.head + r.body + (rest or b"")
    expect(b"100 Continue" not in allbytes, "a 100 Continue was sent")


@check("htaccess_unsent_body_gets_redirect_at_once")
def _():
    r = exchange(srv().port, unsent_post(False), head_only=True)
    note("answered after %.2fs" % r.elapsed)
    expect_redirect(r, 308, "http://%s:%d/echo/site/post"
                    % (LOOPBACK, S.info["dir"]["echo"]))


@check("htaccess_post_body_never_parsed_as_next_request")
def _():
    host = "%s:%d" % (LOOPBACK, srv().port)
    smuggled = build_request("GET", "/index.html", host, close=False)
    data = build_request("POST", "/site/old", host, body=smuggled, close=False)
    sock = socket.create_connection((LOOPBACK, srv().port), timeout=5)
    try:
        sock.sendall(data)
        got = read_until_eof(sock, 2.0, partial=True)
    finally:
        sock.close()
    expect(got.startswith(b"HTTP/1.1 307"), "first response %s" % short(got[:80]))
    expect_eq(len(re.findall(rb"(?:^|\r\n)HTTP/1\.[01] \d\d\d", got)), 1,
              "responses on the connection")


# ---------------------------------------------------------------------------
# WordPress front controller next to our rules
# ---------------------------------------------------------------------------

def wp_port():
    srv()
    return S.info["dir"]["wp_port"]


def wp_get(path):
    return get(path, port=wp_port(), host="wp.test:%d" % wp_port())


@check("wordpress_htaccess_our_rules_answer_first")
def _():
    base_wp = "http://wp.test:%d" % wp_port()
    expect_redirect(wp_get("/old-post"), 307, base_wp + "/new-post")
    expect_redirect(wp_get("/from-wp-map"), 307, base_wp + "/wp-map-target")
    # mod_rewrite's own [R=302] for the same URL comes after ours
    expect_redirect(wp_get("/moved"), 308, base_wp + "/ours-says")


@check("wordpress_front_controller_still_serves_the_rest")
def _():
    r = wp_get("/some/pretty/permalink")
    expect_eq(r.status, 200, "status")
    expect_eq(r.body, b"front controller\n", "body (index.php)")
    r = wp_get("/existing.html")
    expect_eq(r.body, b"a real file\n", "a real file")


# ---------------------------------------------------------------------------
# <Directory> and <Location>
# ---------------------------------------------------------------------------

@check("directory_section_rule_redirects")
def _():
    expect_redirect(get("/dsec/old"), 307, base() + "/dsec/new")


@check("inner_htaccess_rule_beats_enclosing_directory")
def _():
    expect_redirect(get("/dsec/inner/a"), 307, base() + "/dsec/inner-wins")
    expect_redirect(get("/dsec/inner/b"), 307, base() + "/dsec/outer-b")


@check("location_section_map_and_inline_rule")
def _():
    expect_redirect(get("/loc/from-map"), 301, base() + "/loc/map-target")
    expect_redirect(get("/loc/inline"), 307, base() + "/loc/inline-target")


@check("location_source_outside_is_config_error")
def _():
    root = S.new_root("dirloc")
    port = free_port()
    c = it.base_conf(root, [port], S.module, os.path.join(root, "htdocs"))
    c.add("<Location /shop>")
    c.add("    Redirect307 /shop/ok /shop/fine")
    c.add("    Redirect307 /blog/x /y", mark="outside")
    c.add("</Location>")
    os.makedirs(os.path.join(root, "htdocs"), exist_ok=True)
    h = hh.Httpd(S.apache, "dirloc", root, [port],
                 conf_text=c.render(True))
    rc, out = h.config_test()
    note(out.strip())
    expect(rc != 0, "apachectl -t accepted a source outside <Location>")
    where = "%s:%d" % (h.conf, c.marks["outside"])
    expect(where in out and "outside <Location /shop>" in out,
           "message does not name %s and the Location: %s" % (where, short(out)))


# ---------------------------------------------------------------------------
# Trust: broken maps, maps outside the tree, size limit
# ---------------------------------------------------------------------------

@check("htaccess_bad_map_line_is_500_with_file_line")
def _():
    since = srv().log_size()
    r = get("/bad/ok")
    expect_eq(r.status, 500, "status")
    log = log_since(srv(), since)
    want = os.path.join(S.info["dir"]["docroot"], "bad", "bad.map") + ":3:"
    note(log.strip()[-400:])
    expect(want in log, "error log does not name %s" % want)
    expect(".htaccess" in log, "error log does not name the .htaccess")


@check("htaccess_bad_inline_rule_is_500_naming_htaccess_line")
def _():
    since = srv().log_size()
    expect_eq(get("/badline/a").status, 500, "status")
    want = os.path.join(S.info["dir"]["docroot"], "badline", ".htaccess") + ":2:"
    expect(want in log_since(srv(), since), "error log does not name %s" % want)


@check("cache_directives_bad_values_and_contexts_refused")
def _():
    root = S.new_root("dirbad")
    os.makedirs(os.path.join(root, "htdocs"), exist_ok=True)
    cases = [("Redirect307DirCacheSize 0", "Redirect307DirCacheSize takes"),
             ("Redirect307DirCacheSize 10 5X", "Redirect307DirCacheSize takes"),
             ("Redirect307DirMapMaxSize 12Q", "Redirect307DirMapMaxSize takes"),
             ("<VirtualHost 127.0.0.1:1>\nRedirect307DirMapMaxSize 1M\n"
              "</VirtualHost>", "cannot occur within"),
             ("<Directory />\nRedirect307DirCacheSize 3\n</Directory>",
              "not allowed in <Directory> context")]
    for k, (text, want) in enumerate(cases):
        port = free_port()
        c = it.base_conf(root, [port], S.module, os.path.join(root, "htdocs"))
        c.add(text)
        h = hh.Httpd(S.apache, "dirbad%d" % k, root, [port],
                     conf=os.path.join(root, "bad%d.conf" % k),
                     conf_text=c.render(True))
        rc, out = h.config_test()
        note("%s -> %d %s" % (text.replace("\n", " "), rc, out.strip()[-200:]))
        expect(rc != 0, "apachectl -t accepted %r" % text)
        expect(want in out, "%r: message lacks %r: %s" % (text, want, short(out)))


@check("htaccess_map_with_loop_is_500_naming_it")
def _():
    since = srv().log_size()
    expect_eq(get("/loop/a").status, 500, "status")
    log = log_since(srv(), since)
    want = os.path.join(S.info["dir"]["docroot"], "loop", "loop.map") + ":"
    expect(want in log and "loop" in log.split(want, 1)[1][:200],
           "error log does not name the loop in %s: %s" % (want, short(log[-300:])))


@check("htaccess_bad_map_leaves_other_directories_alone")
def _():
    get("/bad/ok")
    expect_redirect(get("/site/old"), 307, base() + "/site/new")
    expect_eq(get("/index.html").status, 200, "a page outside both")


@check("htaccess_map_outside_tree_by_dotdot_refused")
def _():
    since = srv().log_size()
    r = get("/up/x")
    expect_eq(r.status, 500, "status")
    expect(r.location is None, "redirected with a map from outside")
    log = log_since(srv(), since)
    expect("outside" in log and "directory tree" in log,
           "no refusal in the error log: %s" % short(log[-300:]))


@check("htaccess_map_outside_tree_by_symlink_refused")
def _():
    since = srv().log_size()
    r = get("/link/x")
    expect_eq(r.status, 500, "status")
    log = log_since(srv(), since)
    expect("inside.map is outside" in log,
           "no refusal in the error log: %s" % short(log[-300:]))


@check("htaccess_map_fifo_refused_without_blocking")
def _():
    since = srv().log_size()
    r = get("/fifo/x")
    expect_eq(r.status, 500, "status")
    expect("pipe.map is not a regular file" in log_since(srv(), since),
           "no refusal in the error log")


@check("htaccess_map_over_max_size_refused")
def _():
    since = srv().log_size()
    r = get("/big/p000001")
    expect_eq(r.status, 500, "status")
    expect("Redirect307DirMapMaxSize" in log_since(srv(), since),
           "no size refusal in the error log")


# ---------------------------------------------------------------------------
# The cache: parsed once per content, edits picked up, LRU
# ---------------------------------------------------------------------------

@check("htaccess_map_parsed_once_then_cached")
def _():
    get("/site/from-map")
    before = dir_cache(srv())
    for _ in range(5):
        expect_eq(get("/site/from-map").status, 307, "status")
    after = dir_cache(srv())
    note("before %s after %s" % (before, after))
    expect_eq(after["pid"], before["pid"], "the one child")
    expect_eq(after["parses"], before["parses"], "parses during 5 requests")
    expect(after["hits"] >= before["hits"] + 5, "cache hits did not grow by 5")


@check("htaccess_map_parsed_once_by_concurrent_first_requests")
def _():
    """Ten threads ask for a map nobody has asked for yet, at once: one
    parses it, the others wait for that parse."""
    import threading
    before = dir_cache(srv())
    go, got = threading.Barrier(10), []

    def client(n):
        data = build_request("GET", "/herd/p%05d" % n,
                             "%s:%d" % (LOOPBACK, srv().port))
        go.wait()
        got.append(exchange(srv().port, data))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    after = dir_cache(srv())
    note("before %s after %s" % (before, after))
    expect_eq(sorted(r.status for r in got), [307] * 10, "statuses")
    expect_eq(after["parses"] - before["parses"], 1, "parses")


@check("status_page_html_shows_this_childs_cache")
def _():
    get("/site/from-map")
    r = get("/r307-status")
    expect_eq(r.status, 200, "status")
    m = re.search(rb"<h2>\.htaccess maps \(this child process, pid (\d+)\)</h2>"
                  rb"\s*<p>(\d+) maps cached \(of 64\)", r.body)
    expect(m is not None, "no cache section: %s" % short(r.body[-400:]))
    expect(int(m.group(2)) >= 1, "no map cached")


@check("htaccess_edited_map_picked_up_without_restart")
def _():
    path = os.path.join(S.info["dir"]["docroot"], "edit", "edit.map")
    expect_redirect(get("/edit/x"), 307, base() + "/edit/first")
    pid = srv().read_pid()
    write_file(path, "/edit/x  /edit/second-version  308\n", atomic=True)
    expect_redirect(get("/edit/x"), 308, base() + "/edit/second-version")
    expect_eq(srv().read_pid(), pid, "httpd parent pid (no restart)")


@check("htaccess_cache_evicts_least_recently_used")
def _():
    small = S.server("small")
    b = "http://%s:%d" % (LOOPBACK, small.port)
    for n in ("a", "b", "c", "a"):
        expect_redirect(request(small.port, "/%s/x" % n), 307,
                        "%s/%s/target" % (b, n))
    st = dir_cache(small)
    note(str(st))
    expect_eq(st["maps"], 2, "maps cached")
    expect(st["evictions"] >= 2, "evictions: %s" % st["evictions"])
    expect_eq(st["parses"], 4, "parses (a parsed again after eviction)")



# ---------------------------------------------------------------------------
# Maps in httpd.conf sections: reloaded by a graceful restart, as
# server-level maps (last: these restart the server)
# ---------------------------------------------------------------------------

def write_loc_map(text):
    path = os.path.join(srv().root, "loc.map")
    old = os.stat(path)
    write_file(path, text)
    os.utime(path, (old.st_atime, max(time.time(), old.st_mtime) + 2))


def loc_answer():
    r = get("/loc/from-map")
    return r.location.rsplit("/", 1)[-1] if r.location else "status %d" % r.status


@check("location_map_edit_served_after_graceful")
def _():
    write_loc_map("/loc/from-map /loc/v2 301\n")
    rc, out = srv().graceful()
    expect_eq(rc, 0, "apache2 -k graceful exit status (%s)" % out.strip())
    expect(hh.poll(lambda: loc_answer() == "v2", 10, 0.1),
           "still answering %s after graceful" % loc_answer())


@check("location_map_broken_graceful_refused_old_rules_answer")
def _():
    write_loc_map("/loc/from-map /loc/v3 301\n/loc/broken\n")
    rc, out = srv().graceful()
    note("graceful: %d %s" % (rc, out.strip()[-300:]))
    expect(rc != 0, "graceful accepted a broken map")
    expect("loc.map:2:" in out, "graceful output does not name loc.map:2")
    expect_eq(loc_answer(), "v2", "answer after the refused graceful")
    expect(srv().alive(), "server no longer running")


@check("location_map_broken_on_restart_signal_keeps_last_good")
def _():
    """A restart signalled to the running parent (no config test first):
    the broken map is logged and its last good rules keep answering."""
    write_loc_map("/loc/from-map /loc/v4 301\n/loc/broken\n")
    since = srv().log_size()
    os.kill(srv().read_pid(), signal.SIGUSR1)
    expect(hh.poll(lambda: "still serving its last good rules"
                   in srv().log_text(since), 10, 0.1),
           "no 'last good' message: %s" % srv().log_tail(8, since))
    expect("loc.map:2:" in srv().log_text(since), "log does not name loc.map:2")
    expect(hh.poll(lambda: "resuming normal operations"
                   in srv().log_text(since), 10, 0.1), "restart not finished")
    expect_eq(loc_answer(), "v2", "answer after the restart")


@check("htaccess_concurrent_requests_while_maps_evicted_and_edited")
def _():
    """Ten threads on three maps through a two-map cache while one map is
    rewritten: every answer is one of its map's versions, and nothing
    crashes (refcounts, eviction and replacement under the event MPM)."""
    import threading
    small = S.server("small")
    b = "http://%s:%d" % (LOOPBACK, small.port)
    path = os.path.join(S.info["small"]["docroot"], "a", "a.map")
    wrong, done = [], threading.Event()

    def client(n):
        k = 0
        while not done.is_set():
            name = "abc"[(n + k) % 3]
            k += 1
            data = build_request("GET", "/%s/x" % name,
                                 "%s:%d" % (LOOPBACK, small.port))
            try:
                r = exchange(small.port, data)
            except Failure as e:
                wrong.append(str(e))
                continue
            ok = ["%s/%s/target" % (b, name)]
            if name == "a":
                ok.append("%s/a/edited" % b)
            if r.status != 307 or r.location not in ok:
                wrong.append("%s -> %d %s" % (name, r.status, r.location))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    try:
        for k in range(20):
            write_file(path, "/a/x /a/edited\n" if k % 2 else "/a/x /a/target\n",
                       atomic=True)
            time.sleep(0.1)
    finally:
        done.set()
        for t in threads:
            t.join(10)
    st = dir_cache(small)
    note(str(st))
    expect(not wrong, "%d wrong answers: %s" % (len(wrong), short(wrong[:5])))
    expect(st["parses"] > 20 and st["evictions"] > 0,
           "the cache was not exercised: %s" % st)


@check("no_child_process_crashed")
def _():
    crashes = []
    for s in S.servers.values():
        crashes += [l for l in s.log_text().splitlines()
                    if "exit signal" in l or "AH00052" in l]
    expect(not crashes, "crashes: %s" % short(crashes[:3], 800))


# ---------------------------------------------------------------------------
# Runner (integration.py's, with this file's checks)
# ---------------------------------------------------------------------------

def main():
    def make_suite(args):
        global S
        S = DirSuite(args)
        return S
    return it.run_checks(__doc__, CHECKS, make_suite)


if __name__ == "__main__":
    sys.exit(main())
