#!/usr/bin/env bash
# Debian's Chromium, for the Temporal UI test (test/integration/temporal-ui.test.ts) and `npm run ui:screenshot`.
# CI reaches Debian's package mirrors but not Playwright's browser downloads, so the browser comes from apt.
# Measured on Debian 12 (2 shared cores): 30-45 s, of which apt-get update ~2 s (about 20 packages, 120 MB).
set -euo pipefail

if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then
  echo "chromium: using CHROMIUM_PATH=$CHROMIUM_PATH"
  exit 0
fi
if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null)"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
start=$SECONDS
# A fresh container has no package lists, and old ones name files the mirror no longer has: refresh first.
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends chromium
echo "chromium: installed in $((SECONDS - start)) s: $(/usr/bin/chromium --version 2>/dev/null)"
