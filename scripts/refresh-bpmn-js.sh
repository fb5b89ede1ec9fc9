#!/usr/bin/env bash
# Refresh the committed bpmn-js viewer bundle in api/static/vendor/bpmn-js/.
#
# The application serves built files only: Node is needed to run this script, never to run or test Motcua.
# It installs a pinned bpmn-js release from the npm registry into a temporary directory (no package.json or
# node_modules in the repository), copies the production viewer bundle (the dossier's diagram), the production
# modeler bundle (the procedure designer, /quan-tri/thu-tuc/{code}/thiet-ke), the CSS they need (bpmn-js.css,
# diagram-js.css, the bpmn-font with its font files), the licence, and camunda-bpmn-moddle's descriptor
# (camunda.json: camunda:candidateGroups, camunda:type, camunda:topic, camunda:dueDate round-trip through the
# modeler), and writes VERSION.
#
#   scripts/refresh-bpmn-js.sh            the pinned version below
#   scripts/refresh-bpmn-js.sh 18.31.1    another version (then update BPMN_JS_VERSION here and commit both)
#
# Review the diff of api/static/vendor/bpmn-js/ (VERSION, LICENSE) before committing.

set -euo pipefail

BPMN_JS_VERSION="${1:-18.31.1}"
CAMUNDA_MODDLE_VERSION="8.0.1"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="$ROOT/api/static/vendor/bpmn-js"

command -v npm >/dev/null || { echo "npm is needed to refresh the bundle (not to run Motcua)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
printf '{"name":"motcua-bpmn-js-refresh","private":true}\n' >package.json
npm install --no-audit --no-fund --ignore-scripts --save-exact "bpmn-js@${BPMN_JS_VERSION}" \
    "camunda-bpmn-moddle@${CAMUNDA_MODDLE_VERSION}" >&2

PKG="$WORK/node_modules/bpmn-js"
installed="$(node -p "require('$PKG/package.json').version")"
if [[ "$installed" != "$BPMN_JS_VERSION" ]]; then
    echo "asked for bpmn-js $BPMN_JS_VERSION, npm installed $installed" >&2
    exit 1
fi

for f in dist/bpmn-viewer.production.min.js dist/bpmn-modeler.production.min.js dist/assets/bpmn-js.css dist/assets/diagram-js.css LICENSE; do
    [[ -f "$PKG/$f" ]] || { echo "bpmn-js $installed has no $f" >&2; exit 1; }
done

STAGE="$WORK/out"
mkdir -p "$STAGE/assets/bpmn-font/css" "$STAGE/assets/bpmn-font/font"
cp "$PKG/dist/bpmn-viewer.production.min.js" "$PKG/dist/bpmn-modeler.production.min.js" "$STAGE/"
MODDLE="$WORK/node_modules/camunda-bpmn-moddle"
mkdir -p "$STAGE/camunda-bpmn-moddle"
cp "$MODDLE/resources/camunda.json" "$STAGE/camunda-bpmn-moddle/camunda.json"
cp "$MODDLE/LICENSE" "$STAGE/camunda-bpmn-moddle/LICENSE"
cp "$PKG/dist/assets/bpmn-js.css" "$PKG/dist/assets/diagram-js.css" "$STAGE/assets/"
# the viewer draws with SVG only; the font is for the palette/context pad of the modeler, copied so that a page
# using bpmn-js's CSS as documented finds every file it refers to
if [[ -d "$PKG/dist/assets/bpmn-font" ]]; then
    cp "$PKG/dist/assets/bpmn-font/css/bpmn.css" "$STAGE/assets/bpmn-font/css/"
    cp "$PKG/dist/assets/bpmn-font/font/"bpmn.{woff2,woff,ttf,svg,eot} "$STAGE/assets/bpmn-font/font/" 2>/dev/null || true
fi
cp "$PKG/LICENSE" "$STAGE/LICENSE"

{
    echo "bpmn-js $installed"
    echo "source: https://registry.npmjs.org/bpmn-js/-/bpmn-js-$installed.tgz"
    echo "integrity: $(node -p "require('$PKG/package.json')._integrity || require('$WORK/package-lock.json').packages['node_modules/bpmn-js'].integrity")"
    echo "camunda-bpmn-moddle $(node -p "require('$MODDLE/package.json').version") (camunda-bpmn-moddle/: resources/camunda.json, LICENSE)"
    echo "source: https://registry.npmjs.org/camunda-bpmn-moddle/-/camunda-bpmn-moddle-$(node -p "require('$MODDLE/package.json').version").tgz"
    echo "integrity: $(node -p "require('$WORK/package-lock.json').packages['node_modules/camunda-bpmn-moddle'].integrity")"
    echo "refreshed by scripts/refresh-bpmn-js.sh"
    echo
    echo "sha256:"
    (cd "$STAGE" && find . -type f ! -name VERSION | LC_ALL=C sort | xargs sha256sum | sed 's|  \./|  |')
} >"$STAGE/VERSION"

rm -rf "$TARGET"
mkdir -p "$(dirname "$TARGET")"
cp -R "$STAGE" "$TARGET"
echo "api/static/vendor/bpmn-js: bpmn-js $installed" >&2
