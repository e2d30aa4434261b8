/*
 * detect.c: print every keyword detection in a WAV file, one JSON line
 * each, as `cargo run --example detect -- --json FILE.wav` does.
 *
 *   cargo build --release -p wakeguard-ffi
 *   cc -O2 -I ffi examples/c/detect.c target/release/libwakeguard_c.a -lm -lpthread -ldl -Wl,-z,noexecstack -o detect_c
 *   ./detect_c testdata/demo.wav
 */
#include <stdio.h>

#include "wakeguard.h"

static void on_detection(void *user, const WgDetection *d) {
    (void)user;
    /* Labels of wakeguard models are plain identifiers: no JSON escaping needed. */
    printf("{\"label\": \"%s\", \"start\": %.3f, \"end\": %.3f, \"score\": %.4f}\n", d->label,
           (double)d->start_sample / 16000.0, (double)d->end_sample / 16000.0, (double)d->score);
}

static int fail(const char *what) {
    const char *why = wg_last_error();
    fprintf(stderr, "detect_c: %s: %s\n", what, why ? why : "unknown error");
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.wav\n", argv[0]);
        return 2;
    }
    float *samples = NULL;
    size_t len = 0;
    if (wg_read_wav(argv[1], &samples, &len) != WG_OK) return fail("reading the recording");

    WgDetector *detector = NULL;
    if (wg_detector_new(NULL, &detector) != WG_OK) {
        wg_samples_free(samples, len);
        return fail("loading the embedded model");
    }
    int status = WG_OK;
    /* Stream it in 100 ms chunks, as a microphone would deliver it. */
    for (size_t at = 0; at < len && status == WG_OK; at += 1600) {
        size_t n = len - at < 1600 ? len - at : 1600;
        status = wg_detector_push_f32(detector, samples + at, n, on_detection, NULL);
    }
    if (status == WG_OK) status = wg_detector_finish(detector, on_detection, NULL);
    int rc = status == WG_OK ? 0 : fail("detecting");
    wg_detector_free(detector);
    wg_samples_free(samples, len);
    return rc;
}
