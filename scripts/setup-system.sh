#!/usr/bin/env bash
# Install the Debian packages rlhf needs (idempotent; quick when they are already there).
set -euo pipefail
pkgs=(libopenblas-dev libsqlite3-dev libpq-dev postgresql tmux)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
