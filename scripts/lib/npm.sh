# Sourced by the setup scripts: npm_ci_if_stale WHO DIR installs DIR's npm
# packages exactly as its package-lock.json pins them (`npm ci`, no install
# scripts) when node_modules is missing or older than package.json or the
# lockfile; WHO prefixes the diagnostics (on stderr). NPM_TIMEOUT bounds one
# `npm ci` (s, default 600).
npm_ci_if_stale() {
    local who=$1 dir=$2 tool
    local stamp=$dir/node_modules/.package-lock.json # npm writes it on every install
    for tool in node npm; do
        command -v "$tool" >/dev/null 2>&1 || { echo "$who: $tool not found" >&2; return 1; }
    done
    if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ] || [ "$dir/package.json" -nt "$stamp" ]; then
        echo "$who: npm ci in $dir (node $(node --version))" >&2
        (cd "$dir" && timeout "${NPM_TIMEOUT:-600}" npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
        touch "$stamp"
    else
        echo "$who: $dir/node_modules is up to date" >&2
    fi
}
