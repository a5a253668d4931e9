/* Load an ONNX generator through the C ABI, make four images from seeds (of one class, for a
 * conditional generator) and write them side by side as a binary PAM (RGBA) file.
 * Usage: generate MODEL.onnx OUT.pam [CLASS] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gan_runtime.h"

static int fail(const char *what, GanStatus status) {
    fprintf(stderr, "%s failed (status %d): %s\n", what, (int)status, gan_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s MODEL.onnx OUT.pam [CLASS]\n", argv[0]);
        return 2;
    }
    GanLoadOptions options;
    gan_options_default(&options);
    options.threads = 1;

    GanGenerator *generator = NULL;
    GanStatus status = gan_generator_load(argv[1], &options, &generator);
    if (status != GAN_STATUS_OK) return fail("load", status);

    uint32_t width, height, channels, nz;
    gan_generator_image_shape(generator, &width, &height, &channels);
    gan_generator_latent_dim(generator, &nz);
    printf("loaded %s: nz %u, %ux%u, %u channels\n", argv[1], nz, width, height, channels);

    /* A conditional generator lists its classes; an unconditional one has none. */
    uint32_t classes = 0;
    gan_generator_class_count(generator, &classes);
    if (classes > 0) {
        printf("%u classes:", classes);
        for (uint32_t c = 0; c < classes; c++) {
            char name[256];
            if (gan_generator_class_name(generator, c, name, sizeof name) == GAN_STATUS_OK)
                printf(" %s", name);
        }
        printf("\n");
    }

    /* The ABI refuses a buffer that is too small rather than overrunning it. */
    uint8_t tiny[4];
    const uint64_t seeds[4] = {0, 1, 2, 42};
    if (gan_generator_generate_rgba8(generator, seeds, 4, tiny, sizeof tiny) != GAN_STATUS_BUFFER_TOO_SMALL) {
        fprintf(stderr, "a too-small buffer was not refused\n");
        return 1;
    }

    size_t image_bytes = (size_t)width * height * 4;
    uint8_t *pixels = malloc(4 * image_bytes);
    if (!pixels) return 1;
    if (argc == 4) {
        uint32_t class = (uint32_t)strtoul(argv[3], NULL, 10);
        status = gan_generator_generate_class_rgba8(generator, seeds, 4, class, pixels, 4 * image_bytes);
    } else {
        status = gan_generator_generate_rgba8(generator, seeds, 4, pixels, 4 * image_bytes);
    }
    if (status != GAN_STATUS_OK) return fail("generate", status);

    FILE *out = fopen(argv[2], "wb");
    if (!out) return 1;
    fprintf(out, "P7\nWIDTH %u\nHEIGHT %u\nDEPTH 4\nMAXVAL 255\nTUPLTYPE RGB_ALPHA\nENDHDR\n", 4 * width, height);
    for (uint32_t y = 0; y < height; y++)
        for (int i = 0; i < 4; i++)
            fwrite(pixels + i * image_bytes + (size_t)y * width * 4, 1, (size_t)width * 4, out);
    fclose(out);
    free(pixels);

    if (gan_generator_free(generator) != GAN_STATUS_OK) return fail("free", GAN_STATUS_BAD_HANDLE);
    /* A second free of the same handle is an error, not a crash. */
    if (gan_generator_free(generator) != GAN_STATUS_BAD_HANDLE) {
        fprintf(stderr, "double free was not detected\n");
        return 1;
    }
    printf("wrote %s\n", argv[2]);
    return 0;
}
