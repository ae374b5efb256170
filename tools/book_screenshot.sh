#!/usr/bin/env bash
# Renders two chapters of the built book side by side in headless Chromium and saves the
# picture as docs/book.png (the README shows it). Needs `chromium` (Debian's; see
# tools/install_browser_test_deps.sh) and the built site (`mdbook build book`).
# Usage: tools/book_screenshot.sh [LEFT.html RIGHT.html [OUTPUT.png]]
set -euo pipefail
cd "$(dirname "$0")/.."
left="${1:-03-activations.html}"
right="${2:-10-rotation.html}"
out="${3:-docs/book.png}"
site="$PWD/book/build"
for page in "$left" "$right"; do
  if [ ! -f "$site/$page" ]; then
    echo "no $site/$page: build the book first (tools/.bin/bin/mdbook build book)" >&2
    exit 1
  fi
done
frame="$(mktemp -d)"
trap 'rm -rf "$frame"' EXIT
cat > "$frame/two.html" <<HTML
<!doctype html>
<html><body style="margin:0;display:flex;gap:8px;background:#888">
<iframe src="file://$site/$left" style="width:800px;height:900px;border:0"></iframe>
<iframe src="file://$site/$right" style="width:800px;height:900px;border:0"></iframe>
</body></html>
HTML
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files \
  --virtual-time-budget=3000 --window-size=1608,900 --screenshot="$PWD/$out" "file://$frame/two.html" 2>/dev/null
echo "wrote $out"
