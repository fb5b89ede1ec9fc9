#!/usr/bin/env bash
# Refresh the committed PKI.js bundle in api/static/vendor/pkijs/ (used by api/static/js/signing.js: the leader's
# browser opens their PKCS#12 key file and signs locally; the server never sees the key).
#
# The application serves built files only: Node is needed to run this script, never to run or test Motcua
# (`make run` does not call it). It installs pinned pkijs and asn1js releases from the npm registry into a temporary
# directory (no package.json or node_modules in the repository), bundles both — with their dependencies — into one
# minified IIFE with esbuild (global `MotcuaPkijs` = { pkijs, asn1js }), copies the licence of every bundled package
# and writes VERSION (versions, integrity, sha256 of each file).
#
#   scripts/refresh-pkijs.sh                 the pinned versions below
#   scripts/refresh-pkijs.sh 4.0.0 4.0.0     other pkijs / asn1js versions (then update the pins here, commit both)
#
# Review the diff of api/static/vendor/pkijs/ (VERSION, licenses/) before committing.

set -euo pipefail

PKIJS_VERSION="${1:-4.0.0}"
ASN1JS_VERSION="${2:-4.0.0}"
ESBUILD_VERSION="0.28.2"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="$ROOT/api/static/vendor/pkijs"

command -v npm >/dev/null || { echo "npm is needed to refresh the bundle (not to run Motcua)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
printf '{"name":"motcua-pkijs-refresh","private":true}\n' >package.json
# esbuild's platform binary comes as an optional dependency: no install scripts are needed
npm install --no-audit --no-fund --ignore-scripts --save-exact \
    "pkijs@${PKIJS_VERSION}" "asn1js@${ASN1JS_VERSION}" "esbuild@${ESBUILD_VERSION}" >&2

for pair in "pkijs:$PKIJS_VERSION" "asn1js:$ASN1JS_VERSION"; do
    name="${pair%%:*}"
    want="${pair#*:}"
    got="$(node -p "require('./node_modules/$name/package.json').version")"
    if [[ "$got" != "$want" ]]; then
        echo "asked for $name $want, npm installed $got" >&2
        exit 1
    fi
done

cat >entry.js <<'EOF'
import * as pkijs from "pkijs";
import * as asn1js from "asn1js";
export { pkijs, asn1js };
EOF

STAGE="$WORK/out"
mkdir -p "$STAGE/licenses"
npx --no-install esbuild entry.js --bundle --format=iife --global-name=MotcuaPkijs --platform=browser \
    --target=es2020 --minify --legal-comments=eof --metafile="$WORK/meta.json" \
    --outfile="$STAGE/pkijs.bundle.min.js" >&2

# the licence of every package that ended up in the bundle
bundled="$(node -e '
const meta = require(process.argv[1]);
const names = new Set();
for (const input of Object.keys(meta.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (m) names.add(m[1]);
}
console.log([...names].sort().join("\n"));
' "$WORK/meta.json")"
[[ -n "$bundled" ]] || { echo "esbuild bundled no package?" >&2; exit 1; }
for name in $bundled; do
    licence="$(ls "node_modules/$name" | grep -i -E '^(licen[cs]e|copying)' | head -n 1 || true)"
    [[ -n "$licence" ]] || { echo "$name has no licence file" >&2; exit 1; }
    safe="${name#@}"
    cp "node_modules/$name/$licence" "$STAGE/licenses/${safe//\//-}.txt"
done
cp "node_modules/pkijs/LICENSE" "$STAGE/LICENSE"

{
    echo "pkijs $PKIJS_VERSION + asn1js $ASN1JS_VERSION, bundled with esbuild $ESBUILD_VERSION (IIFE, global MotcuaPkijs)"
    echo "refreshed by scripts/refresh-pkijs.sh"
    echo
    echo "bundled packages (version, licence, integrity):"
    for name in $bundled; do
        node -p "const p = require('./node_modules/$name/package.json');
          const lock = require('./package-lock.json').packages['node_modules/$name'] || {};
          '  ' + p.name + ' ' + p.version + ' ' + p.license + ' ' + (lock.integrity || '?')"
    done
    echo
    echo "sha256:"
    (cd "$STAGE" && find . -type f ! -name VERSION | LC_ALL=C sort | xargs sha256sum | sed 's|  \./|  |')
} >"$STAGE/VERSION"

rm -rf "$TARGET"
mkdir -p "$(dirname "$TARGET")"
cp -R "$STAGE" "$TARGET"
echo "api/static/vendor/pkijs: pkijs $PKIJS_VERSION, asn1js $ASN1JS_VERSION" >&2
