#!/usr/bin/env bash
# Installs the pinned mdBook that builds book/ into tools/.bin (gitignored), from crates.io with
# `cargo install --locked`. Does nothing when that version is already there.
# Only the `search` feature: `serve` and `watch` pull in tokio/axum/notify and add minutes of
# compiling for commands the checks never use (run `mdbook serve` from your own install if wanted).
# Prints the path of the mdbook binary on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
version="0.5.4"
root="tools/.bin"
bin="$root/bin/mdbook"
if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "mdbook v$version" ]; then
  echo "$bin"
  exit 0
fi
# Its own target dir: the workspace's would mix mdbook's dependencies into nabla's build cache.
CARGO_TARGET_DIR="${MDBOOK_TARGET_DIR:-$root/target}" \
  cargo install --locked --version "$version" --no-default-features --features search \
  --root "$root" mdbook >&2
rm -rf "${MDBOOK_TARGET_DIR:-$root/target}"
echo "$bin"
