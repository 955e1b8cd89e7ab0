#!/usr/bin/env bash
# Install the Debian packages ewp needs when they are missing: Python's venv module, the
# Mosquitto broker, and a C toolchain where a wheel is missing. With --test also what only
# `make test` needs: the PostgreSQL server (the store tests run on it too, in a throwaway
# cluster started with initdb), Chromium with a Thai font for the dashboard's browser
# tests and their screenshots, and gcc for the fake iris camera library the tests build.
# Safe to run again: it does nothing when everything is present.
set -euo pipefail

testing=0
if [ "${1:-}" = "--test" ]; then
    testing=1
    shift
fi
missing=()
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
    missing+=(mosquitto)
fi
# PostgreSQL's server binaries live in /usr/lib/postgresql/<version>/bin (not on PATH); the
# package also creates the `postgres` system user the tests run the server as when root.
if [ "$testing" -eq 1 ]; then
    if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || ! id postgres >/dev/null 2>&1; then
        missing+=(postgresql)
    fi
fi
# The wsq package (WSQ for ISO 19794-4 finger records) ships x86-64 wheels only: elsewhere
# (a Raspberry Pi is arm64) pip builds it from source, which needs a compiler and headers.
case "$(uname -m)" in
    x86_64 | amd64) ;;
    *) set -- "$@" build-essential python3-dev ;;
esac
# Debian's chromium, driven by Playwright (never a browser downloaded by `playwright install`).
# gcc and libc6-dev: the suite compiles the fake IDDK 2000 library (simulators/fake_iddk2000.c).
# fonts-noto-core: the kiosk's fonts (Thai, Burmese, Khmer, Lao, Vietnamese), for its browser tests
# and glyph-coverage test; a station with the kiosk screen installs it too (docs/kiosk.md).
[ "$testing" -eq 1 ] && set -- "$@" chromium fonts-thai-tlwg fonts-noto-core gcc libc6-dev
for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done

[ ${#missing[@]} -eq 0 ] && exit 0

echo "ewp: installing missing system packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        echo "ewp: need root to install ${missing[*]}; run as root or install them yourself" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
