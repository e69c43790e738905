#!/bin/sh
# Starts httpd in the foreground on 127.0.0.1:8307 with the example rules.
# Usage: demo.sh CHECKOUT APACHE2_BINARY
set -e
root=$1
apache=${2:-/usr/sbin/apache2}
run=$root/build/demo
mkdir -p "$run/www"
echo "<h1>new page</h1>" > "$run/www/new-page"
sed -e "s|@ROOT@|$root|g" -e "s|@RUN@|$run|g" "$root/conf/demo.conf.in" > "$run/httpd.conf"
chmod -R a+rX "$run"
"$apache" -t -f "$run/httpd.conf"
cat <<MSG

mod_redirect307 demo on http://127.0.0.1:8307/ (Ctrl-C stops it). Try:

  curl -i http://127.0.0.1:8307/old-page
  curl -i 'http://127.0.0.1:8307/docs/guide/install?lang=en'
  curl -i -X POST -d 'name=value' http://127.0.0.1:8307/api/v1/orders

rules: $root/conf/example.rules

MSG
exec "$apache" -f "$run/httpd.conf" -DFOREGROUND
