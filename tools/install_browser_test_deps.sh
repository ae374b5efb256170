#!/usr/bin/env bash
# Installs what the playground's browser test needs: Debian's chromium and, from npm,
# playwright-core at the version pinned in tools/playground_e2e/package-lock.json.
# Idempotent and quiet; run as root (or with sudo available) on Debian.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: apt-get install -y nodejs npm" >&2
  exit 1
fi
(cd tools/playground_e2e && npm ci --no-audit --no-fund --silent)
echo "browser test dependencies: $(chromium --version 2>/dev/null | head -1), playwright-core $(node -p "require('./tools/playground_e2e/node_modules/playwright-core/package.json').version")"
