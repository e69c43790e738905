#!/usr/bin/env python3
"""Differential test of `redirect307 import --from rewrite|rewritemap`.

The source server is Debian's apache2 with mod_rewrite running the original
configuration: rules in server context (an Include'd file), .htaccess files
(AllowOverride FileInfo; one at the document root, a WordPress one in a
subdirectory with its RewriteBase, one whose RewriteEngine Off comes last)
and RewriteMap txt: maps (used from server context and from an .htaccess).
Each original file is imported with build/redirect307; a second apache2,
without mod_rewrite, loads mod_redirect307 with the imported rules.  Both
get the same requests (GET, HEAD, POST, PUT; exact paths, paths below
prefixes, trailing slashes, queries, encoded bytes, other Host headers),
and status and Location are compared byte for byte (hex case of %XX
aside).

A request is left out only when it is aimed at a line the importer reported
as not converted; the lines reported so must be exactly those the corpus
expects.  Lines that become pattern rules (segment groups such as
"^/art/([0-9]+)/([^/]+)\\.html$") get requests the regex matches and
requests only the broader pattern matches (a group narrower than "[^/]"):
those may differ, on a line the importer reported so.  A request may
answer differently only where the corpus says so
AND the importer gave the note that says so (at that line, or a
"this and every later ..." note before it): the importer never answers
differently in silence.

    python3 test/import/diff_rewrite.py [--bin build/redirect307]
        [--module .libs/mod_redirect307.so] [--apache /usr/sbin/apache2] [-v]

Prints each mismatch and ends with "N passed, M failed"; exit status 1 on
failure.  Python 3 standard library only.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test"))
import httpd_harness as hh  # noqa: E402
import diff_common as dc  # noqa: E402

METHODS = ("GET", "HEAD", "POST", "PUT")
REWRITE_MODULE = ("rewrite_module", "mod_rewrite.so")
IO_TIMEOUT = 10.0


# ---------------------------------------------------------------------------
# Differential helpers (to be replaced by test/import/diff_common.py)
# ---------------------------------------------------------------------------

def http_request(port, method, target, host):
    """One request over a fresh connection: (status, Location or None).
    target is the request-target as bytes or str (sent as is)."""
    if isinstance(target, str):
        target = target.encode("utf-8")
    head = b"%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (
        method.encode(), target, host.encode())
    if method in ("POST", "PUT"):
        head += b"Content-Type: text/plain\r\nContent-Length: 0\r\n"
    with socket.create_connection((hh.LOOPBACK, port),
                                  timeout=IO_TIMEOUT) as s:
        s.sendall(head + b"\r\n")
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    status = int(lines[0].split(b" ")[1])
    location = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"location":
            location = value.strip().decode("latin-1")
    return status, location


def hex_upper(location):
    """A Location with the hex digits of its %XX escapes upper-cased."""
    if location is None:
        return None
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group(0).upper(), location)


def run_import(binary, fmt, path, extra=()):
    """Runs redirect307 import; returns (exit status, rules text,
    {line: [(kind, message)]}) where kind is 'skip' or 'note'."""
    p = subprocess.run([binary, "import", "--from", fmt] + list(extra)
                       + [path], capture_output=True, stdin=subprocess.DEVNULL)
    said = {}
    prefix = path + ":"
    for line in p.stderr.decode("utf-8", "replace").splitlines():
        if not line.startswith(prefix):
            continue
        num, _, rest = line[len(prefix):].partition(": ")
        if not num.isdigit():
            continue
        kind = "skip" if rest.startswith("not converted:") else "note"
        said.setdefault(int(num), []).append((kind, rest))
    return p.returncode, p.stdout.decode("utf-8"), said


def start_server(servers, apache, name, root, ports, text):
    """Starts an apache2 (`-k start`) on conf text, listed in `servers`
    first so that the caller stops it even if it only half started."""
    server = hh.Httpd(apache, name, root, ports, conf_text=text)
    servers.append(server)
    server.start()


def vhost(port, body):
    return "<VirtualHost %s:%d>\n%s\n</VirtualHost>" % (
        hh.LOOPBACK, port, "\n".join("    " + l for l in body))


# ---------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------
#
# Each input is a list of lines.  A line may be a tuple
#     (text, expect, requests)
# with expect 'ok' (converted), 'pat' (converted to a pattern rule), 'skip'
# (reported not converted) or 'off' (inactive: a note, nothing imported),
# and requests a list of paths, or
# of (path, DIFF) where DIFF names the documented difference the request
# may show (see NOTES).  Plain strings are lines without expectations.

# Documented differences: the note that must cover the line, and whether
# it is said once for "this and every later" rule (at or before the line)
# or at the line itself.
NOTES = {
    "slash": ("trailing slash", "before"),
    "emptyq": ("empty query", "before"),
    "carry": ("carrying $1", "before"),
    "itself": ("itself", "at"),
    "dot": ("matches any character", "at"),
    "query": ("query string as sent", "at"),
    "qsa": ("[QSA]", "at"),
    "frag": ("#fragment", "at"),
    "host": ("after the host", "at"),
    "self": ("to itself", "at"),
    "mapslash": ("trailing slash", "before"),
    "mapemptyq": ("empty query", "before"),
    # pattern rules
    "broad": ("also answers paths the regex does not match", "at"),
    "wider": ("answers more than its regex", "at"),
    "capture": ("a captured segment goes into the Location", "before"),
}

SERVER_RULES = [
    "# redirects kept in an Include'd file (server context)",
    "RewriteEngine On",
    "DocumentRoot {docs}/site",
    ("RewriteRule ^/old-page$ /new-page [R=307,L]", "ok",
     ["/old-page", "/old-page?x=1&y=%20z", ("/old-page/", "slash"),
      "/old-pagex", "//old-page", "/x/../old-page", "/OLD-PAGE",
      ("/old-page?", "emptyq")]),
    ("RewriteRule ^/promo$ https://shop.example.com/sale [R,L]", "ok",
     ["/promo", "/promo?utm=1"]),
    ("RewriteRule ^/perm$ /permanent [R=permanent,L]", "ok", ["/perm"]),
    ("RewriteRule ^/temp$ /temporary [R=temp,L]", "ok", ["/temp"]),
    ("RewriteRule ^/see$ /other [R=seeother,L]", "ok", ["/see"]),
    ("RewriteRule ^/r308$ /dest308 [R=308,L]", "ok", ["/r308?a=b"]),
    ("RewriteRule ^/retired$ - [G]", "ok", ["/retired", "/retired?x"]),
    ("RewriteRule ^/retired2$ /x [R=410,L]", "ok", ["/retired2"]),
    ("RewriteRule ^/abs$ http://abs.example/target", "ok",
     ["/abs", "/abs?q=1"]),
    ("RewriteRule ^/docs/(.*)$ https://docs.example.com/v2/$1 [R=301,L]",
     "ok", ["/docs/", "/docs/a/b.html", "/docs/a?x=1", "/docs/a%20b",
            "/docs/caf%C3%A9", "/docs/a+b", "/docs/a%23b", "/docs/a;b=c",
            "/docs/a%25b", "/docs/%7Euser", "/docs/a%2Fb",
            ("/docs/a%3Fb", "carry"), ("/docs/%5Bx%5D", "carry"),
            ("/docs", "itself"), "/docsx", ("/docs/a?", "emptyq")]),
    ("RewriteRule ^/alias(/.*)?$ http://x.example/alias$1 [R=301,L]", "ok",
     ["/alias", "/alias/", "/alias/a/b", "/aliasx", "/alias/q?z=9"]),
    ("RewriteRule ^/Legal$ /legal [R=301,NC,L]", "ok",
     ["/Legal", ("/legal", "self"), "/LEGAL"]),
    ("RewriteRule ^/page\\.html$ /page [R=301,L]", "ok",
     ["/page.html", "/pagexhtml"]),
    ("RewriteRule ^/dotty.html$ /dotty [R=301,L]", "ok",
     ["/dotty.html", ("/dottyxhtml", "dot")]),
    ("RewriteRule ^/slashy/?$ /slashed [R=301,L]", "ok",
     ["/slashy", "/slashy/", "/slashy//"]),
    ("RewriteRule ^/ownq$ /target?a=1 [R=302,L]", "ok",
     ["/ownq", "/ownq?b=2"]),
    ("RewriteRule ^/qsa$ /target?a=1 [R=302,QSA,L]", "ok",
     ["/qsa", "/qsa?b=2", ("/qsa?b=%20", "qsa")]),
    ("RewriteRule ^/qsd$ /target [R=302,QSD,L]", "ok", ["/qsd?b=2"]),
    ("RewriteRule ^/qmark$ /target? [R=302,L]", "ok", ["/qmark?b=2"]),
    "RewriteCond %{QUERY_STRING} ^id=42$",
    ("RewriteRule ^/index\\.php$ /products/blue [R=301,L]", "ok",
     ["/index.php?id=42", "/index.php?id=42&x=1", "/index.php?x=1&id=42",
      ("/index.php?id=%342", "query"), ("/index.php?id=42&", "query")]),
    "RewriteCond %{QUERY_STRING} ^id=43$",
    ("RewriteRule ^/index\\.php$ /products/red? [R=301,L]", "ok",
     ["/index.php?id=43"]),
    "RewriteCond %{QUERY_STRING} =id=44",
    ("RewriteRule ^/index\\.php$ /products/green [R=301,QSD,L]", "ok",
     ["/index.php?id=44"]),
    "RewriteCond %{QUERY_STRING} ^a=1&b=2$",
    ("RewriteRule ^/pair$ /paired [R=301,L]", "ok",
     ["/pair?a=1&b=2", ("/pair?b=2&a=1", "query"), "/pair"]),
    ("RewriteRule ^/caf\u00e9$ /coffee [R,L]", "ok",
     ["/caf%C3%A9", "/caf%c3%a9"]),
    ("RewriteRule ^/space\\ here$ /spaced [R,L]", "ok", ["/space%20here"]),
    ("RewriteRule \"^/quoted path$\" /quoted [R,L]", "ok",
     ["/quoted%20path"]),
    ("RewriteRule ^/tgt-space$ \"/new target\" [R,L]", "ok", ["/tgt-space"]),
    ("RewriteRule ^/tgt-utf8$ /caf\u00e9 [R,L]", "ok", ["/tgt-utf8"]),
    ("RewriteRule ^/ne$ /new\\%20x [R,NE,L]", "ok", ["/ne"]),
    ("RewriteRule ^/pct$ /new\\%20x [R,L]", "ok", ["/pct"]),
    ("RewriteRule ^/hash$ /new#frag [R,L]", "ok", ["/hash"]),
    ("RewriteRule ^/frag$ /new#frag [R,NE,L]", "ok",
     ["/frag", ("/frag?q=1", "frag")]),
    ("RewriteRule ^/nol$ /nol-target [R]", "ok", ["/nol"]),
    ("RewriteRule ^/tilde~x$ /t~y [R,L]", "ok", ["/tilde~x", "/tilde%7Ex"]),
    ("RewriteRule ^/$ /home [R,L]", "ok", ["/", "/?x=1"]),
    # not converted
    ("RewriteRule ^/int$ /other.html [L]", "skip", ["/int"]),
    ("RewriteRule ^/blog/([0-9]+)/(.*)$ /posts/$2 [R=301,L]", "pat",
     ["/blog/2020/x", "/blog/2020/a/b?c=d", ("/blog/abc/x", "broad"),
      ("/blog/2020", "itself")]),
    ("RewriteRule ^/blog/2020/x$ /y [R,L]", "skip", ["/blog/2020/x/"]),
    ("RewriteRule ^/blog/about$ /about [R,L]", "ok", ["/blog/about"]),
    ("RewriteRule ^/news/(\\d+)$ /n/$1 [R,L]", "pat",
     ["/news/12", "/news/12?x=1", ("/news/abc", "broad")]),
    ("RewriteRule ^/news/latest$ /n/latest [R,L]", "skip", []),
    ("RewriteRule ^/newsroom$ /press [R,L]", "ok", ["/newsroom"]),
    "RewriteCond %{HTTP_HOST} ^old\\.example$ [NC]",
    ("RewriteRule ^/hosted$ /h [R,L]", "skip", ["/hosted"]),
    ("RewriteRule old-unanchored /x [R,L]", "skip", ["/a/old-unanchored/b"]),
    ("RewriteRule ^/r404$ /x [R=404,L]", "skip", ["/r404"]),
    ("RewriteRule ^/docs/special$ /special [R,L]", "skip",
     ["/docs/special"]),
    ("RewriteRule ^/dash/(.*)$ /new-$1 [R,L]", "skip", ["/dash/a"]),
    "RewriteCond %{QUERY_STRING} id=7",
    ("RewriteRule ^/loose$ /x [R,L]", "skip", ["/loose?id=7"]),
    ("RewriteRule ^/cookie$ /x [R,CO=a:b:example.com,L]", "skip",
     ["/cookie"]),
    ("RewriteRule ^/forbid$ - [F]", "skip", ["/forbid"]),
    ("RewriteRule ^/bflag/(.*)$ /b/$1 [R,B,L]", "skip", ["/bflag/a%20b"]),
    ("RewriteRule ^/cond-backref$ /x%1 [R,L]", "skip", ["/cond-backref"]),
    ("RewriteRule ^/var$ /x/%{HTTP_HOST} [R,L]", "skip", ["/var"]),
    ("RewriteRule ^never$ /x [R,L]", "skip", ["/never"]),
    ("RewriteRule ^/nol2$ /nol2-target/index.html [R]", "skip", ["/nol2"]),
    ("RewriteRule (.*)/index\\.html$ $1/ [R=301,L]", "skip",
     ["/x/index.html"]),
    ("RewriteRule ^/both$ /both-path [R,L]", "ok", ["/both", "/both?v=1"]),
    "RewriteCond %{QUERY_STRING} ^v=1$",
    ("RewriteRule ^/both$ /both-query [R,L]", "skip", []),
    ("RewriteRule ^/Case$ /case-a [R,NC,L]", "ok", ["/Case", "/CASE"]),
    ("RewriteRule ^/case$ /case-b [R,L]", "skip", ["/case"]),
    ("RewriteRule ^/cs$ /cs-1 [R,L]", "ok", ["/cs"]),
    ("RewriteRule ^/CS$ /cs-2 [R,NC,L]", "ok", ["/CS", "/Cs"]),
    ("RewriteRule ^/sl$ /sl-plain [R,L]", "ok", ["/sl"]),
    ("RewriteRule ^/sl/$ /sl-slash [R,L]", "skip", ["/sl/"]),
    # segment groups: pattern rules
    ("RewriteRule ^/art/([0-9]+)/([0-9]+)/([^/]+)\\.html$ /articles/$3 "
     "[R=301,L]", "pat",
     ["/art/2019/05/my-post.html", "/art/2019/05/my-post.html?x=1",
      "/art/2019/05/a.b.html", "/art/2019/05/.html",
      "/art/1/2/caf%C3%A9.html", "/art/1/2/a%20b.html", "/art/1/2/a~b.html",
      ("/art/1/2/a+b.html", "capture"), ("/art/1/2/a@b.html", "capture"),
      ("/art/1/2/a:b.html", "capture"), ("/art/1/2/a%3Fb.html", "capture"),
      ("/art/1/2/a%25b.html", "capture"), ("/art/1/2/a&b=c.html", "capture"),
      ("/art/2019/05/my-post.html/", "slash"),
      ("/art/x/05/p.html", "broad"), ("/art/2019/y/p.html", "broad")]),
    ("RewriteRule ^/users/([^/]+)$ https://people.example/u/$1 [R=302,L]",
     "pat",
     ["/users/ann", "/users/ann?x=1", "/users/a%2Fb", "/users//evil.example",
      "/users/%2F%2Fevil.example", "/users", "/users/a/b",
      ("/users/ann/", "slash"), ("/users/a%3Fb", "capture"),
      ("/users/a%23b", "capture"), ("/users/@evil.example", "capture")]),
    ("RewriteRule ^/cat/([^/]+)/(.*)$ /c/$1/$2 [R=301,L]", "pat",
     ["/cat/toys/a/b", "/cat/toys/", "/cat/toys/a?q=1", "/cat/t%20y/a%20b",
      ("/cat/toys", "itself")]),
    ("RewriteRule ^/rest/([^/]+)(/.*)?$ http://r.example/$1$2 [R,L]", "pat",
     ["/rest/a", "/rest/a/", "/rest/a/b/c", "/rest"]),
    ("RewriteRule ^/post-([0-9]+)\\.html$ /p/$1 [R=301,L]", "pat",
     ["/post-12.html", "/post-.html", ("/post-ab.html", "broad")]),
    ("RewriteRule ^/T/([a-z]+)\\.php$ /t/$1 [R=301,NC,L]", "pat",
     ["/T/page.php", "/t/PAGE.PHP", ("/T/p1.php", "broad")]),
    ("RewriteRule ^/two/([^/]+)/([^/]+)$ /t2/$1/$2 [R,L]", "pat",
     ["/two/a/b", "/two/x/b"]),
    ("RewriteRule ^/two/x/([^/]+)$ /t3/$1 [R,L]", "skip", ["/two/x/y"]),
    ("RewriteRule ^/num/([0-9]+)$ /num1/$1 [R,L]", "pat",
     ["/num/12", ("/num/a_b", "broad")]),
    ("RewriteRule ^/num/zero$ /zero [R,L]", "ok", ["/num/zero"]),
    ("RewriteRule ^/num/([a-z]+)$ /num2/$1 [R,L]", "pat",
     [("/num/abc", "wider")]),
    ("RewriteRule ^/seg/(.+?)$ /s/$1 [R,L]", "skip", ["/seg/a/b"]),
    ("RewriteRule ^/opt/([^/]*)$ /o/$1 [R,L]", "skip", ["/opt/"]),
    # per-directory rules in a <Directory> below the DocumentRoot
    "<Directory {docs}/site/dirsec>",
    ("    RewriteRule ^moved$ /dir-moved [R=301,L]", "ok",
     ["/dirsec/moved", "/dirsec/moved?x=1", "/dirsec/other"]),
    ("    RewriteRule ^sub/(.*)$ /dir-sub/$1 [R=301,L]", "ok",
     ["/dirsec/sub/x", ("/dirsec/sub", "itself")]),
    "</Directory>",
]

# .htaccess at the document root (its rules see "old-page", not "/old-page")
HTACCESS_ROOT = [
    "# site .htaccess",
    "<IfModule mod_rewrite.c>",
    "RewriteEngine On",
    ("RewriteRule ^old-page$ /new-page [R=307,L]", "ok",
     ["/old-page", "/old-page?a=1", ("/old-page/", "slash")]),
    ("RewriteRule ^old/(.*)$ /new/$1 [R=301,L]", "ok",
     ["/old/", "/old/a/b", "/old/caf%C3%A9?q=%20", ("/old", "itself")]),
    ("RewriteRule ^page\\.html$ https://other.example/page [R=301,L]", "ok",
     ["/page.html"]),
    ("RewriteRule ^c/?$ /c-target [R,L]", "ok", ["/c", "/c/"]),
    ("RewriteRule ^rel$ relative-target [R,L]", "skip", ["/rel"]),
    ("RewriteRule ^/slash$ /never [R,L]", "skip", ["/slash"]),
    "RewriteCond %{QUERY_STRING} ^p=1$",
    ("RewriteRule ^$ /home-p1? [R=301,L]", "ok", ["/?p=1", "/?p=2"]),
    ("RewriteRule ^(.*)\\.htm$ /$1.html [R=301,L]", "skip", ["/f.htm"]),
    ("RewriteRule ^all/(.*)$ http://all.example/$1 [R=302,L]", "ok",
     ["/all/x?y=1", ("/all", "itself")]),
    ("RewriteRule ^gone$ - [G,L]", "ok", ["/gone"]),
    ("RewriteRule ^ext$ http://ext.example/x", "ok", ["/ext", "/ext?a=b"]),
    ("RewriteRule ^end$ /end-target [R=303,END]", "ok", ["/end"]),
    ("RewriteRule ^item/([^/]+)$ /items/$1 [R=301,L]", "pat",
     ["/item/x", "/item/x?y=1", "/item/caf%C3%A9"]),
    ("RewriteRule ^y/([0-9]+)/([^/]+)$ /years/$1/$2 [R=302,L]", "pat",
     ["/y/2020/a", ("/y/ab/a", "broad")]),
    "</IfModule>",
]

# A WordPress .htaccess in /wp/, with a redirect added before and after
# the front controller.
HTACCESS_WP = [
    "# BEGIN WordPress",
    "<IfModule mod_rewrite.c>",
    "RewriteEngine On",
    "RewriteBase /wp/",
    ("RewriteRule ^old-post$ new-post [R=301,L]", "ok",
     ["/wp/old-post", "/wp/old-post?x=1"]),
    ("RewriteRule ^index\\.php$ - [L]", "skip", ["/wp/index.php"]),
    "RewriteCond %{REQUEST_FILENAME} !-f",
    "RewriteCond %{REQUEST_FILENAME} !-d",
    ("RewriteRule . /wp/index.php [L]", "skip", ["/wp/anything"]),
    ("RewriteRule ^late$ /late-target [R,L]", "skip", ["/wp/late"]),
    "</IfModule>",
    "# END WordPress",
]

# RewriteEngine Off holds for the whole context, wherever it stands.
HTACCESS_OFF = [
    "RewriteEngine On",
    ("RewriteRule ^x$ /y [R,L]", "off", ["/off/x"]),
    "RewriteEngine Off",
]

# Maps: keys with a leading '/' (server context ^(.*)$) ...
MAP_SLASH = [
    "# old path      new",
    ("/old-a          /new-a", "ok",
     ["/old-a", "/old-a?q=1", ("/old-a/", "mapslash"),
      ("/old-a?", "mapemptyq"), "/old-ax"]),
    ("/old-b          https://b.example/new", "ok",
     ["/old-b", "/old-b?q=1"]),
    ("/old-q          https://b.example/new?x=1", "skip", ["/old-q"]),
    ("/caf\u00e9          /coffee", "ok", ["/caf%C3%A9"]),
    ("/dir/           /folder/", "ok", ["/dir/", ("/dir", "mapslash")]),
    ("/pct%41         /pct-literal", "ok", ["/pct%2541", "/pctA"]),
    ("/dup            /first", "ok", ["/dup"]),
    ("/dup            /second", "ok", []),
    ("/sp-value       /a%20b", "ok", ["/sp-value"]),
    ("/trailing       /t  # a comment after the value", "ok",
     ["/trailing"]),
    "  /indented     /never",
    ("/novalue", "skip", ["/novalue"]),
    ("/relative       relative-target", "skip", ["/relative"]),
]

# ... and without (an .htaccess ^(.*)$), used with [R] alone: 302.
MAP_BARE = [
    ("old-c   /new-c", "ok", ["/old-c", "/old-c?z=1"]),
    ("deep/er /deeper", "ok", ["/deep/er"]),
]

MISSES = ["/", "/nothing", "/nothing?x=1", "/new-page", "/index.php",
          "/index.php?id=41", "/wp/", "/off/", "/docs-not"]


def numbered(corpus, docs):
    """[(line number, text, expect, requests)] and the file text, "{docs}"
    standing for the source's document roots."""
    rows, text = [], []
    for n, item in enumerate(corpus, 1):
        if isinstance(item, str):
            text.append(item.replace("{docs}", docs))
            continue
        line, expect, requests = item
        text.append(line)
        rows.append((n, line, expect, [r if isinstance(r, tuple) else (r, None)
                                       for r in requests]))
    return rows, "\n".join(text) + "\n"


# ---------------------------------------------------------------------------
# Setting up the two servers
# ---------------------------------------------------------------------------

class Scenario:
    """One input file, imported into one rules file, answered on one port
    of each server."""

    def __init__(self, name, fmt, corpus, path, docs, extra=()):
        self.name = name
        self.fmt = fmt
        self.rows, self.text = numbered(corpus, docs)
        self.path = path
        self.extra = list(extra)
        self.port = hh.free_port()          # the source server's
        self.our_port = hh.free_port()      # ours
        self.rules = path + ".rules"
        self.said = {}
        self.rc = None

    def write(self):
        hh.write_file(self.path, self.text)

    def run_import(self, binary):
        self.rc, out, self.said = run_import(binary, self.fmt, self.path,
                                             self.extra)
        hh.write_file(self.rules, out)


def build(tmp):
    """The scenarios and both servers' configuration texts."""
    src_root = hh.make_root("src.", tmp)
    our_root = hh.make_root("our.", tmp)
    docs = os.path.join(tmp, "docs")         # the source's document roots
    plain = os.path.join(tmp, "plain")       # ours: the same, no .htaccess
    for d in (docs, plain):
        for sub in ("site", "site/wp", "site/off", "site/dirsec", "maps"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            hh.write_file(os.path.join(d, sub, "index.html"), "index\n")
        hh.write_file(os.path.join(d, "site/wp/index.php"), "wp\n")
    os.chmod(tmp, 0o755)
    sc = [
        Scenario("server", "rewrite", SERVER_RULES,
                 os.path.join(src_root, "redirects.conf"), docs),
        Scenario("htaccess", "rewrite", HTACCESS_ROOT,
                 os.path.join(docs, "site/.htaccess"), docs),
        Scenario("htaccess-wp", "rewrite", HTACCESS_WP,
                 os.path.join(docs, "site/wp/.htaccess"), docs),
        Scenario("htaccess-off", "rewrite", HTACCESS_OFF,
                 os.path.join(docs, "site/off/.htaccess"), docs),
        Scenario("map-slash", "rewritemap", MAP_SLASH,
                 os.path.join(src_root, "slash.map"), docs,
                 ["--status", "301"]),
        Scenario("map-bare", "rewritemap", MAP_BARE,
                 os.path.join(src_root, "bare.map"), docs),
    ]
    # the .htaccess scenarios share one site
    for s in sc[2:4]:
        s.port, s.our_port = sc[1].port, sc[1].our_port
    return src_root, our_root, docs, plain, sc


def source_conf(root, docs, sc):
    server, site, _, _, mslash, mbare = sc
    lines = hh.conf_head(root, sorted({s.port for s in sc}),
                         hh.CORE_MODULES + [hh.LOG_CONFIG_MODULE,
                                            hh.DIR_MODULE, REWRITE_MODULE],
                         comment="source: apache2 + mod_rewrite")
    lines += ["DirectoryIndex index.html",
              "<Directory %s>\n    Require all granted\n"
              "    AllowOverride FileInfo\n</Directory>" % docs]
    lines.append(vhost(server.port, ["Include %s" % server.path]))
    lines.append(vhost(site.port, ["DocumentRoot %s/site" % docs]))
    lines.append(vhost(mslash.port, [
        "DocumentRoot %s/maps" % docs, "RewriteEngine On",
        "RewriteMap moved \"txt:%s\"" % mslash.path,
        "RewriteCond ${moved:$1} !=\"\"",
        "RewriteRule ^(.*)$ ${moved:$1} [R=301,L]"]))
    hh.write_file(os.path.join(docs, "maps/.htaccess"),
                  "RewriteEngine On\n"
                  "RewriteCond ${bare:$1} !=\"\"\n"
                  "RewriteRule ^(.*)$ ${bare:$1} [R,L]\n")
    lines.append(vhost(mbare.port, [
        "DocumentRoot %s/maps" % docs,
        "RewriteMap bare \"txt:%s\"" % mbare.path]))
    return "\n".join(lines) + "\n"


def our_conf(root, plain, module, sc):
    server, site, wp, _off, mslash, mbare = sc
    lines = hh.conf_head(root, sorted({s.our_port for s in sc}),
                         hh.CORE_MODULES + [hh.LOG_CONFIG_MODULE,
                                            hh.DIR_MODULE],
                         comment="ours: mod_redirect307 + imported rules")
    lines += ["LoadModule redirect307_module %s" % module,
              "DirectoryIndex index.html",
              "<Directory %s>\n    Require all granted\n</Directory>" % plain]
    lines.append(vhost(server.our_port, ["DocumentRoot %s/site" % plain,
                                         "Redirect307Map %s" % server.rules]))
    lines.append(vhost(site.our_port, ["DocumentRoot %s/site" % plain,
                                   "Redirect307Map %s" % site.rules,
                                   "Redirect307Map %s" % wp.rules,
                                   "Redirect307Map %s" % sc[3].rules]))
    for s in (mslash, mbare):
        lines.append(vhost(s.our_port, ["DocumentRoot %s/maps" % plain,
                                    "Redirect307Map %s" % s.rules]))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def check_reports(t, s):
    """The lines reported not converted are exactly those expected, the
    'off' lines have their note, and nothing else is refused."""
    skipped = {n for n, said in s.said.items()
               if any(k == "skip" for k, _ in said)}
    want = {n for n, _, e, _ in s.rows if e == "skip"}
    t.check("%s: lines not converted are the expected ones" % s.name,
            skipped == want, "got %s, want %s\n%s" % (
                sorted(skipped), sorted(want), said_text(s)))
    for n, line, e, _ in s.rows:
        if e == "off":
            t.check("%s:%d inactive is said" % (s.name, n),
                    any("inactive" in m for _, m in s.said.get(n, [])),
                    said_text(s))
    t.check("%s: exit status %d" % (s.name, 1 if want else 0),
            s.rc == (1 if want else 0), "rc=%s" % s.rc)


def said_text(s):
    return "\n".join("    %s:%d: %s" % (s.name, n, m)
                     for n in sorted(s.said) for _, m in s.said[n])


def note_covers(s, line, diff):
    """Did the importer give the note for `diff` that covers `line`?"""
    word, where = NOTES[diff]
    for n, said in s.said.items():
        if (n == line or (where == "before" and n < line)) and any(
                k == "note" and word in m for k, m in said):
            return True
    return False


class Stats:
    """What was compared, for the closing summary."""

    def __init__(self):
        self.compared = {}      # format -> requests compared
        self.skipped = 0        # requests aimed at lines not converted
        self.redirects = 0      # compared requests mod_rewrite redirected
        self.differ = {}        # documented difference -> requests

    def count(self, fmt):
        self.compared[fmt] = self.compared.get(fmt, 0) + 1

    def report(self):
        print("requests compared: %s; %d of them redirected by mod_rewrite; "
              "%d left out (aimed at lines not converted)" % (
                  ", ".join("%s %d" % kv for kv in sorted(
                      self.compared.items())), self.redirects, self.skipped))
        print("documented differences seen: %s" % (", ".join(
            "%s %d" % kv for kv in sorted(self.differ.items())) or "none"))


def run_checks(t, sc, verbose):
    """Compares every request of the corpus and the misses."""
    st = Stats()
    for s in sc:
        check_reports(t, s)
    for s in sc:
        skipped_lines = {n for n, said in s.said.items()
                         if any(k == "skip" for k, _ in said)}
        for n, line, expect, requests in s.rows:
            fired = False
            for path, diff in requests:
                if n in skipped_lines:
                    st.skipped += len(METHODS) * 2
                    continue
                for host in ("%s:%d" % (hh.LOOPBACK, s.port),
                             "Www.Example.COM:8080"):
                    for method in METHODS:
                        st.count(s.fmt)
                        fired |= one_request(t, s, n, path, diff, method,
                                             host, st, verbose)
            if requests and expect in ("ok", "pat"):
                t.check("%s:%d fires in mod_rewrite" % (s.name, n), fired,
                        "no request of the corpus was redirected by it")
            if expect == "off":
                t.check("%s:%d is inactive in mod_rewrite too" % (s.name, n),
                        not fired, "mod_rewrite redirected its requests")
    for path in MISSES:
        for s in (sc[0], sc[1]):
            for method in METHODS:
                st.count("miss")
                one_request(t, s, 0, path, None, method,
                            "%s:%d" % (hh.LOOPBACK, s.port), st, verbose)
    return st


def one_request(t, s, line, path, diff, method, host, st, verbose):
    """One request to both servers, with the same Host header; returns
    whether mod_rewrite redirected it (or answered 410)."""
    src = http_request(s.port, method, path, host)
    ours = http_request(s.our_port, method, path, host)
    a = (src[0], hex_upper(src[1]))
    b = (ours[0], hex_upper(ours[1]))
    name = "%s:%d %s %s (Host %s)" % (s.name, line, method, path, host)
    redirected = 300 <= a[0] < 400 or a[0] == 410
    st.redirects += redirected
    if a == b:
        t.check(name, True)
        return redirected
    if diff and note_covers(s, line, diff):
        t.check(name + " differs as noted (%s)" % diff, True)
        st.differ[diff] = st.differ.get(diff, 0) + 1
        if verbose:
            print("     mod_rewrite %s / ours %s" % (a, b))
        return redirected
    t.check(name, False, "mod_rewrite %s %s, ours %s %s%s" % (
        a[0], a[1], b[0], b[1],
        " (difference '%s' expected but not noted)" % diff if diff else ""))
    return redirected


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build",
                                                  "redirect307"))
    ap.add_argument("--module", default=os.path.join(ROOT, ".libs",
                                                     "mod_redirect307.so"))
    ap.add_argument("--apache", default="/usr/sbin/apache2")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    t = dc.Tally(args.verbose)
    tmp = hh.make_root("r307diff-rewrite.")
    servers = []
    try:
        src_root, our_root, docs, plain, sc = build(tmp)
        for s in sc:
            s.write()
        for s in sc:
            s.run_import(args.bin)
        start_server(servers, args.apache, "source", src_root,
                     sorted({s.port for s in sc}),
                     source_conf(src_root, docs, sc))
        start_server(servers, args.apache, "ours", our_root,
                     sorted({s.our_port for s in sc}),
                     our_conf(our_root, plain, os.path.abspath(args.module),
                              sc))
        run_checks(t, sc, args.verbose).report()
    except hh.StartError as e:
        t.check("both servers start", False, str(e))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(t.finish())


if __name__ == "__main__":
    main()
