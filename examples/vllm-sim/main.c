/*
 * vllm-sim: a stand-in for the Prometheus /metrics of many vLLM (or SGLang)
 * pods at once, on one port, driven by an HTTP control API.
 *
 * Prometheus scrapes it with honor_labels: true, so every series keeps the
 * namespace and pod labels the simulator gives it and looks like a separate
 * pod to the scaler. The demo, the integration tests and anyone without a
 * GPU use it to make pods appear, load, saturate and vanish on command.
 *
 * main() only wires the pieces: options (one table drives parsing and
 * --help), the optional --state file, the listen address, the HTTP server
 * (sim_http) over the model (sim_state), then it waits for SIGTERM or
 * SIGINT and shuts down cleanly with exit code 0. Exit 2: bad usage or a bad
 * --state file; 1: cannot listen.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sim_http.h"
#include "sim_state.h"
#include "sim_text.h"

#define PROG "vllm-sim"
#define EXIT_USAGE 2
#define HTTP_THREADS 4u
#define HELP_INDENT 28
#define HELP_WIDTH 80
/* A --state file larger than this is refused. */
#define MAX_STATE_FILE ((long)64 << 20)

struct options {
    const char *listen;
    const char *state_file;
    int64_t delay_ns;
};

enum opt_id { OPT_LISTEN, OPT_STATE, OPT_STARTUP_DELAY, OPT_HELP };

struct opt_def {
    enum opt_id id;
    const char *name;
    const char *arg; /* NULL: a flag without a value */
    const char *help;
};

static const struct opt_def opt_defs[] = {
    {OPT_LISTEN, "--listen", "HOST:PORT",
     "address to serve on (default 127.0.0.1:8000; port 0 picks a free one; [::1]:PORT for IPv6)"},
    {OPT_STATE, "--state", "FILE", "initial pods and flow-control queues: the JSON of GET /state"},
    {OPT_STARTUP_DELAY, "--startup-delay", "DURATION",
     "how long a new pod reports nothing (model loading), unless its request says otherwise; "
     "Go-style: 0, 500ms, 5s, 1m30s (default 0)"},
    {OPT_HELP, "--help", NULL, "show this help"},
};

/* Print text from column indent (where the cursor is), wrapped at width. */
static void print_wrapped(FILE *f, const char *text, int indent, int width)
{
    int col = indent;
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > indent && col + 1 + (int)word > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        }
        fprintf(f, " %.*s", (int)word, p);
        col += 1 + (int)word;
        p += word;
        p += strspn(p, " ");
    }
    fputc('\n', f);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [options]\n\n"
            "Simulated vLLM/SGLang /metrics for many pods on one port, with a control API\n"
            "(GET /metrics /state /healthz, POST /pods /remove /set /flow /reset).\n"
            "Prints \"listening on HOST:PORT\" first; runs until SIGTERM or SIGINT.\n\n"
            "options:\n",
            PROG);
    for (size_t i = 0; i < sizeof opt_defs / sizeof opt_defs[0]; i++) {
        char left[48];
        snprintf(left, sizeof left, "%s%s%s", opt_defs[i].name, opt_defs[i].arg ? " " : "",
                 opt_defs[i].arg ? opt_defs[i].arg : "");
        fprintf(f, "  %-26s", left);
        print_wrapped(f, opt_defs[i].help, HELP_INDENT, HELP_WIDTH);
    }
}

/* 0: run; 1: --help shown; -1: bad usage (reported). */
static int parse_args(int argc, char **argv, struct options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const struct opt_def *def = NULL;
        const char *value = NULL;
        for (size_t k = 0; k < sizeof opt_defs / sizeof opt_defs[0]; k++) {
            size_t n = strlen(opt_defs[k].name);
            if (strncmp(a, opt_defs[k].name, n) == 0 && (a[n] == '\0' || a[n] == '=')) {
                def = &opt_defs[k];
                value = a[n] == '=' ? a + n + 1 : NULL;
                break;
            }
        }
        if (!def) {
            fprintf(stderr, "%s: unknown argument \"%s\" (see --help)\n", PROG, a);
            return -1;
        }
        if (!def->arg && value) {
            fprintf(stderr, "%s: %s takes no value\n", PROG, def->name);
            return -1;
        }
        if (def->arg && !value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "%s: %s needs a value (%s)\n", PROG, def->name, def->arg);
                return -1;
            }
            value = argv[++i];
        }
        char why[160];
        switch (def->id) {
        case OPT_LISTEN:
            o->listen = value;
            break;
        case OPT_STATE:
            o->state_file = value;
            break;
        case OPT_STARTUP_DELAY:
            if (!sim_parse_duration(value, &o->delay_ns, why, sizeof why)) {
                fprintf(stderr, "%s: --startup-delay: %s\n", PROG, why);
                return -1;
            }
            break;
        case OPT_HELP:
            usage(stdout);
            return 1;
        }
    }
    return 0;
}

/* Resolve "HOST:PORT" ("[v6]:PORT"; empty host = 0.0.0.0) into *ss. */
static int resolve_listen(const char *text, struct sockaddr_storage *ss)
{
    char host[256];
    const char *colon;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close || close[1] != ':') {
            fprintf(stderr, "%s: --listen \"%s\": want [IPv6]:PORT\n", PROG, text);
            return -1;
        }
        colon = close + 1;
        snprintf(host, sizeof host, "%.*s", (int)(close - text - 1), text + 1);
    } else {
        colon = strrchr(text, ':');
        if (!colon) {
            fprintf(stderr, "%s: --listen \"%s\": want HOST:PORT\n", PROG, text);
            return -1;
        }
        if ((size_t)(colon - text) >= sizeof host) {
            fprintf(stderr, "%s: --listen \"%s\": host too long\n", PROG, text);
            return -1;
        }
        snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    }
    const char *port = colon + 1;
    char *end = NULL;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (*port < '0' || *port > '9' || errno || *end || p < 0 || p > 65535) {
        fprintf(stderr, "%s: --listen \"%s\": port must be 0..65535\n", PROG, text);
        return -1;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "%s: --listen \"%s\": %s\n", PROG, text, gai_strerror(rc));
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static int64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Read and load the --state file; 0 or -1 (reported). */
static int load_state_file(struct sim_state *state, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: --state %s: %s\n", PROG, path, strerror(errno));
        return -1;
    }
    char *text = malloc((size_t)MAX_STATE_FILE + 1);
    size_t n = text ? fread(text, 1, (size_t)MAX_STATE_FILE + 1, f) : 0;
    int bad_read = ferror(f);
    fclose(f);
    const char *why = !text                        ? "out of memory"
                      : bad_read                   ? "read error"
                      : n > (size_t)MAX_STATE_FILE ? "larger than 64 MiB"
                      : memchr(text, '\0', n)      ? "contains a NUL byte"
                                                   : NULL;
    if (why) {
        fprintf(stderr, "%s: --state %s: %s\n", PROG, path, why);
        free(text);
        return -1;
    }
    text[n] = '\0';
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(text, n + 1, &end, 1);
    if (!doc) {
        fprintf(stderr, "%s: --state %s: invalid JSON near byte %zu\n", PROG, path,
                end && end >= text ? (size_t)(end - text) : (size_t)0);
        free(text);
        return -1;
    }
    char err[512];
    enum sim_rc rc = sim_state_load(state, doc, monotonic_ns(), err, sizeof err);
    cJSON_Delete(doc);
    free(text);
    if (rc) {
        fprintf(stderr, "%s: --state %s: %s\n", PROG, path, err);
        return -1;
    }
    fprintf(stderr, "%s: loaded %zu pods and %zu flow-control queues from %s\n", PROG,
            sim_state_pod_count(state), sim_state_flow_count(state), path);
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = {.listen = "127.0.0.1:8000", .state_file = NULL, .delay_ns = 0};
    int pr = parse_args(argc, argv, &o);
    if (pr != 0)
        return pr > 0 ? 0 : EXIT_USAGE;

    struct sockaddr_storage addr;
    if (resolve_listen(o.listen, &addr) != 0)
        return EXIT_USAGE;

    /* Block the stop signals before MHD starts its threads (they inherit
     * the mask), so only sigwait() below ever sees them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sim_state *state = sim_state_new(o.delay_ns);
    if (!state) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    if (o.state_file && load_state_file(state, o.state_file) != 0) {
        sim_state_free(state);
        return EXIT_USAGE;
    }
    char err[256];
    struct sim_http *http =
        sim_http_start(state, (const struct sockaddr *)&addr, HTTP_THREADS, err, sizeof err);
    if (!http) {
        fprintf(stderr, "%s: --listen %s: %s\n", PROG, o.listen, err);
        sim_state_free(state);
        return 1;
    }
    printf("listening on %s\n", sim_http_address(http));
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0) {
    }
    fprintf(stderr, "%s: %s, stopping\n", PROG, sig == SIGINT ? "SIGINT" : "SIGTERM");
    sim_http_stop(http);
    sim_state_free(state);
    return 0;
}
