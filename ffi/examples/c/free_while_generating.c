/* Eight threads generate from one generator while the main thread frees it: every call must
 * return OK (it ran before the free) or BAD_HANDLE (after it), and nothing may touch freed
 * memory (run it under valgrind or ASan to check that).  Usage: free_while_generating MODEL.onnx
 * Prints "ok N bad M" and exits 0 when every call returned one of the two. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gan_runtime.h"

#define THREADS 8

static GanGenerator *shared;
static size_t image_bytes;
static int ok_calls[THREADS], bad_calls[THREADS], other[THREADS];

static void *generate(void *arg) {
    int t = (int)(intptr_t)arg;
    uint8_t *pixels = malloc(2 * image_bytes);
    for (uint64_t i = 0; pixels && i < 1000000; i++) {
        const uint64_t seeds[2] = {(uint64_t)t * 1000 + i, i};
        GanStatus status = gan_generator_generate_rgba8(shared, seeds, 2, pixels, 2 * image_bytes);
        if (status == GAN_STATUS_OK) {
            ok_calls[t]++;
        } else if (status == GAN_STATUS_BAD_HANDLE) {
            bad_calls[t]++;
            break;
        } else {
            other[t]++;
            fprintf(stderr, "thread %d: status %d: %s\n", t, (int)status, gan_last_error());
            break;
        }
    }
    free(pixels);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.onnx\n", argv[0]);
        return 2;
    }
    GanLoadOptions options;
    gan_options_default(&options);
    options.threads = 1;
    if (gan_generator_load(argv[1], &options, &shared) != GAN_STATUS_OK) {
        fprintf(stderr, "load failed: %s\n", gan_last_error());
        return 1;
    }
    uint32_t width, height, channels;
    gan_generator_image_shape(shared, &width, &height, &channels);
    image_bytes = (size_t)width * height * 4;

    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) pthread_create(&threads[t], NULL, generate, (void *)(intptr_t)t);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    GanStatus freed = gan_generator_free(shared);
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

    int ok = 0, bad = 0, wrong = 0;
    for (int t = 0; t < THREADS; t++) {
        ok += ok_calls[t];
        bad += bad_calls[t];
        wrong += other[t];
    }
    printf("ok %d bad %d\n", ok, bad);
    if (freed != GAN_STATUS_OK || wrong != 0 || bad != THREADS) return 1;
    /* After the free, the handle is refused, never used. */
    return gan_generator_free(shared) == GAN_STATUS_BAD_HANDLE ? 0 : 1;
}
