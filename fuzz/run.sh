#!/usr/bin/env bash
# Seed the corpora from testdata/ and models/, then run every fuzz target.
#
#   cargo install cargo-fuzz          # once; needs the nightly toolchain
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Default: 600 s per target, all targets. Corpora and crash artifacts stay
# in fuzz/corpus/ and fuzz/artifacts/ (not committed); a crash found here
# becomes a test in tests/fuzz_regressions.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(wav model contacts contacts_file stream gate)

mkdir -p fuzz/corpus/wav fuzz/corpus/model
for f in testdata/clips/*.wav testdata/answers/yes_espeak.wav testdata/answers/no_flite.wav \
         testdata/flows/m/enroll_alice_1.wav; do
    [ -f "$f" ] && cp "$f" fuzz/corpus/wav/
done
cp models/wakeguard_v1.onnx models/answer_head.onnx models/voice_head.onnx fuzz/corpus/model/
# contacts_file: the file's text, NUL, the bytes of w0.wav.
mkdir -p fuzz/corpus/contacts_file
printf '[[contact]]\nname = "Alice"\nsamples = ["w0.wav", "w1.wav"]\n\n[[contact]]\nname = "Bob"\nsamples = ["w0.wav"]\nblocked = true\n\0' \
    | cat - testdata/flows/m/enroll_alice_1.wav > fuzz/corpus/contacts_file/seed_two_contacts

for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    echo "== $t: ${secs} s"
    dict=()
    [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
    cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- "${dict[@]}" \
        -max_total_time="$secs" -rss_limit_mb=4096 -max_len=1048576 -print_final_stats=1 \
        2>&1 | grep -E "^#[0-9]+.*(DONE|pulse)|stat::|SUMMARY|ERROR|panicked" | tail -n 12
done
