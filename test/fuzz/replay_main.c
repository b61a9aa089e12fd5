/*
 * replay_main: a main() for the fuzz targets without libFuzzer.
 *
 * Linked with one fuzz_<name>.c, it feeds every regular file of the
 * directories (or the files) named on the command line to
 * LLVMFuzzerTestOneInput, once each, in name order. That is how the
 * committed seed corpus (test/fuzz/corpus/<name>) and the inputs of past
 * findings (test/fuzz/regressions/<name>) run in ctest with gcc, in the
 * normal and the ASan build, without clang: a finding that comes back
 * crashes here, or ASan/LSan reports it at exit.
 *
 *   fuzz_replay_<name> [--if-exists] PATH...
 *
 * A PATH that does not exist is an error, so a typo in a test's command
 * line cannot pass with nothing replayed, and so is a directory without
 * an input; after --if-exists a missing or empty directory is skipped
 * instead (regressions/<name> exists only once a
 * target has had a finding). Files whose name starts with '.' or ends in
 * ".md" are skipped (notes beside the inputs).
 *
 * Each input is copied into a buffer of exactly its size, so a parser that
 * reads one byte past the end is caught by ASan just as under libFuzzer.
 * Exit status 0 when every input ran; the closing line says how many.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Largest input replayed: the seeds are < 4 KiB, libFuzzer's -max_len
 * default is 4096, and crash inputs are minimised. */
#define REPLAY_MAX_BYTES ((size_t)16 << 20)

static bool skip_name(const char *name)
{
    size_t n = strlen(name);

    return name[0] == '.' || (n >= 3 && strcmp(name + n - 3, ".md") == 0);
}

/* Read path whole into an exact-size buffer (NULL for 0 bytes) and run it. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf = NULL;
    size_t len;

    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0 || (size_t)st.st_size > REPLAY_MAX_BYTES) {
        fprintf(stderr, "replay: %s: cannot size it or larger than %zu bytes\n", path,
                REPLAY_MAX_BYTES);
        fclose(f);
        return -1;
    }
    len = (size_t)st.st_size;
    if (len) {
        buf = malloc(len);
        if (!buf || fread(buf, 1, len, f) != len) {
            fprintf(stderr, "replay: %s: read failed\n", path);
            free(buf);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay every regular file of dir in name order; returns how many, or -1. */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0, i;
    long count = 0;

    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (skip_name(e->d_name))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (!nn)
                goto nomem;
            names = nn;
            cap = ncap;
        }
        names[n] = strdup(e->d_name);
        if (!names[n])
            goto nomem;
        n++;
    }
    closedir(d);
    d = NULL;
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    for (i = 0; i < n; i++) {
        size_t plen = strlen(dir) + 1 + strlen(names[i]) + 1;
        char *path = malloc(plen);
        struct stat st;
        if (!path)
            goto nomem;
        snprintf(path, plen, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(path) != 0) {
                free(path);
                count = -1;
                break;
            }
            count++;
        }
        free(path);
    }
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return count;

nomem:
    fprintf(stderr, "replay: out of memory listing %s\n", dir);
    if (d)
        closedir(d);
    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return -1;
}

int main(int argc, char **argv)
{
    long total = 0;
    bool if_exists = false;
    int i;

    if (argc < 2) {
        fprintf(stderr, "usage: %s [--if-exists] PATH...\n", argv[0]);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        long n;

        if (strcmp(argv[i], "--if-exists") == 0) {
            if_exists = true;
            continue;
        }
        if (stat(argv[i], &st) != 0) {
            if (if_exists && errno == ENOENT) {
                printf("replay: %s: absent, skipped\n", argv[i]);
                continue;
            }
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            n = replay_dir(argv[i]);
        } else {
            n = replay_file(argv[i]) == 0 ? 1 : -1;
        }
        if (n < 0)
            return 1;
        if (n == 0 && !if_exists) {
            fprintf(stderr, "replay: %s: no input in it\n", argv[i]);
            return 1;
        }
        printf("replay: %s: %ld inputs\n", argv[i], n);
        total += n;
    }
    printf("replay: %ld inputs ran\n", total);
    return 0;
}
