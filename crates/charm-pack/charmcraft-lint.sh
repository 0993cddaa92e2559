#!/bin/sh
# Runs charmcraft's own linter (`charmcraft analyse`) on .charm archives: opt-in, `make charms-lint`.
#
# charmcraft is normally a snap; its PyPI wheel (pinned below) installs into a virtualenv cached
# outside the repository. Installing needs PyPI once; `analyse` itself runs offline (checked with
# `unshare -n`: no network namespace, same results). Exit status 0 when no linter reports a
# warning, error or fatal result (charmcraft's own exit status), else 1.
set -eu
version=4.5.0
venv="${XDG_CACHE_HOME:-$HOME/.cache}/charmarr-rs/charmcraft-$version"
if [ ! -e "$venv/.installed" ]; then
    echo "charmcraft-lint: installing charmcraft $version from PyPI into $venv (once)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "charmcraft==$version"
    touch "$venv/.installed"
fi
status=0
for charm in "$@"; do
    PYTHONWARNINGS=ignore "$venv/bin/charmcraft" analyse "$charm" || status=1
done
exit "$status"
