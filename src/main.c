/*
 * saturation-scaler: the command line.
 *
 * main() only wires modules: it looks the subcommand up in one table and
 * hands over the remaining arguments. Each entry's summary is also the
 * `help` text, so a new subcommand (serve, check-config...) is one function
 * and one row. Exit codes: 0 success, 1 failure, 2 bad usage or bad input.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "config.h"
#include "meta.h"
#include "err.h"
#include "serve.h"

#define PROG "saturation-scaler"
#define EXIT_USAGE 2
/* analyze reads at most this much JSON from stdin. */
#define ANALYZE_MAX_INPUT ((size_t)64 << 20)
#define READ_CHUNK ((size_t)64 << 10)

struct command {
    const char *name;
    const char *alias; /* e.g. "--version", or NULL */
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand */
};

static int cmd_serve(int argc, char **argv);
static int cmd_analyze(int argc, char **argv);
static int cmd_check_config(int argc, char **argv);
static int cmd_docs(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct command commands[] = {
    {"serve", NULL, "run the KEDA external scaler (gRPC; the default; serve --help)", cmd_serve},
    {"analyze", NULL, "read per-pod metrics as JSON on stdin, print the decision as JSON",
     cmd_analyze},
    {"check-config", NULL, "validate a --config file: exit 0, or non-zero naming the bad key",
     cmd_check_config},
    {"docs", NULL, "print the README's tables: docs flags | docs keys", cmd_docs},
    {"help", "--help", "show this help", cmd_help},
    {"version", "--version", "print the version", cmd_version},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    size_t i;

    fprintf(f, "usage: %s <command> [arguments]\n\ncommands:\n", PROG);
    for (i = 0; i < N_COMMANDS; i++) {
        char name[32];
        if (commands[i].alias != NULL)
            snprintf(name, sizeof name, "%s, %s", commands[i].name, commands[i].alias);
        else
            snprintf(name, sizeof name, "%s", commands[i].name);
        fprintf(f, "  %-20s %s\n", name, commands[i].summary);
    }
    fprintf(f, "\n%s analyze < examples/analyze/saturated-single.json\n", PROG);
}

/* Flush stdout; a full disk or a closed pipe is a failure, not a success. */
static int finish_stdout(const char *cmd)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "%s %s: writing stdout: %s\n", PROG, cmd, strerror(errno));
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

/*
 * Read all of f into *out (malloc'd, NUL-terminated, caller frees; NULL on
 * failure). ERR_INVALID when f holds more than max bytes, ERR_IO on a read
 * error.
 */
static enum err_code read_all(FILE *f, size_t max, char **out, size_t *out_len)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;

    *out = NULL;
    *out_len = 0;
    for (;;) {
        size_t got;
        if (cap - len < READ_CHUNK) {
            size_t ncap = cap == 0 ? READ_CHUNK : cap * 2;
            char *nbuf;
            if (ncap > max + READ_CHUNK)
                ncap = max + READ_CHUNK; /* room to notice one byte too many */
            nbuf = realloc(buf, ncap + 1);
            if (nbuf == NULL) {
                free(buf);
                return ERR_NOMEM;
            }
            buf = nbuf;
            cap = ncap;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len > max) {
            free(buf);
            return ERR_INVALID;
        }
        if (got == 0) {
            if (ferror(f)) {
                free(buf);
                return ERR_IO;
            }
            break;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return ERR_OK;
}

static int cmd_serve(int argc, char **argv)
{
    return serve_main(argc, argv);
}

static int cmd_analyze(int argc, char **argv)
{
    char why[512];
    char *in = NULL, *out = NULL;
    size_t len;
    enum err_code rc;

    if (argc > 1) {
        fprintf(stderr, "%s analyze: unexpected argument \"%s\" (the input is read from stdin)\n",
                PROG, argv[1]);
        return EXIT_USAGE;
    }
    rc = read_all(stdin, ANALYZE_MAX_INPUT, &in, &len);
    if (rc == ERR_INVALID) {
        fprintf(stderr, "%s analyze: input exceeds %zu MiB\n", PROG, ANALYZE_MAX_INPUT >> 20);
        return EXIT_USAGE;
    }
    if (rc) {
        fprintf(stderr, "%s analyze: reading stdin: %s\n", PROG,
                rc == ERR_IO ? strerror(errno) : err_str(rc));
        return EXIT_FAILURE;
    }
    rc = analyze_run(in, len, &out, why, sizeof why);
    free(in);
    if (rc) {
        fprintf(stderr, "%s analyze: %s\n", PROG, why[0] != '\0' ? why : err_str(rc));
        return rc == ERR_INVALID ? EXIT_USAGE : EXIT_FAILURE;
    }
    fputs(out, stdout);
    fputc('\n', stdout);
    free(out);
    return finish_stdout("analyze");
}

/*
 * Remove the item at the start of a config error message ("defaults.x",
 * "overrides[2].model", "prometheus.default.timeout") from root, so the
 * next parse can report the next problem. A missing required key removes
 * its parent object. Returns false when the path cannot be followed.
 */
/* An array element (an override) is replaced, not deleted, so the indexes
 * of the ones after it stay those of the file. */
static void replace_with_placeholder(cJSON *array, cJSON *item)
{
    static int n;
    char model[64];
    cJSON *o = cJSON_CreateObject();
    snprintf(model, sizeof model, "check-config-placeholder-%d", ++n);
    if (o && cJSON_AddStringToObject(o, "model", model))
        cJSON_ReplaceItemViaPointer(array, item, o);
    else
        cJSON_Delete(o);
}

static bool remove_path(cJSON *root, const char *why)
{
    char tok[256], key[256] = "";
    size_t n = strcspn(why, ": (");
    const char *p = why, *stop = why + n;
    cJSON *gparent = NULL, *parent = NULL, *cur = root;
    long idx = -1;

    if (n == 0)
        return false;
    while (p < stop && cur) {
        gparent = parent;
        parent = cur;
        if (*p == '[') {
            char *end;
            idx = strtol(p + 1, &end, 10);
            if (*end != ']' || end >= stop)
                return false;
            key[0] = '\0';
            cur = cJSON_GetArrayItem(parent, (int)idx);
            p = end + 1;
        } else {
            size_t len = strcspn(p, ".[");
            if (p + len > stop)
                len = (size_t)(stop - p);
            if (len == 0 || len >= sizeof tok)
                return false;
            memcpy(tok, p, len);
            tok[len] = '\0';
            snprintf(key, sizeof key, "%s", tok);
            idx = -1;
            cur = cJSON_GetObjectItemCaseSensitive(parent, tok);
            p += len;
        }
        if (p < stop && *p == '.')
            p++;
    }
    if (cur && p >= stop) { /* found: remove it */
        if (key[0])
            cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
        else if (idx >= 0)
            replace_with_placeholder(parent, cur);
        else
            return false;
        return true;
    }
    if (!cur && p >= stop && gparent) { /* a required key missing: drop its object */
        if (cJSON_IsArray(gparent))
            replace_with_placeholder(gparent, parent);
        else
            cJSON_Delete(cJSON_DetachItemViaPointer(gparent, parent));
        return true;
    }
    return false;
}

static int cmd_check_config(int argc, char **argv)
{
    char why[CONFIG_WHY_LEN];
    struct config *c = NULL;
    enum err_code rc;
    int errors = 0, round, n_reported = 0;
    static char reported[64][160];

    if (argc != 2) {
        fprintf(stderr, "usage: %s check-config FILE\n", PROG);
        return EXIT_USAGE;
    }
    rc = config_load_file(argv[1], &c, why, sizeof why);
    if (!rc)
        rc = config_check_files(c, why, sizeof why);
    if (!rc) {
        printf("%s: ok (%zu Prometheus endpoints, %zu overrides%s)\n", argv[1], c->n_endpoints,
               c->n_overrides, c->activation_query ? ", an activationQuery" : "");
        config_free(c);
        return finish_stdout("check-config");
    }
    fprintf(stderr, "%s check-config: %s\n", PROG, why);
    errors++;
    {
        const char *msg = strstr(why, ": ");
        if (msg)
            snprintf(reported[n_reported++], sizeof reported[0], "%.*s",
                     (int)strcspn(msg + 2, ":"), msg + 2);
    }
    /* Name every bad key: drop the one reported and parse again. */
    if (rc == ERR_INVALID) {
        FILE *f = fopen(argv[1], "rb");
        char *text = NULL;
        size_t len = 0;
        cJSON *root = NULL;
        if (f && read_all(f, CONFIG_MAX_FILE_BYTES, &text, &len) == ERR_OK)
            root = cJSON_ParseWithLength(text, len);
        if (f)
            fclose(f);
        free(text);
        /* The message after the file name prefix is "path: problem". */
        for (round = 0; root && round < 64; round++) {
            /* round 0: "FILE: path: problem" (from config_load_file); later
             * rounds: "path: problem" (from config_parse) */
            const char *msg = round == 0 ? strstr(why, ": ") : why;
            char *doc;
            if (!msg || !remove_path(root, round == 0 ? msg + 2 : msg))
                break;
            doc = cJSON_PrintUnformatted(root);
            if (!doc)
                break;
            rc = config_parse(doc, strlen(doc), &c, why, sizeof why);
            cJSON_free(doc);
            if (rc == ERR_OK) {
                config_free(c);
                break;
            }
            {
                /* "X: required" for a key removed because its value was
                 * bad (already reported): not a problem of the file. */
                size_t pl = strcspn(why, ":");
                bool seen = false;
                for (int k = 0; k < n_reported; k++)
                    if (strlen(reported[k]) == pl && strncmp(reported[k], why, pl) == 0)
                        seen = true;
                if (seen && strstr(why, ": required"))
                    continue;
                if (n_reported < 64)
                    snprintf(reported[n_reported++], sizeof reported[0], "%.*s", (int)pl, why);
            }
            fprintf(stderr, "%s check-config: %s: %s\n", PROG, argv[1], why);
            errors++;
        }
        cJSON_Delete(root);
    }
    fprintf(stderr, "%s check-config: %d problem%s in %s\n", PROG, errors, errors == 1 ? "" : "s",
            argv[1]);
    return EXIT_FAILURE;
}

/* The README's tables, printed from the very tables the parsers use, so
 * the documentation cannot drift (a test compares them). */
static int cmd_docs(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "flags") == 0) {
        serve_flags_markdown(stdout);
    } else if (argc == 2 && strcmp(argv[1], "keys") == 0) {
        size_t n, i;
        const struct meta_key *k = meta_decision_keys(&n);
        printf("| key | default | range | meaning |\n|---|---|---|---|\n");
        for (i = 0; i < n; i++) {
            char range[64];
            meta_key_range(&k[i], range, sizeof range);
            printf("| `%s` | `%s` | %s | %s |\n", k[i].name, k[i].default_text, range,
                   k[i].help);
        }
    } else {
        fprintf(stderr, "usage: %s docs flags|keys\n", PROG);
        return EXIT_USAGE;
    }
    return finish_stdout("docs");
}

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return finish_stdout("help");
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("%s %s\n", PROG, SAT_VERSION);
    return finish_stdout("version");
}

int main(int argc, char **argv)
{
    size_t i;

    /* No subcommand, or flags first: serve (what a container runs). */
    if (argc < 2 || (strncmp(argv[1], "--", 2) == 0 && strcmp(argv[1], "--help") != 0 &&
                     strcmp(argv[1], "--version") != 0))
        return serve_main(argc, argv);
    for (i = 0; i < N_COMMANDS; i++) {
        const struct command *c = &commands[i];
        if (strcmp(argv[1], c->name) == 0 || (c->alias != NULL && strcmp(argv[1], c->alias) == 0))
            return c->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "%s: unknown command \"%s\" (see %s help)\n", PROG, argv[1], PROG);
    return EXIT_USAGE;
}
