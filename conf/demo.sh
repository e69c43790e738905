#!/bin/sh
# Starts httpd in the foreground on 127.0.0.1:PORT (default 8307) with the
# example rules.
# Usage: demo.sh CHECKOUT [APACHE2_BINARY [PORT]]
set -e
root=$1
apache=${2:-/usr/sbin/apache2}
port=${3:-8307}
case $port in
    ''|*[!0-9]*) echo "demo.sh: port must be a number, not '$port'" >&2; exit 2 ;;
esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then
    echo "demo.sh: port $port is not between 1 and 65535" >&2
    exit 2
fi
run=$root/build/demo
mkdir -p "$run/www"
echo "<h1>new page</h1>" > "$run/www/new-page"
sed -e "s|@ROOT@|$root|g" -e "s|@RUN@|$run|g" -e "s|@PORT@|$port|g" \
    "$root/conf/demo.conf.in" > "$run/httpd.conf"
chmod -R a+rX "$run"
"$apache" -t -f "$run/httpd.conf"
cat <<MSG

mod_redirect307 demo on http://127.0.0.1:$port/ (Ctrl-C stops it). Try:

  curl -i http://127.0.0.1:$port/old-page
  curl -i 'http://127.0.0.1:$port/docs/guide/install?lang=en'
  curl -i -X POST -d 'name=value' http://127.0.0.1:$port/api/v1/orders

rules: $root/conf/example.rules

MSG
exec "$apache" -f "$run/httpd.conf" -DFOREGROUND
