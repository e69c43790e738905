#!/bin/sh
# mk/deps.sh ITEM... - the one place that installs Debian packages.
#
# Each ITEM is either
#   PACKAGE          present when dpkg says "install ok installed", or
#   COMMAND:PACKAGE  present when COMMAND is on PATH (or in /usr/sbin, /sbin),
#                    whichever package brought it (nginx-full serves as well
#                    as nginx-light); PACKAGE is what gets installed if not.
# Nothing missing: exit 0, silently.  Something missing, as root: apt-get
# update, then apt-get install of exactly the missing packages.  As another
# user: print the exact apt-get line and exit 1.
#
#   sh mk/deps.sh apache2 apache2-dev check wrk:wrk nginx:nginx-light
set -u

missing=""
for item in "$@"; do
    case $item in
        *:*)
            cmd=${item%%:*}
            pkg=${item#*:}
            if PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1; then
                continue
            fi
            ;;
        *)
            pkg=$item
            if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
                continue
            fi
            ;;
    esac
    case " $missing " in
        *" $pkg "*) ;;
        *) missing="$missing $pkg" ;;
    esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    # Word splitting of $missing is wanted: one argument per package.
    # shellcheck disable=SC2086
    if ! apt-get update -qq || ! apt-get install -y -qq $missing >/dev/null; then
        echo "mk/deps.sh: apt-get install$missing failed" >&2
        exit 1
    fi
else
    echo "missing Debian packages; run:"
    echo "  sudo apt-get install -y$missing"
    exit 1
fi
