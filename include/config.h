/*
 * config: the server configuration file (`--config FILE`, JSON).
 *
 * The file holds what an operator, not a ScaledObject author, decides
 * (DESIGN.md sections 3, 5 and 6): the Prometheus endpoints and their
 * credentials, the decision defaults, and per-model overrides:
 *
 *   { "prometheus": { "<name>": { endpoint }, ... },   optional
 *     "defaults":   { decision keys, "activationQuery" }, optional
 *     "overrides":  [ { "model", "namespace"?, decision keys }, ... ] }  optional
 *
 * Strict, unlike trigger metadata: an unknown or duplicated key anywhere,
 * a wrong JSON type or a bad value is ERR_INVALID with `why` naming the
 * JSON path and the problem ("defaults.kvCacheThresold: unknown key (did
 * you mean kvCacheThreshold?)", "overrides[2].model: required",
 * "prometheus.default.timeout: \"5x\" is not a duration ..."). A typo in a
 * config file must fail at start-up, not silently fall back to a default.
 *
 * Endpoints: names are [A-Za-z0-9_-]{1,64} (the metadata key `prometheus`
 * picks one; "default" is used when it is absent). `url` is required:
 * http:// or https://, a non-empty host, optional port and path prefix, no
 * `user:pass@` (use basicAuth), no query string or fragment (use
 * queryParameters); the fetcher appends /api/v1/... to the path. `timeout`
 * is a Go duration in (0, 10m], default 5s. `headers` are sent with every
 * query (names are RFC 7230 tokens, unique ignoring case; values have no
 * control bytes but HTAB; Authorization, Host, Content-Type, Content-Length
 * and Transfer-Encoding are refused). `queryParameters` are added to every
 * query (`query` is refused: the fetcher sets it). bearerTokenFile and
 * basicAuth {username, passwordFile} exclude each other; certFile and
 * keyFile go together. TLS keys on an http:// url are accepted (and
 * unused), so --prometheus-url can switch a configured endpoint to http.
 *
 * Files are named, never read, by config_parse(): the fetcher reads them
 * and re-reads them when they rotate. config_check_files() checks that
 * they are readable, so start-up fails fast on a typo in a path.
 *
 * Decision keys: `defaults` and each override take exactly the keys of
 * meta's table (meta_decision_keys()), numbers as JSON numbers or numeric
 * strings ("0.8", copied from trigger metadata), durations and the engine
 * as strings. `defaults` also takes `activationQuery` (PromQL containing
 * `$model`, at most CONFIG_ACTIVATION_QUERY_MAX bytes). The target keys
 * (modelID, namespace, prometheus, metricName) belong to trigger metadata
 * and are refused. After parsing, the defaults must resolve alone
 * (meta_resolve()) and every override must resolve on top of them, so a
 * bad combination (kvSpareTrigger > kvCacheThreshold) fails at load time.
 *
 * Overrides: `model` is required (the exact model id, non-empty, no
 * control bytes, no leading/trailing white space since metadata values are
 * trimmed); `namespace` is optional (a DNS-1123 label); an override without
 * it matches the model in every namespace. Two overrides with the same
 * (namespace, model) are an error. For a request, the override for
 * (namespace, model) wins over the model-only one, which wins over the
 * defaults; trigger metadata wins over all (meta_parse()). Lookup is two
 * binary searches over the overrides sorted by (model, namespace), so
 * thousands of overrides cost nothing per request.
 *
 * Ownership: config_parse() and config_load_file() return a struct config
 * the caller frees with config_free() (NULL is a no-op). Every pointer
 * inside it, and every pointer config_endpoint(), config_select_layers()
 * and config_default_layers() hand out, is owned by the config and valid
 * until config_free(). Inputs are copied, never retained.
 *
 * Threading: parsing is pure (no I/O but config_load_file() reading its
 * file and config_check_files() opening the named ones; no logging; no
 * globals) and reentrant. A loaded config is immutable: any number of
 * threads may read it concurrently without locks. config_set_default_url()
 * is the one mutator and is for start-up, before the config is shared.
 * Reloading (SIGHUP) never edits a live config: it loads a new struct
 * config, publishes the pointer, and frees the old one only after no
 * reader can still hold it.
 */
#ifndef SAT_CONFIG_H
#define SAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "meta.h"
#include "util.h"

#define CONFIG_MAX_FILE_BYTES (4u * 1024u * 1024u)
#define CONFIG_DEFAULT_ENDPOINT "default"
#define CONFIG_ENDPOINT_NAME_MAX META_PROMETHEUS_NAME_MAX
#define CONFIG_DEFAULT_TIMEOUT_MS 5000
#define CONFIG_MAX_TIMEOUT_MS (10LL * 60 * 1000)
#define CONFIG_URL_MAX 2048
#define CONFIG_PATH_MAX 4095 /* a file name (bearerTokenFile, caFile...) */
#define CONFIG_HEADER_VALUE_MAX 8192
#define CONFIG_ACTIVATION_QUERY_MAX 4096
/* Enough for every message this module writes, a long file name aside;
 * shorter buffers truncate. */
#define CONFIG_WHY_LEN 2048

/* One Prometheus-compatible endpoint (Prometheus, Thanos, Mimir...). */
struct config_endpoint {
    char *name;                /* [A-Za-z0-9_-]{1,64} */
    char *url;                 /* validated, see above */
    char *bearer_token_file;   /* NULL when absent */
    char *basic_username;      /* NULL when no basicAuth; no ':' */
    char *basic_password_file; /* set iff basic_username is */
    char *ca_file;             /* NULL = the system CAs */
    char *cert_file;           /* client certificate; set iff key_file is */
    char *key_file;
    bool insecure_skip_verify;
    int64_t timeout_ms; /* (0, CONFIG_MAX_TIMEOUT_MS], default 5000 */
    size_t n_headers;   /* in file order */
    char **header_names;
    char **header_values;
    size_t n_query_params; /* in file order */
    char **query_param_names;
    char **query_param_values;
};

struct config_override {
    char *namespace_; /* NULL = every namespace */
    char *model;
    struct meta_decision decision;
    /* "config override prod/ibm/granite-13b"; without a namespace
     * "config override ibm/granite-13b (any namespace)". */
    char *source;
    struct meta_layer layer; /* {source, &decision} */
};

struct config {
    struct config_endpoint *endpoints; /* in file order; names unique */
    size_t n_endpoints;                /* 0 is valid (the metrics-file source needs none) */
    struct meta_decision defaults;     /* the file's "defaults" (may be empty) */
    char *activation_query;            /* NULL when not configured */
    struct config_override *overrides; /* in file order */
    size_t n_overrides;
    /* Derived at load time. */
    struct meta_layer defaults_layer;  /* {"config defaults", &defaults} */
    struct meta_resolved resolved;     /* the defaults resolved alone */
    struct config_override **by_model; /* overrides sorted by (model, namespace) */
};

/*
 * Parse len bytes of JSON into a new config (*out; NULL on failure). Errors:
 * ERR_INVALID (why: "<json path>: <problem>" or "invalid JSON near byte N"),
 * ERR_NOMEM, ERR_INTERNAL for NULL arguments. Never reads the named files.
 */
SAT_WUR enum err_code config_parse(const char *json, size_t len, struct config **out, char *why,
                                   size_t why_len);

/*
 * Read the file at path (at most CONFIG_MAX_FILE_BYTES) and config_parse()
 * it; every message is prefixed "<path>: ". ERR_IO when the file cannot be
 * read, ERR_INVALID when it is larger than that or not a valid config. Does
 * not call config_check_files() (the caller does, after loading).
 */
SAT_WUR enum err_code config_load_file(const char *path, struct config **out, char *why,
                                       size_t why_len);

/*
 * Check that every file an endpoint names can be opened for reading and is
 * not a directory, in endpoint order: bearerTokenFile, basicAuth.
 * passwordFile, caFile, certFile, keyFile. The first failure is ERR_IO with
 * why like "prometheus.default.caFile: /x: No such file or directory".
 */
SAT_WUR enum err_code config_check_files(const struct config *c, char *why, size_t why_len);

/*
 * The --prometheus-url flag: set the url of the endpoint named "default",
 * creating it (timeout 5s, nothing else) when the file has none. The url is
 * validated like a config url (why: "--prometheus-url: <problem>"). On
 * failure c is unchanged. Start-up only: it may move c->endpoints.
 */
SAT_WUR enum err_code config_set_default_url(struct config *c, const char *url, char *why,
                                             size_t why_len);

/* The endpoint called name (NULL = "default"), or NULL (also for c NULL). */
const struct config_endpoint *config_endpoint(const struct config *c, const char *name);

/*
 * meta_options.select_layers for arg = const struct config *: the overrides
 * matching (namespace_, model_id), most specific first (namespace and
 * model, then model only); at most cap of them, written to out. Returns how
 * many (0, 1 or 2). arg NULL: 0. O(log n_overrides), no allocation.
 */
size_t config_select_layers(void *arg, const char *namespace_, const char *model_id,
                            struct meta_layer *out, size_t cap);

/* meta_options.layers: the defaults layer (source "config defaults");
 * *n = 1, or 0 and NULL when c is NULL. */
const struct meta_layer *config_default_layers(const struct config *c, size_t *n);

/* Free c and everything in it. NULL: no-op. */
void config_free(struct config *c);

#endif
