# shellcheck shell=bash
# Sourced by the scripts that install what they need (wine-tests.sh,
# testssl.sh, proxy-tests.sh).
#
# apt_install [--no-install-recommends] PACKAGE...: as root on Debian,
# installs the packages with apt-get (waiting up to 10 min for another
# apt-get, such as .ci/run's own installs, to let go of the dpkg lock);
# elsewhere says what is missing and fails.
apt_install() {
    local opts=(-o DPkg::Lock::Timeout=600)
    if [ "${1:-}" = --no-install-recommends ]; then
        opts+=("$1")
        shift
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get -o DPkg::Lock::Timeout=600 update -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${opts[@]}" "$@" >/dev/null
    else
        echo "missing: $* (install it, or run this as root on Debian)" >&2
        return 1
    fi
}
