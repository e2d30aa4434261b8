#!/usr/bin/env bash
# Builds the C examples against the C ABI, checks that they print exactly
# what the Rust examples print on every bundled recording, and runs them
# under valgrind (no leak, no invalid access). Used by .ci/run.
#
#   examples/c/check.sh [debug|release]     (default debug: shares the test build)
set -euo pipefail
cd "$(dirname "$0")/../.."
profile="${1:-debug}"
flag=""
[ "$profile" = release ] && flag="--release"

# `--all-targets` resolves the features `cargo test` resolves, so after
# `cargo test` only the static library and examples are linked (a plain
# `cargo build --example` resolves other features and rebuilds tract).
# WAKEGUARD_FEATURES: the features the tests were built with (.ci/run: cpal).
cargo build -q $flag --all-targets ${WAKEGUARD_FEATURES:+--features "$WAKEGUARD_FEATURES"}
# With `cpal` unified in, the static library also holds cpal's ALSA backend,
# which links against libasound.
extra_libs=""
case "${WAKEGUARD_FEATURES:-}" in *cpal*) extra_libs="$(pkg-config --libs alsa)" ;; esac
out="target/$profile/c-examples"
mkdir -p "$out"
for prog in detect send_message; do
    cc -O2 -g -Wall -Wextra -Werror -std=c11 -I ffi "examples/c/$prog.c" \
        "target/$profile/libwakeguard_c.a" $extra_libs -lm -lpthread -ldl -Wl,-z,noexecstack -o "$out/$prog"
done

compare() {  # compare NAME RUST_CMD... -- C_CMD...
    local name="$1"; shift
    local rust=() c=()
    while [ "$1" != "--" ]; do rust+=("$1"); shift; done; shift
    c=("$@")
    if ! diff <("${rust[@]}") <("${c[@]}") >"$out/$name.diff"; then
        echo "C and Rust differ on $name:"; cat "$out/$name.diff"; exit 1
    fi
}

checked=0
compare demo "target/$profile/examples/detect" --json testdata/demo.wav -- "$out/detect" testdata/demo.wav
checked=$((checked + 1))
for wav in testdata/flows/*/*.wav; do
    case "$(basename "$wav")" in enroll_*) continue ;; esac
    contacts="$(dirname "$wav")/contacts.toml"
    compare "$(basename "$(dirname "$wav")")_$(basename "$wav" .wav)" \
        "target/$profile/examples/send_message" --json --contacts "$contacts" "$wav" -- \
        "$out/send_message" "$contacts" "$wav"
    checked=$((checked + 1))
done
echo "C examples print what the Rust examples print on $checked recordings"

if command -v valgrind >/dev/null; then
    vg=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect)
    "${vg[@]}" "$out/detect" testdata/demo.wav >/dev/null
    "${vg[@]}" "$out/send_message" testdata/flows/m/contacts.toml testdata/flows/m/yes.wav >/dev/null
    echo "valgrind: no errors, no leaks (detect on demo.wav; send_message on m/yes.wav)"
else
    echo "valgrind not installed: memory check skipped" >&2
    exit 1
fi
