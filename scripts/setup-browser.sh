#!/usr/bin/env bash
# What the browser test (examples/tests/browser.rs) needs: Debian's chromium
# (installed with apt-get, as root or through passwordless sudo), and in
# examples/web the npm packages pinned in its package-lock.json
# (@connectrpc/connect-web, @bufbuild/protobuf, esbuild, playwright-core: no
# browser download) with `npm ci` when node_modules is missing or older than
# the lockfile, then the page's script bundled by esbuild into
# examples/web/dist/app.js when src/ or the packages are newer. Idempotent.
# Diagnostics go to stderr; the last stdout line is the absolute path of
# examples/web.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/apt.sh

DIR=$PWD/examples/web
STAMP=$DIR/node_modules/.package-lock.json # npm writes it on every install
BUNDLE=$DIR/dist/app.js

apt_install chromium chromium
. scripts/lib/npm.sh
npm_ci_if_stale setup-browser "$DIR"

if [ ! -f "$BUNDLE" ] || [ "$STAMP" -nt "$BUNDLE" ] || [ -n "$(find "$DIR/src" -newer "$BUNDLE" -print -quit)" ]; then
    echo "setup-browser: bundling $DIR/src/app.js into $BUNDLE" >&2
    (cd "$DIR" && timeout 120 npm run --silent build) >&2
else
    echo "setup-browser: $BUNDLE is up to date" >&2
fi

# A last check that the driver's package loads and the browser answers.
(cd "$DIR" && node -e 'require("playwright-core")') >&2
timeout 30 chromium --version 2>/dev/null >&2 # (its launcher script complains on stderr)
echo "$DIR"
