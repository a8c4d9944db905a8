#!/usr/bin/env bash
# Fetches the pinned third-party browser assets from the npm registry into vendor/, and writes
# vendor/MANIFEST.tsv: each file's package, version, path in the package, sha256 and size, and
# each package tarball's npm integrity.
#
# The files are vendored (checked in) and embedded in the binary with `include_bytes!`
# (src/assets.rs), so neither the build nor the running gateway needs the network: CI builds
# from the repository and crates.io alone, and the pages work on a machine cut off from it.
# This script is only for upgrading, or for checking that the vendored bytes are npm's:
#
#   crates/billing-gateway/assets/fetch.sh           # fetch the pins below, rewrite vendor/
#   crates/billing-gateway/assets/fetch.sh --verify  # fetch, and fail unless vendor/ matches
#
# Needs npm (it uses `npm pack`, the registry's ordinary client) and sha256sum.
set -euo pipefail
cd "$(dirname "$0")"

# package version path-in-package vendored-name. To upgrade, change a version here and run
# the script; then run `cargo test -p billing-gateway assets` and the browser tests.
PINS=(
  "graphiql 4.1.2 graphiql.min.js graphiql.min.js"
  "graphiql 4.1.2 graphiql.min.css graphiql.min.css"
  "react 18.3.1 umd/react.production.min.js react.production.min.js"
  "react-dom 18.3.1 umd/react-dom.production.min.js react-dom.production.min.js"
  "uplot 1.6.32 dist/uPlot.iife.min.js uPlot.iife.min.js"
  "uplot 1.6.32 dist/uPlot.min.css uPlot.min.css"
)

verify=false
case "${1:-}" in
  --verify) verify=true ;;
  "") ;;
  *) echo "usage: $0 [--verify]" >&2; exit 2 ;;
esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
out="$work/vendor"
mkdir -p "$out/licenses"

manifest="$out/MANIFEST.tsv"
{
  echo "# Vendored browser assets, fetched from the npm registry by ../fetch.sh; embedded by src/assets.rs,"
  echo "# whose tests check every file against its sha256 here. Do not edit by hand: run ../fetch.sh."
  printf 'file\tpackage\tversion\tpath\tsha256\tbytes\tintegrity\n'
} >"$manifest"

declare -A unpacked integrity
for pin in "${PINS[@]}"; do
  read -r package version path name <<<"$pin"
  key="$package@$version"
  if [[ -z "${unpacked[$key]:-}" ]]; then
    dir="$work/$package-$version"
    mkdir -p "$dir"
    # --json reports the tarball's integrity (sha512), which npm checks against the registry's.
    json="$(cd "$dir" && npm pack --json --silent "$key")"
    integrity[$key]="$(printf '%s' "$json" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].integrity))')"
    tar -xzf "$dir"/*.tgz -C "$dir"
    unpacked[$key]="$dir/package"
    cp "$dir/package/LICENSE" "$out/licenses/$package.LICENSE"
  fi
  src="${unpacked[$key]}/$path"
  cp "$src" "$out/$name"
  sha="$(sha256sum "$src" | cut -d' ' -f1)"
  bytes="$(wc -c <"$src" | tr -d ' ')"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$package" "$version" "$path" "$sha" "$bytes" "${integrity[$key]}" >>"$manifest"
done

if $verify; then
  if diff -r "$out" vendor; then
    echo "vendor/ matches the npm registry's files"
  else
    echo "vendor/ differs from the npm registry's files (see above); run $0 to refetch" >&2
    exit 1
  fi
else
  rm -rf vendor
  cp -r "$out" vendor
  echo "wrote vendor/ ($(du -sh vendor | cut -f1)); run: cargo test -p billing-gateway assets"
fi
