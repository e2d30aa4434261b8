/*
 * send_message.c: the whole "send a message to X" flow on a recording that
 * plays the microphone, printing the JSON lines that
 * `cargo run --example send_message -- --json --contacts CONTACTS.toml FILE.wav`
 * prints.
 *
 *   cargo build --release -p wakeguard-ffi
 *   cc -O2 -I ffi examples/c/send_message.c target/release/libwakeguard_c.a -lm -lpthread -ldl -Wl,-z,noexecstack -o send_message_c
 *   ./send_message_c testdata/flows/m/contacts.toml testdata/flows/m/yes.wav
 *
 * The device's side is simulated as in the Rust example: each read-back
 * prompt "plays" for wg_spoken_duration(prompt) samples of the recording,
 * then the program calls wg_flow_readback_finished(). A real device speaks
 * the prompt and calls it when the speaker has gone quiet.
 */
#include <stdio.h>
#include <string.h>

#include "wakeguard.h"

#define CHUNK 1600

typedef struct {
    int readback_playing;  /* a prompt is "playing" until readback_due */
    uint64_t readback_due;
} Device;

static void on_event(void *user, const WgFlowEvent *e) {
    Device *device = user;
    puts(e->json);
    if (e->prompt != NULL) {
        /* Here a device would start speaking e->prompt. */
        device->readback_playing = 1;
        device->readback_due = e->time_sample + wg_spoken_duration(e->prompt);
    }
}

static void on_dispatch(void *user, const WgMessage *m) {
    (void)user;
    /* Here the application sends m->len samples at m->samples to m->recipient. */
    puts(m->json);
}

/* Push one chunk, then report the read-back finished if its time has come. */
static int push(WgFlow *flow, Device *device, const float *samples, size_t n, size_t *pending) {
    int status = wg_flow_push_f32(flow, samples, n, on_event, device, pending);
    if (status != WG_OK) return status;
    uint64_t now = 0;
    status = wg_flow_now(flow, &now);
    if (status == WG_OK && device->readback_playing && now >= device->readback_due) {
        device->readback_playing = 0;
        status = wg_flow_readback_finished(flow, on_event, device, pending);
    }
    return status;
}

static int fail(const char *what) {
    const char *why = wg_last_error();
    fprintf(stderr, "send_message_c: %s: %s\n", what, why ? why : "unknown error");
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s CONTACTS.toml FILE.wav\n", argv[0]);
        return 2;
    }
    float *samples = NULL;
    size_t len = 0;
    if (wg_read_wav(argv[2], &samples, &len) != WG_OK) return fail("reading the recording");
    WgFlow *flow = NULL;
    if (wg_flow_new(argv[1], NULL, &flow) != WG_OK) {
        wg_samples_free(samples, len);
        return fail("creating the flow");
    }
    Device device = {0, 0};
    size_t pending = 0;
    int status = WG_OK;
    for (size_t at = 0; at < len && status == WG_OK; at += CHUNK) {
        size_t n = len - at < CHUNK ? len - at : CHUNK;
        status = push(flow, &device, samples + at, n, &pending);
        while (status == WG_OK && pending > 0) {
            status = wg_flow_dispatch(flow, on_dispatch, NULL);
            pending--;
        }
    }
    /* End of the recording: silence until the request in progress is decided (at most 30 s). */
    static const float silence[CHUNK];
    int busy = 1;
    for (uint64_t fed = 0; status == WG_OK && fed < 16000 * 30; fed += CHUNK) {
        status = wg_flow_busy(flow, &busy);
        if (status != WG_OK || !busy) break;
        status = push(flow, &device, silence, CHUNK, &pending);
    }
    while (status == WG_OK && pending > 0) {
        status = wg_flow_dispatch(flow, on_dispatch, NULL);
        pending--;
    }
    int rc = status == WG_OK ? 0 : fail("running the flow");
    wg_flow_free(flow);
    wg_samples_free(samples, len);
    return rc;
}
