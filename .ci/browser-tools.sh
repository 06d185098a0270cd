#!/usr/bin/env bash
# What the dashboard's browser test needs, installed when missing: Debian's `chromium` (at
# /usr/bin/chromium), `nodejs` and `npm`, then playwright-core from the lock file
# (backtick-dashboard/browser-tests/package-lock.json). playwright-core never downloads a
# browser: the test drives the system's Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "browser-tools: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root apt-get update -q >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

tests=backtick-dashboard/browser-tests
if [ ! -d "$tests/node_modules/playwright-core" ]; then
  say "npm ci in $tests"
  (cd "$tests" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >&2)
fi
say "chromium $(/usr/bin/chromium --version 2>/dev/null | awk '{print $2}'), node $(node --version)"
