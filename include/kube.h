/*
 * kube: a small, cached, asynchronous reader of the Kubernetes API, for
 * the llm-d.ai/managed annotation path.
 *
 * Objects are cached by API path (".../scaledobjects/NAME", a namespace's
 * list, a Deployment...). kube_get() never blocks: it answers from the
 * cache, or parks the caller's waiter while one shared fetch runs on the
 * client's own thread (libcurl multi, TLS with the cluster CA, bearer token
 * re-read when it rotates), or answers UNAVAILABLE at once when the last
 * read of that path failed (HTTP status and the API's Status message in
 * why). An entry older than the cache TTL is refreshed in the background
 * on its next use; the cached value serves meanwhile. Entries unused for
 * ten TTLs are dropped.
 *
 * Bodies are parsed once, on the client's thread, by the caller-given type
 * (parse/free functions), and handed out as reference-counted objects.
 *
 * Ownership: kube_start() returns a client the caller frees with
 * kube_stop(); parked waiters are then called with ERR_UNAVAILABLE.
 * Threading: kube_get/kube_expire from any thread; waiter callbacks run on
 * the client's thread (or the expiring one) without locks held.
 */
#ifndef SAT_KUBE_H
#define SAT_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

struct kube;

struct kube_options {
    const char *api_url;    /* https://host:port */
    const char *token_file; /* bearer token, re-read when it changes; NULL = none */
    const char *ca_file;    /* NULL = the system CAs */
    int64_t cache_ttl_ms;   /* --kube-cache-ttl, default 15s */
    int64_t timeout_ms;     /* per request, default 5s */
};

/* In-cluster settings: API server from KUBERNETES_SERVICE_HOST/_PORT,
 * token and CA from /var/run/secrets/kubernetes.io/serviceaccount. Strings
 * point into static storage (valid until the next call). */
SAT_WUR enum err_code kube_options_in_cluster(struct kube_options *o, char *why, size_t why_len);

SAT_WUR enum err_code kube_start(const struct kube_options *o, struct kube **out, char *why,
                                 size_t why_len);
void kube_stop(struct kube *k);

/* How to turn a body into an object: parse returns a new object or NULL
 * with why; free releases it. */
struct kube_type {
    const char *what; /* "ScaledObject", for messages */
    void *(*parse)(const char *body, size_t len, char *why, size_t why_len);
    void (*free)(void *obj);
};

/* A reference to a cached object; release with kube_ref_release(). */
struct kube_ref;
const void *kube_ref_obj(const struct kube_ref *r);
void kube_ref_release(struct kube_ref *r);

struct kube_waiter {
    /* ERR_OK: the path has been read (successfully or not: call kube_get
     * again); ERR_TIMEOUT: the deadline passed. */
    void (*fn)(struct kube_waiter *w, enum err_code rc);
    /* private */
    struct kube_waiter *next, *prev;
    int64_t deadline_ms;
    bool parked;
};

/*
 * The object at path: ERR_OK with *out; ERR_NOT_FOUND when the API said
 * 404 (why holds its message); ERR_UNAVAILABLE with why ("kubernetes API:
 * HTTP 403 Forbidden: ...", "kubernetes API: connection refused") when the
 * last read failed; ERR_PRECONDITION when the API answered but the
 * object is malformed (why: which field); ERR_AGAIN with w parked while the first read is in
 * flight (until deadline_ms, monotonic, <= 0 = none; never longer than the
 * request timeout); with w NULL and nothing cached, ERR_AGAIN too, with
 * the read queued but nothing parked (a prefetch).
 */
SAT_WUR enum err_code kube_get(struct kube *k, const struct kube_type *type, const char *path,
                               struct kube_ref **out, struct kube_waiter *w, int64_t deadline_ms,
                               char *why, size_t why_len);

/* Call waiters whose deadline passed with ERR_TIMEOUT. */
void kube_expire(struct kube *k, int64_t now_ms);
/* Unpark w; true when it was parked. */
bool kube_cancel(struct kube *k, struct kube_waiter *w);

struct kube_stats {
    uint64_t reads;       /* HTTP requests sent */
    uint64_t read_errors; /* failed (transport or non-2xx other than 404) */
};
void kube_get_stats(struct kube *k, struct kube_stats *out);

#endif
