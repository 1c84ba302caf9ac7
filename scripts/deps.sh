#!/usr/bin/env bash
# Shared helpers for scripts/run and scripts/test. Meant to be *sourced*:
#   . "$(dirname "${BASH_SOURCE[0]}")/deps.sh"
# Functions `exit` on unrecoverable problems on purpose: the callers cannot
# do anything useful without their dependencies.
set -euo pipefail

# Set once `apt-get update` has run in this process, so it runs at most once.
_DEPS_APT_UPDATED=0

# Headers/tools needed to compile the crate and its native dependencies
# (libpq for diesel/postgres, libclang for bindgen, PAM for login); used by
# scripts/run, scripts/test and bench/run.
BUILD_PACKAGES=(pkg-config libpq-dev libclang-dev libpam0g-dev build-essential ca-certificates)

_deps_log() { printf '[deps] %s\n' "$*" >&2; }

# True if the Debian package is fully installed. dpkg-query fails for unknown
# names, and for Multi-Arch packages it may print one status per
# architecture, hence the substring match.
_deps_pkg_installed() {
    local status
    status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
    [[ $status == *"install ok installed"* ]]
}

# True if every given package has an install candidate in the local apt lists
# (a fresh container has empty lists, so nothing has a candidate).
_deps_have_candidates() {
    local pkg cand
    for pkg in "$@"; do
        cand=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Candidate:/ {print $2; exit}')
        [[ -n $cand && $cand != "(none)" ]] || return 1
    done
}

_deps_apt_update() {
    if [[ $_DEPS_APT_UPDATED == 0 ]]; then
        _deps_log "apt-get update"
        apt-get update -qq
        _DEPS_APT_UPDATED=1
    fi
}

# ensure_apt_packages PKG... : install whatever is missing (root only).
ensure_apt_packages() {
    local pkg missing=()
    if ! command -v dpkg-query >/dev/null 2>&1; then
        # Not Debian-like: we cannot check, so trust the user and let the
        # build report anything really missing.
        _deps_log "dpkg-query not found; not checking for packages: $*"
        return 0
    fi
    for pkg in "$@"; do
        _deps_pkg_installed "$pkg" || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0

    if [[ $(id -u) -ne 0 ]]; then
        # Never sudo behind the user's back; tell them exactly what to run.
        printf 'Missing system packages: %s\nPlease run:\n  sudo apt-get install -y %s\n' \
            "${missing[*]}" "${missing[*]}" >&2
        exit 1
    fi

    _deps_log "installing: ${missing[*]}"
    # Refresh the package lists only when needed: empty/stale lists (no
    # candidate) up front, or an install that failed (e.g. 404 on old lists).
    _deps_have_candidates "${missing[@]}" || _deps_apt_update
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
        if [[ $_DEPS_APT_UPDATED == 1 ]]; then
            _deps_log "apt-get install failed: ${missing[*]}"
            exit 1
        fi
        _deps_apt_update
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
}

# ensure_rust : cargo must already be there (rustup needs the internet, which
# is not assumed to be reachable).
ensure_rust() {
    # rustup installs into ~/.cargo/bin, which non-login shells may lack.
    if ! command -v cargo >/dev/null 2>&1 && [[ -f ${CARGO_HOME:-$HOME/.cargo}/env ]]; then
        # shellcheck disable=SC1091
        . "${CARGO_HOME:-$HOME/.cargo}/env"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        cat >&2 <<'MSG'
error: `cargo` (the Rust toolchain) was not found on PATH.
calcweb needs Rust (see rust-version in Cargo.toml). Install it with rustup
(https://rustup.rs) or your distribution, make sure `cargo` is on PATH, and
re-run this script. It cannot be installed automatically here.
MSG
        exit 1
    fi
}
