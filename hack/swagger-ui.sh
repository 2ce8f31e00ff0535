#!/usr/bin/env bash
# swagger-ui.sh: vendors Swagger UI into pkg/openapi/swaggerui/dist/, from the npm
# package swagger-ui-dist at VERSION (below), which the services embed to serve
# /api-docs. Run it to bump the version (edit VERSION and INTEGRITY first: `npm view
# swagger-ui-dist@X dist.integrity`), then commit the result; builds never fetch it.
#
# The tarball comes from the npm registry and must match INTEGRITY (npm's sha512);
# only the files the UI needs are kept, with their SHA-256 sums.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=5.35.0
INTEGRITY=sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==
FILES=(swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE)
DEST=$ROOT/pkg/openapi/swaggerui/dist

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --max-time 120 -o "$tmp/ui.tgz" "https://registry.npmjs.org/swagger-ui-dist/-/swagger-ui-dist-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tmp/ui.tgz" | base64 -w0)"
[ "$got" = "$INTEGRITY" ] || { echo "swagger-ui-dist $VERSION: integrity $got, want $INTEGRITY" >&2; exit 1; }
tar -xzf "$tmp/ui.tgz" -C "$tmp"
rm -rf "$DEST"
mkdir -p "$DEST"
for f in "${FILES[@]}"; do cp "$tmp/package/$f" "$DEST/$f"; done
echo "$VERSION" >"$DEST/VERSION"
(cd "$DEST" && sha256sum "${FILES[@]}" >SHA256SUMS)
echo "swagger-ui-dist $VERSION vendored into ${DEST#"$ROOT"/}"
