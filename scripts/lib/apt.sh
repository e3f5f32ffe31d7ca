# Sourced by the setup scripts: apt_install COMMAND PACKAGE... installs
# Debian packages (as root, or through passwordless sudo) unless COMMAND is
# already on PATH, without letting a package's service start (the tests
# start their own servers on loopback ports).
apt_install() {
    local command=$1
    shift
    command -v "$command" >/dev/null 2>&1 && return 0
    echo "== installing $* (for $command)" >&2
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo=(sudo -n)
        else
            echo "error: $command is missing and cannot be installed: not root and no sudo (apt-get install $*)" >&2
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    local policy_added=
    if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" = 0 ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        policy_added=1
    fi
    local ok=0
    timeout 600 "${sudo[@]}" apt-get install -y --no-install-recommends "$@" >&2 \
        || { timeout 600 "${sudo[@]}" apt-get update >&2 \
            && timeout 600 "${sudo[@]}" apt-get install -y --no-install-recommends "$@" >&2; } \
        || ok=$?
    [ -n "$policy_added" ] && rm -f /usr/sbin/policy-rc.d
    [ "$ok" = 0 ] || return "$ok"
    command -v "$command" >/dev/null 2>&1 || { echo "error: $command still missing after installing $*" >&2; return 1; }
}
