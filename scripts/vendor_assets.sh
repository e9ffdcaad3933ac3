#!/usr/bin/env bash
# Vendor front-end assets (USWDS, htmx, Chart.js) from the npm registry into
# src/defchain/web/static/ and regenerate src/defchain/web/static/VENDOR.md.
#
# Idempotent: the vendored trees (static/uswds, static/htmx, static/chartjs)
# are rebuilt from scratch on every run; re-running with the same pins yields
# identical files.
#
# To update: change the pins below, run `bash scripts/vendor_assets.sh`, review
# the diff. Set an *_INTEGRITY pin to "" to accept whatever the registry
# serves for a new version (the script prints the value to pin).
set -euo pipefail

# ---- pins -------------------------------------------------------------------
USWDS_VERSION="3.14.0"
USWDS_INTEGRITY="sha512-kwZ50TqGszxj3+MQhm+c84hI0y8rIKoc7ZLKbuHg+8rTkFisp9lXOMRD2wclyyuYZahpADxMvaPong7bwL7cew=="
HTMX_VERSION="2.0.11"   # stay on the 2.0.x line (htmx 4.x is a different API)
HTMX_INTEGRITY="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="
CHARTJS_VERSION="4.6.1"   # stay on the 4.x line (UMD build exposes window.Chart)
CHARTJS_INTEGRITY="sha512-hJyniucsFmq//EvXYvJ6c6mahPoI3kaxdjVH8awTaJ/fDNWeSqqqArixMJWkWNN6fcYvPU3HneSANFNYtRi61g=="

# Images used by USWDS *markup* (banner, sprite icons) rather than by the CSS;
# copied in addition to everything uswds.min.css references via url().
USWDS_EXTRA_IMGS=(sprite.svg us_flag_small.png icon-dot-gov.svg icon-https.svg)
# -----------------------------------------------------------------------------

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATIC="$ROOT/src/defchain/web/static"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/vendor_assets.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

command -v npm >/dev/null || { echo "npm not found" >&2; exit 1; }

# fetch NAME VERSION EXPECTED_INTEGRITY -> extracts into $WORK/NAME-safe/package
fetch() {
    local name="$1" version="$2" want="$3" safe tgz got
    safe="${name//[@\/]/_}"
    mkdir -p "$WORK/$safe"
    # npm pack verifies the tarball against the registry's integrity itself.
    ( cd "$WORK/$safe" && npm pack --silent "$name@$version" >/dev/null )
    tgz="$(ls "$WORK/$safe"/*.tgz)"
    got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
    if [[ -z "$want" ]]; then
        echo "WARNING: no integrity pin for $name@$version; got $got" >&2
    elif [[ "$got" != "$want" ]]; then
        echo "integrity mismatch for $name@$version: want $want got $got" >&2
        exit 1
    fi
    tar xzf "$tgz" -C "$WORK/$safe"
    echo "$tgz"
}

echo "fetching @uswds/uswds@$USWDS_VERSION, htmx.org@$HTMX_VERSION and chart.js@$CHARTJS_VERSION ..."
USWDS_TGZ="$(fetch @uswds/uswds "$USWDS_VERSION" "$USWDS_INTEGRITY")"
HTMX_TGZ="$(fetch htmx.org "$HTMX_VERSION" "$HTMX_INTEGRITY")"
CHARTJS_TGZ="$(fetch chart.js "$CHARTJS_VERSION" "$CHARTJS_INTEGRITY")"
U="$WORK/_uswds_uswds/package"
H="$WORK/htmx.org/package"
C="$WORK/chart.js/package"

# Rebuild the vendored trees from scratch (idempotent).
rm -rf "$STATIC/uswds" "$STATIC/htmx" "$STATIC/chartjs"
mkdir -p "$STATIC/uswds/css" "$STATIC/uswds/js" "$STATIC/uswds/fonts" \
         "$STATIC/uswds/img" "$STATIC/htmx" "$STATIC/chartjs"

install -m 0644 "$U/dist/css/uswds.min.css"       "$STATIC/uswds/css/"
install -m 0644 "$U/dist/js/uswds.min.js"         "$STATIC/uswds/js/"
install -m 0644 "$U/dist/js/uswds-init.min.js"    "$STATIC/uswds/js/"
install -m 0644 "$U/LICENSE.md"                   "$STATIC/uswds/LICENSE.md"
install -m 0644 "$H/dist/htmx.min.js"             "$STATIC/htmx/"
install -m 0644 "$H/LICENSE"                      "$STATIC/htmx/LICENSE"
# Chart.js UMD build: a classic script that defines the global `Chart`
# (no bundler, no ES modules, no date adapter). The .map is not vendored.
install -m 0644 "$C/dist/chart.umd.min.js"       "$STATIC/chartjs/chart.umd.min.js"
install -m 0644 "$C/LICENSE.md"                   "$STATIC/chartjs/LICENSE.md"

# Every url(...) in the compiled CSS that is a relative file path
# (skips data: URIs, absolute URLs and the empty url() used in @supports).
css_refs() {
    grep -o 'url([^)]*)' "$1" \
        | sed -E 's/^url\(//; s/\)$//; s/^["'\'']//; s/["'\'']$//; s/[?#].*$//' \
        | grep -v -E '^$|^data:|^[a-z]+://|^/' \
        | sort -u
}

missing=0
while IFS= read -r ref; do
    src="$U/dist/css/$ref"
    dst="$STATIC/uswds/css/$ref"
    case "$(realpath -m "$dst")" in
        "$STATIC"/uswds/*) ;;
        *) echo "refusing to copy outside static/uswds: $ref" >&2; exit 1 ;;
    esac
    if [[ -f "$src" ]]; then
        install -D -m 0644 "$src" "$dst"
    else
        echo "WARNING: CSS references $ref but the package has no such file" >&2
        missing=1
    fi
done < <(css_refs "$U/dist/css/uswds.min.css")

for img in "${USWDS_EXTRA_IMGS[@]}"; do
    if [[ -f "$U/dist/img/$img" ]]; then
        install -D -m 0644 "$U/dist/img/$img" "$STATIC/uswds/img/$img"
    else
        echo "WARNING: extra image $img not in package" >&2
    fi
done

# Sanity: every url() now resolves inside static/.
while IFS= read -r ref; do
    [[ -f "$STATIC/uswds/css/$ref" ]] || { echo "unresolved url($ref)" >&2; missing=1; }
done < <(css_refs "$STATIC/uswds/css/uswds.min.css")

# ---- VENDOR.md --------------------------------------------------------------
sha() { sha256sum "$1" | cut -d' ' -f1; }
tarball_url() { npm view "$1@$2" dist.tarball 2>/dev/null || true; }
USWDS_URL="$(tarball_url @uswds/uswds "$USWDS_VERSION")"
HTMX_URL="$(tarball_url htmx.org "$HTMX_VERSION")"
CHARTJS_URL="$(tarball_url chart.js "$CHARTJS_VERSION")"
[[ -n "$USWDS_URL" ]] || USWDS_URL="https://registry.npmjs.org/@uswds/uswds/-/uswds-$USWDS_VERSION.tgz"
[[ -n "$HTMX_URL" ]] || HTMX_URL="https://registry.npmjs.org/htmx.org/-/htmx.org-$HTMX_VERSION.tgz"
[[ -n "$CHARTJS_URL" ]] || CHARTJS_URL="https://registry.npmjs.org/chart.js/-/chart.js-$CHARTJS_VERSION.tgz"

file_rows() {  # file_rows PKG_LABEL SUBDIR
    local label="$1" sub="$2" f rel
    while IFS= read -r f; do
        rel="${f#"$STATIC"/}"
        printf '| %s | `%s` | %s | `%s` |\n' "$label" "$rel" "$(stat -c%s "$f")" "$(sha "$f")"
    done < <(find "$STATIC/$sub" -type f | LC_ALL=C sort)
}

{
cat <<EOF
# Vendored front-end assets

Generated by \`scripts/vendor_assets.sh\` — do not edit by hand; change the
pins at the top of that script and re-run it.

## Packages

| package | version | npm tarball | tarball SHA-256 | npm integrity | license |
| --- | --- | --- | --- | --- | --- |
| \`@uswds/uswds\` | $USWDS_VERSION | $USWDS_URL | \`$(sha "$USWDS_TGZ")\` | \`$USWDS_INTEGRITY\` | Mixed: GSA work CC0-1.0 (public domain); fonts SIL OFL-1.1 (Source Sans Pro, Merriweather, Public Sans) and Apache-2.0 (Roboto Mono); Material Icons Apache-2.0 — see \`uswds/LICENSE.md\` |
| \`htmx.org\` | $HTMX_VERSION | $HTMX_URL | \`$(sha "$HTMX_TGZ")\` | \`$HTMX_INTEGRITY\` | 0BSD — see \`htmx/LICENSE\` |
| \`chart.js\` | $CHARTJS_VERSION | $CHARTJS_URL | \`$(sha "$CHARTJS_TGZ")\` | \`$CHARTJS_INTEGRITY\` | MIT — see \`chartjs/LICENSE.md\` |

What is copied from \`@uswds/uswds\` (\`package/dist/\`):

- \`css/uswds.min.css\`, \`js/uswds.min.js\`, \`js/uswds-init.min.js\`
- every font and image the compiled CSS references with \`url(../fonts/...)\` /
  \`url(../img/...)\`, at the same relative paths (the CSS only lists woff2, and
  the default theme references Source Sans Pro, Merriweather and Roboto Mono;
  Public Sans is not referenced, so it is not vendored)
- images used by USWDS markup rather than CSS: $(printf '`img/%s`, ' "${USWDS_EXTRA_IMGS[@]}" | sed 's/, $//')
- \`LICENSE.md\` (as \`uswds/LICENSE.md\`)

From \`htmx.org\` (\`package/\`): \`dist/htmx.min.js\` and \`LICENSE\`.

From \`chart.js\` (\`package/\`): the UMD build \`dist/chart.umd.min.js\` (a classic
script defining the global \`Chart\`; used by \`concern-chart.js\`) and \`LICENSE.md\`,
as \`chartjs/chart.umd.min.js\` and \`chartjs/LICENSE.md\`. The source map is not
vendored (the file's \`sourceMappingURL\` comment is left as published).

## Files

| package | file (under \`static/\`) | bytes | SHA-256 |
| --- | --- | --- | --- |
EOF
file_rows "@uswds/uswds" uswds
file_rows "htmx.org" htmx
file_rows "chart.js" chartjs
cat <<EOF

Total: $(du -cb $(find "$STATIC/uswds" "$STATIC/htmx" "$STATIC/chartjs" -type f) | tail -1 | cut -f1) bytes.

## How to update

\`\`\`bash
# 1. see what is available (htmx: stay on the highest 2.0.x, not 4.x;
#    chart.js: stay on the highest 4.x)
npm view @uswds/uswds versions --json
npm view htmx.org versions --json
npm view chart.js versions --json
# 2. edit USWDS_VERSION / HTMX_VERSION / CHARTJS_VERSION at the top of
#    scripts/vendor_assets.sh and set the matching *_INTEGRITY pin, e.g. from
npm view @uswds/uswds@NEW_VERSION dist.integrity
npm view htmx.org@NEW_VERSION dist.integrity
npm view chart.js@NEW_VERSION dist.integrity
# 3. re-vendor (rebuilds static/uswds, static/htmx and static/chartjs,
#    regenerates this file)
bash scripts/vendor_assets.sh
# 4. review
git diff --stat -- src/defchain/web/static
\`\`\`
EOF
} > "$STATIC/VENDOR.md"

echo "vendored into $STATIC:"
du -sh "$STATIC/uswds" "$STATIC/htmx" "$STATIC/chartjs"
exit "$missing"
