#!/bin/sh
# Refreshes api/docs/ (the Redoc bundle GET /docs runs) from the npm registry. Run by hand when
# upgrading; the result is committed, so building and serving never need the network.
#   sh scripts/vendor_redoc.sh [VERSION]      (default: the version below)
# One change to the bundle: its sidebar footer loads Redocly's logo from their CDN, which our
# Content-Security-Policy refuses (and an offline reader cannot reach); it becomes a blank
# inline SVG. Nothing else in the bundle loads anything from elsewhere (tests/http/test_docs.py).
set -eu
version=${1:-2.5.4}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/allied-redoc-$version
mkdir -p "$cache"
(cd "$cache" && npm pack --silent "redoc@$version" >/dev/null && tar xzf "redoc-$version.tgz")
top=$(cd "$(dirname "$0")/.." && pwd)
sed 's#https://cdn.redoc.ly/redoc/logo-mini.svg#data:image/svg+xml,%3Csvg xmlns=%27http://www.w3.org/2000/svg%27/%3E#' \
  "$cache/package/bundles/redoc.standalone.js" > "$top/api/docs/redoc.standalone.js"
cp "$cache/package/bundles/redoc.standalone.js.LICENSE.txt" "$top/api/docs/"
cp "$cache/package/LICENSE" "$top/api/docs/redoc.LICENSE"
grep -q 'cdn.redoc.ly' "$top/api/docs/redoc.standalone.js" && { echo "vendor_redoc: the logo URL is still there" >&2; exit 1; }
echo "api/docs/redoc.standalone.js: redoc $version"
