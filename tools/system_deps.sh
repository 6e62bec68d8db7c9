#!/usr/bin/env bash
# What the project needs from the system besides Python: Debian's chromium (the browser tests), wrk
# (compare's capacity pass, the cross-check) and strace (system calls per request). Installs what is
# missing when it can (root and apt-get);
# otherwise names the one command to run and fails. Called by the Makefile's set-up; prints nothing when all is there.
set -euo pipefail
need=()
command -v "${SERVER_LAYERS_CHROMIUM:-chromium}" >/dev/null || need+=(chromium)
command -v wrk >/dev/null || need+=(wrk)
command -v strace >/dev/null || need+=(strace)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${need[*]} (Debian packages) ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  exit 0
fi
echo "missing: ${need[*]}. Install them, then run make again:  sudo apt-get install ${need[*]}" >&2
echo "(another browser binary: SERVER_LAYERS_CHROMIUM=/path/to/chromium make test)" >&2
exit 1
