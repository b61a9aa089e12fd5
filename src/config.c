/*
 * config: the server configuration file. See include/config.h for the
 * contract and DESIGN.md section 6 for the shape.
 *
 * The JSON tree (cJSON) is walked once, member by member, so that every
 * member is accounted for: each object has a small table of the keys it
 * accepts, a key outside it is an error with a "did you mean" hint, and a
 * repeated key is an error too (cJSON keeps both; which one wins would be
 * an accident). Free-form objects (endpoints, headers, query parameters)
 * are checked for duplicates by sorting their names. Decision keys are not
 * listed here: meta's typed table parses and bounds them, so the config
 * file, trigger metadata and the docs cannot drift apart.
 *
 * Values are copied into the struct config as soon as they are checked,
 * and the struct starts zeroed with array counts set before the arrays are
 * filled, so any failure is cleaned up by one config_free().
 *
 * Every message starts with the JSON path of the offending member. Keys and
 * values shown in messages are escaped and cut (show() and meta_quote()),
 * and a URL carrying credentials is never echoed.
 */
#include "config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes of a key shown in a path before "...". */
#define SHOWN_BYTES 64
/* A JSON path with a few escaped keys always fits. */
#define PATH_LEN 640
/* Longest key the "did you mean" search looks at. */
#define SUGGEST_MAX 64

#define SOURCE_DEFAULTS "config defaults"

/* ---- messages ---------------------------------------------------------------- */

static void fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));

/* vsnprintf behind a function: callers pass fixed buffers and accept that
 * a long value truncates the message, never the program. */
static void fmt(char *buf, size_t len, const char *f, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, len, f, ap);
    va_end(ap);
}

static enum err_code fail(char *why, size_t why_len, const char *f, ...)
    __attribute__((format(printf, 3, 4)));

static enum err_code fail(char *why, size_t why_len, const char *f, ...)
{
    if (why && why_len) {
        va_list ap;
        va_start(ap, f);
        vsnprintf(why, why_len, f, ap);
        va_end(ap);
    }
    return ERR_INVALID;
}

static enum err_code no_memory(char *why, size_t why_len)
{
    fmt(why, why_len, "out of memory");
    return ERR_NOMEM;
}

/* s unquoted and log-safe: printable ASCII as is, other bytes as \xNN, at
 * most SHOWN_BYTES bytes of s, then "...". */
static void show(char *buf, size_t len, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[SHOWN_BYTES * 4 + 4];
    size_t o = 0, i = 0;

    for (; s[i] && i < SHOWN_BYTES; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e || c == '\\') {
            tmp[o++] = '\\';
            tmp[o++] = 'x';
            tmp[o++] = hex[c >> 4];
            tmp[o++] = hex[c & 0xf];
        } else {
            tmp[o++] = (char)c;
        }
    }
    if (s[i]) {
        memcpy(tmp + o, "...", 3);
        o += 3;
    }
    tmp[o] = '\0';
    fmt(buf, len, "%s", tmp);
}

/* parent.key ("key" at the top level). */
static void path_key(char *buf, size_t len, const char *parent, const char *key)
{
    char k[SHOWN_BYTES * 4 + 4];
    if (key[0])
        show(k, sizeof k, key);
    else
        fmt(k, sizeof k, "\"\""); /* an empty key stays visible */
    if (parent[0])
        fmt(buf, len, "%s.%s", parent, k);
    else
        fmt(buf, len, "%s", k);
}

static void path_index(char *buf, size_t len, const char *parent, size_t i)
{
    fmt(buf, len, "%s[%zu]", parent, i);
}

static const char *type_name(const cJSON *item)
{
    if (cJSON_IsString(item))
        return "a string";
    if (cJSON_IsNumber(item))
        return "a number";
    if (cJSON_IsBool(item))
        return "a boolean";
    if (cJSON_IsNull(item))
        return "null";
    if (cJSON_IsArray(item))
        return "an array";
    if (cJSON_IsObject(item))
        return "an object";
    return "invalid";
}

static enum err_code wrong_type(const char *path, const char *want, const cJSON *item, char *why,
                                size_t why_len)
{
    return fail(why, why_len, "%s: must be %s, not %s", path, want, type_name(item));
}

/* ---- "did you mean" -------------------------------------------------------- */

static char fold(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Levenshtein distance ignoring ASCII case; SIZE_MAX when a string is
 * longer than SUGGEST_MAX (no hint for those). */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t prev[SUGGEST_MAX + 1], cur[SUGGEST_MAX + 1];

    if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (fold(a[i - 1]) != fold(b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            size_t m = sub < del ? sub : del;
            cur[j] = m < ins ? m : ins;
        }
        memcpy(prev, cur, (lb + 1) * sizeof cur[0]);
    }
    return prev[lb];
}

/* The closest of names to key when it looks like a typo of it, else NULL. */
static const char *suggest(const char *key, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(key, names[i]);
        if (d < best_d && d <= 2 && d * 3 <= strlen(names[i])) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

static enum err_code unknown_key(const char *path, const char *key, const char *const *names,
                                 size_t n, char *why, size_t why_len)
{
    const char *hint = suggest(key, names, n);
    if (hint)
        return fail(why, why_len, "%s: unknown key (did you mean %s?)", path, hint);
    return fail(why, why_len, "%s: unknown key", path);
}

/* Index of key in names, or -1. */
static int key_index(const char *key, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, names[i]) == 0)
            return (int)i;
    return -1;
}

/* ---- free-form objects: unique names ------------------------------------ */

struct name_at {
    const char *name;
    size_t index;
};

static int cmp_name_exact(const void *a, const void *b)
{
    const struct name_at *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_name_fold(const void *a, const void *b)
{
    const struct name_at *x = a, *y = b;
    int c = strcasecmp(x->name, y->name);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/*
 * Refuse two members of obj with the same name (ignoring ASCII case when
 * fold_case), naming the first repeat in file order. O(n log n): a
 * free-form object may be large.
 */
static enum err_code check_unique(const cJSON *obj, bool fold_case, const char *path,
                                  const char *what, char *why, size_t why_len)
{
    size_t n = (size_t)cJSON_GetArraySize(obj);
    if (n < 2)
        return ERR_OK;
    struct name_at *v = calloc(n, sizeof *v);
    if (!v)
        return no_memory(why, why_len);
    size_t i = 0;
    for (const cJSON *m = obj->child; m && i < n; m = m->next, i++)
        v[i] = (struct name_at){m->string ? m->string : "", i};
    n = i;
    qsort(v, n, sizeof *v, fold_case ? cmp_name_fold : cmp_name_exact);
    const char *repeat = NULL;
    size_t repeat_at = SIZE_MAX;
    for (i = 1; i < n; i++) {
        bool same = fold_case ? strcasecmp(v[i - 1].name, v[i].name) == 0
                              : strcmp(v[i - 1].name, v[i].name) == 0;
        if (same && v[i].index < repeat_at) {
            repeat = v[i].name;
            repeat_at = v[i].index;
        }
    }
    enum err_code rc = ERR_OK;
    if (repeat) {
        char p[PATH_LEN];
        path_key(p, sizeof p, path, repeat);
        rc = fail(why, why_len, "%s: duplicate %s", p, what);
    }
    free(v);
    return rc;
}

/* ---- string checks ------------------------------------------------------------ */

static bool has_control(const char *s, bool allow_tab, bool allow_newline)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\t' && allow_tab)
            continue;
        if ((c == '\n' || c == '\r') && allow_newline)
            continue;
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool valid_endpoint_name(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > CONFIG_ENDPOINT_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!is_alnum(*s) && *s != '_' && *s != '-')
            return false;
    return true;
}

/* DNS-1123 label: [a-z0-9-]{1,63}, a letter or digit at both ends. */
static bool valid_namespace(const char *s)
{
    size_t n = strlen(s);
    if (!n || n > META_NAMESPACE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool lower_alnum = (c >= 'a' && c <= 'z') || is_digit(c);
        if (!lower_alnum && (c != '-' || i == 0 || i == n - 1))
            return false;
    }
    return true;
}

/* RFC 7230 tchar. */
static bool is_tchar(char c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

/* ---- URLs ----------------------------------------------------------------------- */

/* [ipv6] or a host name / IPv4 address; port 1..65535 when given. */
static bool check_host_port(const char *a, size_t n, char *problem, size_t len)
{
    size_t i = 0;
    if (n && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close || close == a + 1) {
            fmt(problem, len, "has a malformed [IPv6] host");
            return false;
        }
        for (const char *p = a + 1; p < close; p++) {
            char c = fold(*p);
            if (!is_digit(c) && !(c >= 'a' && c <= 'f') && c != ':' && c != '.') {
                fmt(problem, len, "has a malformed [IPv6] host");
                return false;
            }
        }
        i = (size_t)(close - a) + 1;
        if (i < n && a[i] != ':') {
            fmt(problem, len, "has a malformed [IPv6] host");
            return false;
        }
    } else {
        for (; i < n && a[i] != ':'; i++) {
            if (!is_alnum(a[i]) && a[i] != '.' && a[i] != '-' && a[i] != '_') {
                fmt(problem, len, "has an invalid character in its host name");
                return false;
            }
        }
        if (i == 0) {
            fmt(problem, len, "has no host");
            return false;
        }
    }
    if (i == n)
        return true;
    /* a[i] == ':' */
    size_t digits = n - i - 1;
    long port = 0;
    if (digits == 0 || digits > 5) {
        fmt(problem, len, "has an invalid port");
        return false;
    }
    for (size_t j = i + 1; j < n; j++) {
        if (!is_digit(a[j])) {
            fmt(problem, len, "has an invalid port");
            return false;
        }
        port = port * 10 + (a[j] - '0');
    }
    if (port < 1 || port > 65535) {
        fmt(problem, len, "has an invalid port");
        return false;
    }
    return true;
}

/*
 * Minimal URL check: scheme, authority (host, optional port), optional
 * path; see config.h. Writes the problem (without a path) and returns false.
 * Messages echo the URL only when it cannot hold credentials.
 */
static bool check_url(const char *url, char *problem, size_t len)
{
    char q[META_QUOTE_LEN];
    size_t n = strlen(url);

    if (!n) {
        fmt(problem, len, "must not be empty");
        return false;
    }
    /* Credentials first, before anything echoes the URL: an '@' in what
     * would be the authority, with or without a scheme. */
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    size_t auth_len = strcspn(auth, "/?#");
    if (memchr(auth, '@', auth_len)) {
        fmt(problem, len,
            "must not contain credentials (user:password@); use basicAuth or bearerTokenFile");
        return false;
    }
    meta_quote(q, sizeof q, url);
    if (n > CONFIG_URL_MAX) {
        fmt(problem, len, "%s is longer than %d bytes", q, CONFIG_URL_MAX);
        return false;
    }
    for (const char *p = url; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f) {
            fmt(problem, len, "%s must not contain white space or control characters", q);
            return false;
        }
    }
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        fmt(problem, len, "%s must start with http:// or https://", q);
        return false;
    }
    if (strchr(url, '?')) {
        fmt(problem, len, "%s must not have a query string (use queryParameters)", q);
        return false;
    }
    if (strchr(url, '#')) {
        fmt(problem, len, "%s must not have a fragment", q);
        return false;
    }
    char hp[128];
    if (!check_host_port(auth, auth_len, hp, sizeof hp)) {
        fmt(problem, len, "%s %s", q, hp);
        return false;
    }
    return true;
}

/* ---- endpoints ------------------------------------------------------------------ */

/* A file name: non-empty string, no control bytes, at most PATH_MAX. */
static enum err_code take_file(const cJSON *item, const char *path, char **dst, char *why,
                               size_t why_len)
{
    if (!cJSON_IsString(item))
        return wrong_type(path, "a file name (string)", item, why, why_len);
    const char *s = item->valuestring;
    if (!s[0])
        return fail(why, why_len, "%s: must not be empty", path);
    if (strlen(s) > CONFIG_PATH_MAX)
        return fail(why, why_len, "%s: longer than %d bytes", path, CONFIG_PATH_MAX);
    if (has_control(s, false, false)) {
        char q[META_QUOTE_LEN];
        meta_quote(q, sizeof q, s);
        return fail(why, why_len, "%s: %s must not contain control characters", path, q);
    }
    *dst = dup_str(s);
    return *dst ? ERR_OK : no_memory(why, why_len);
}

static const char *const s_basic_keys[] = {"username", "passwordFile"};
#define BASIC_KEY_COUNT (sizeof s_basic_keys / sizeof s_basic_keys[0])

static enum err_code parse_basic_auth(const cJSON *obj, const char *path,
                                      struct config_endpoint *ep, char *why, size_t why_len)
{
    char p[PATH_LEN], q[META_QUOTE_LEN];
    unsigned seen = 0;
    enum err_code rc;

    if (!cJSON_IsObject(obj))
        return wrong_type(path, "an object", obj, why, why_len);
    for (const cJSON *m = obj->child; m; m = m->next) {
        path_key(p, sizeof p, path, m->string);
        int k = key_index(m->string, s_basic_keys, BASIC_KEY_COUNT);
        if (k < 0)
            return unknown_key(p, m->string, s_basic_keys, BASIC_KEY_COUNT, why, why_len);
        if (seen & (1u << k))
            return fail(why, why_len, "%s: duplicate key", p);
        seen |= 1u << k;
        if (k == 0) {
            if (!cJSON_IsString(m))
                return wrong_type(p, "a string", m, why, why_len);
            const char *u = m->valuestring;
            meta_quote(q, sizeof q, u);
            if (!u[0])
                return fail(why, why_len, "%s: must not be empty", p);
            if (strchr(u, ':'))
                return fail(why, why_len, "%s: %s must not contain ':' (RFC 7617)", p, q);
            if (has_control(u, false, false))
                return fail(why, why_len, "%s: %s must not contain control characters", p, q);
            if (!(ep->basic_username = dup_str(u)))
                return no_memory(why, why_len);
        } else {
            rc = take_file(m, p, &ep->basic_password_file, why, why_len);
            if (rc)
                return rc;
        }
    }
    for (size_t k = 0; k < BASIC_KEY_COUNT; k++) {
        if (!(seen & (1u << k))) {
            path_key(p, sizeof p, path, s_basic_keys[k]);
            return fail(why, why_len, "%s: required", p);
        }
    }
    return ERR_OK;
}

/* Headers the scaler sets itself or that would carry credentials. */
static const struct {
    const char *name;
    const char *why;
} s_forbidden_headers[] = {
    {"Authorization", "use bearerTokenFile or basicAuth"},
    {"Host", "the scaler sets it from url"},
    {"Content-Type", "the scaler sets it"},
    {"Content-Length", "the scaler sets it"},
    {"Transfer-Encoding", "the scaler sets it"},
};

/* Query parameters the fetcher sets itself. */
static const char *const s_reserved_params[] = {"query"};

/* headers or queryParameters: an object of strings into two arrays. */
static enum err_code parse_string_map(const cJSON *obj, const char *path, bool headers,
                                      size_t *n_out, char ***names_out, char ***values_out,
                                      char *why, size_t why_len)
{
    char p[PATH_LEN], q[META_QUOTE_LEN];
    enum err_code rc;

    if (!cJSON_IsObject(obj))
        return wrong_type(path, "an object of strings", obj, why, why_len);
    rc = check_unique(obj, headers, path,
                      headers ? "header name (names are case-insensitive)" : "key", why, why_len);
    if (rc)
        return rc;
    size_t n = (size_t)cJSON_GetArraySize(obj);
    if (!n)
        return ERR_OK;
    *names_out = calloc(n, sizeof **names_out);
    *values_out = calloc(n, sizeof **values_out);
    if (!*names_out || !*values_out)
        return no_memory(why, why_len);
    *n_out = n;

    size_t i = 0;
    for (const cJSON *m = obj->child; m && i < n; m = m->next, i++) {
        const char *name = m->string;
        path_key(p, sizeof p, path, name);
        if (!name[0])
            return fail(why, why_len, "%s: the name must not be empty", path);
        if (!cJSON_IsString(m))
            return wrong_type(p, "a string", m, why, why_len);
        const char *v = m->valuestring;
        meta_quote(q, sizeof q, v);
        if (headers) {
            for (const char *c = name; *c; c++)
                if (!is_tchar(*c))
                    return fail(why, why_len,
                                "%s: not a valid header name (RFC 7230 token characters only)", p);
            for (size_t f = 0; f < sizeof s_forbidden_headers / sizeof s_forbidden_headers[0]; f++)
                if (strcasecmp(name, s_forbidden_headers[f].name) == 0)
                    return fail(why, why_len, "%s: header not allowed (%s)", p,
                                s_forbidden_headers[f].why);
            if (!v[0])
                return fail(why, why_len, "%s: must not be empty", p);
            if (strchr(v, '\r') || strchr(v, '\n'))
                return fail(why, why_len, "%s: %s must not contain CR or LF", p, q);
            if (has_control(v, true, false))
                return fail(why, why_len, "%s: %s must not contain control characters", p, q);
            if (strlen(v) > CONFIG_HEADER_VALUE_MAX)
                return fail(why, why_len, "%s: longer than %d bytes", p, CONFIG_HEADER_VALUE_MAX);
        } else {
            if (has_control(name, false, false))
                return fail(why, why_len, "%s: the name must not contain control characters", p);
            for (size_t r = 0; r < sizeof s_reserved_params / sizeof s_reserved_params[0]; r++)
                if (strcmp(name, s_reserved_params[r]) == 0)
                    return fail(why, why_len, "%s: parameter not allowed (the scaler sets it)", p);
        }
        if (!((*names_out)[i] = dup_str(name)) || !((*values_out)[i] = dup_str(v)))
            return no_memory(why, why_len);
    }
    return ERR_OK;
}

enum endpoint_key {
    EK_URL,
    EK_BEARER_TOKEN_FILE,
    EK_CA_FILE,
    EK_CERT_FILE,
    EK_KEY_FILE,
    EK_INSECURE_SKIP_VERIFY,
    EK_BASIC_AUTH,
    EK_HEADERS,
    EK_QUERY_PARAMETERS,
    EK_TIMEOUT,
    EK_COUNT
};

static const char *const s_endpoint_keys[EK_COUNT] = {
    "url",       "bearerTokenFile", "caFile",          "certFile", "keyFile", "insecureSkipVerify",
    "basicAuth", "headers",         "queryParameters", "timeout",
};

static enum err_code parse_timeout(const cJSON *m, const char *p, int64_t *out, char *why,
                                   size_t why_len)
{
    char q[META_QUOTE_LEN];
    int64_t ms = 0;

    if (!cJSON_IsString(m))
        return wrong_type(p, "a duration string like \"5s\"", m, why, why_len);
    meta_quote(q, sizeof q, m->valuestring);
    if (util_parse_duration_ms(m->valuestring, &ms) != ERR_OK)
        return fail(why, why_len, "%s: %s is not a duration (like 500ms, 5s, 1m)", p, q);
    if (ms <= 0 || ms > CONFIG_MAX_TIMEOUT_MS)
        return fail(why, why_len, "%s: %s must be in (0s, 10m]", p, q);
    *out = ms;
    return ERR_OK;
}

static enum err_code parse_endpoint(const cJSON *obj, const char *path, struct config_endpoint *ep,
                                    char *why, size_t why_len)
{
    char p[PATH_LEN], problem[META_QUOTE_LEN + 128];
    unsigned seen = 0;
    enum err_code rc = ERR_OK;

    if (!cJSON_IsObject(obj))
        return wrong_type(path, "an object", obj, why, why_len);
    ep->timeout_ms = CONFIG_DEFAULT_TIMEOUT_MS;
    for (const cJSON *m = obj->child; m; m = m->next) {
        path_key(p, sizeof p, path, m->string);
        int k = key_index(m->string, s_endpoint_keys, EK_COUNT);
        if (k < 0)
            return unknown_key(p, m->string, s_endpoint_keys, EK_COUNT, why, why_len);
        if (seen & (1u << k))
            return fail(why, why_len, "%s: duplicate key", p);
        seen |= 1u << k;
        switch ((enum endpoint_key)k) {
        case EK_URL:
            if (!cJSON_IsString(m))
                return wrong_type(p, "a string", m, why, why_len);
            if (!check_url(m->valuestring, problem, sizeof problem))
                return fail(why, why_len, "%s: %s", p, problem);
            if (!(ep->url = dup_str(m->valuestring)))
                return no_memory(why, why_len);
            break;
        case EK_BEARER_TOKEN_FILE:
            rc = take_file(m, p, &ep->bearer_token_file, why, why_len);
            break;
        case EK_CA_FILE:
            rc = take_file(m, p, &ep->ca_file, why, why_len);
            break;
        case EK_CERT_FILE:
            rc = take_file(m, p, &ep->cert_file, why, why_len);
            break;
        case EK_KEY_FILE:
            rc = take_file(m, p, &ep->key_file, why, why_len);
            break;
        case EK_INSECURE_SKIP_VERIFY:
            if (!cJSON_IsBool(m))
                return wrong_type(p, "true or false", m, why, why_len);
            ep->insecure_skip_verify = cJSON_IsTrue(m);
            break;
        case EK_BASIC_AUTH:
            rc = parse_basic_auth(m, p, ep, why, why_len);
            break;
        case EK_HEADERS:
            rc = parse_string_map(m, p, true, &ep->n_headers, &ep->header_names, &ep->header_values,
                                  why, why_len);
            break;
        case EK_QUERY_PARAMETERS:
            rc = parse_string_map(m, p, false, &ep->n_query_params, &ep->query_param_names,
                                  &ep->query_param_values, why, why_len);
            break;
        case EK_TIMEOUT:
            rc = parse_timeout(m, p, &ep->timeout_ms, why, why_len);
            break;
        case EK_COUNT:
            break;
        }
        if (rc)
            return rc;
    }
    if (!ep->url) {
        path_key(p, sizeof p, path, "url");
        return fail(why, why_len, "%s: required", p);
    }
    if (ep->bearer_token_file && ep->basic_username)
        return fail(why, why_len, "%s: bearerTokenFile and basicAuth are mutually exclusive", path);
    if (!!ep->cert_file != !!ep->key_file) {
        path_key(p, sizeof p, path, ep->cert_file ? "certFile" : "keyFile");
        return fail(why, why_len, "%s: requires %s", p, ep->cert_file ? "keyFile" : "certFile");
    }
    return ERR_OK;
}

static enum err_code parse_prometheus(const cJSON *obj, struct config *c, char *why, size_t why_len)
{
    char p[PATH_LEN];
    enum err_code rc;

    if (!cJSON_IsObject(obj))
        return wrong_type("prometheus", "an object of named endpoints", obj, why, why_len);
    rc = check_unique(obj, false, "prometheus", "endpoint", why, why_len);
    if (rc)
        return rc;
    size_t n = (size_t)cJSON_GetArraySize(obj);
    if (!n)
        return ERR_OK;
    c->endpoints = calloc(n, sizeof *c->endpoints);
    if (!c->endpoints)
        return no_memory(why, why_len);
    c->n_endpoints = n;
    size_t i = 0;
    for (const cJSON *m = obj->child; m && i < n; m = m->next, i++) {
        struct config_endpoint *ep = &c->endpoints[i];
        path_key(p, sizeof p, "prometheus", m->string);
        if (!valid_endpoint_name(m->string))
            return fail(why, why_len,
                        "%s: not a valid endpoint name (1-%d characters of [A-Za-z0-9_-])", p,
                        CONFIG_ENDPOINT_NAME_MAX);
        if (!(ep->name = dup_str(m->string)))
            return no_memory(why, why_len);
        rc = parse_endpoint(m, p, ep, why, why_len);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

/* ---- decision layers: defaults and overrides ---------------------------------- */

/* Keys a layer takes besides the decision keys; bits after the decision
 * bits in the layer's seen mask. */
enum extra_key { XK_ACTIVATION_QUERY, XK_MODEL, XK_NAMESPACE, XK_COUNT };
static const char *const s_extra_keys[XK_COUNT] = {"activationQuery", "model", "namespace"};

_Static_assert(META_FIELD_COUNT + XK_COUNT <= 32, "seen mask is 32 bits");

/* Target keys: trigger metadata only. */
static const char *const s_target_keys[] = {"modelID", "namespace", "prometheus", "metricName"};

struct layer_ctx {
    bool is_override;
    struct meta_decision *decision;
    char **activation_query; /* defaults only */
    const cJSON *model, *ns; /* override only: the selector members */
};

static enum err_code decision_member(const cJSON *m, const struct meta_key *k, const char *path,
                                     struct meta_decision *d, char *why, size_t why_len)
{
    char mwhy[META_WHY_LEN], p[PATH_LEN];
    enum err_code rc;

    mwhy[0] = '\0';
    if (cJSON_IsNumber(m)) {
        rc = meta_decision_set_number(d, k->name, m->valuedouble, mwhy, sizeof mwhy);
    } else if (cJSON_IsString(m)) {
        rc = meta_decision_parse(d, k->name, m->valuestring, mwhy, sizeof mwhy);
    } else {
        path_key(p, sizeof p, path, k->name);
        switch (k->type) {
        case META_TYPE_DURATION:
            return wrong_type(p, "a duration string like \"30s\"", m, why, why_len);
        case META_TYPE_ENGINE:
            return wrong_type(p, "the string \"vllm\" or \"sglang\"", m, why, why_len);
        case META_TYPE_DOUBLE:
        case META_TYPE_INT:
            break;
        }
        return wrong_type(p, "a number", m, why, why_len);
    }
    if (rc == ERR_NOT_FOUND) /* the table changed under us: a bug */
        rc = ERR_INTERNAL;
    if (rc)
        fmt(why, why_len, "%s.%s", path, mwhy); /* meta's message starts with the key */
    return rc;
}

/* Whether the template has a model placeholder promql_activation_query()
 * substitutes: "${model}", or "$model" not followed by a name character. */
static bool has_model_placeholder(const char *s)
{
    const char *q;

    if (strstr(s, "${model}"))
        return true;
    for (q = strstr(s, "$model"); q; q = strstr(q + 1, "$model")) {
        char c = q[6];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return true;
    }
    return false;
}

static enum err_code activation_query(const cJSON *m, const char *p, char **dst, char *why,
                                      size_t why_len)
{
    if (!cJSON_IsString(m))
        return wrong_type(p, "a PromQL string", m, why, why_len);
    const char *s = m->valuestring;
    if (strlen(s) > CONFIG_ACTIVATION_QUERY_MAX)
        return fail(why, why_len, "%s: longer than %d bytes", p, CONFIG_ACTIVATION_QUERY_MAX);
    if (!has_model_placeholder(s))
        return fail(why, why_len,
                    "%s: must contain $model or ${model} (replaced by the escaped model id of the "
                    "request)",
                    p);
    if (has_control(s, true, true))
        return fail(why, why_len, "%s: must not contain control characters", p);
    *dst = dup_str(s);
    return *dst ? ERR_OK : no_memory(why, why_len);
}

/* One member of "defaults" or of an override. */
static enum err_code layer_member(const cJSON *m, const char *path, struct layer_ctx *lc,
                                  uint32_t *seen, char *why, size_t why_len)
{
    char p[PATH_LEN];
    const char *key = m->string;
    const struct meta_key *k = meta_decision_key(key);
    unsigned bit;

    path_key(p, sizeof p, path, key);
    int x = key_index(key, s_extra_keys, XK_COUNT);
    if (k) {
        bit = (unsigned)k->field;
    } else if (x >= 0 && (x == XK_ACTIVATION_QUERY) != lc->is_override) {
        bit = META_FIELD_COUNT + (unsigned)x;
    } else if (x == XK_ACTIVATION_QUERY) {
        return fail(why, why_len, "%s: only allowed in defaults", p);
    } else if (x == XK_MODEL) {
        return fail(why, why_len, "%s: only allowed in an override", p);
    } else if (lc->is_override && strcmp(key, "modelID") == 0) {
        return fail(why, why_len,
                    "%s: not a decision key (an override names its model with \"model\")", p);
    } else if (key_index(key, s_target_keys, sizeof s_target_keys / sizeof s_target_keys[0]) >= 0) {
        return fail(why, why_len, "%s: not a decision key (set it in the trigger metadata)", p);
    } else {
        const char *names[META_FIELD_COUNT + XK_COUNT];
        size_t n = 0, nk = 0;
        const struct meta_key *keys = meta_decision_keys(&nk);
        for (size_t i = 0; i < nk && n < META_FIELD_COUNT; i++)
            names[n++] = keys[i].name;
        if (lc->is_override) {
            names[n++] = "model";
            names[n++] = "namespace";
        } else {
            names[n++] = "activationQuery";
        }
        return unknown_key(p, key, names, n, why, why_len);
    }
    if (*seen & (1u << bit))
        return fail(why, why_len, "%s: duplicate key", p);
    *seen |= 1u << bit;

    if (k)
        return decision_member(m, k, path, lc->decision, why, why_len);
    switch ((enum extra_key)x) {
    case XK_ACTIVATION_QUERY:
        return activation_query(m, p, lc->activation_query, why, why_len);
    case XK_MODEL:
        lc->model = m;
        return ERR_OK;
    case XK_NAMESPACE:
        lc->ns = m;
        return ERR_OK;
    case XK_COUNT:
        break;
    }
    return ERR_INTERNAL;
}

static enum err_code parse_defaults(const cJSON *obj, struct config *c, char *why, size_t why_len)
{
    struct layer_ctx lc = {false, &c->defaults, &c->activation_query, NULL, NULL};
    uint32_t seen = 0;

    if (!cJSON_IsObject(obj))
        return wrong_type("defaults", "an object", obj, why, why_len);
    for (const cJSON *m = obj->child; m; m = m->next) {
        enum err_code rc = layer_member(m, "defaults", &lc, &seen, why, why_len);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

/* "prod/ibm/granite-13b" or "ibm/granite-13b, any namespace", escaped. */
static void override_label(char *buf, size_t len, const struct config_override *ov)
{
    char m[SHOWN_BYTES * 4 + 4];
    show(m, sizeof m, ov->model);
    if (ov->namespace_)
        fmt(buf, len, "%s/%s", ov->namespace_, m);
    else
        fmt(buf, len, "%s, any namespace", m);
}

static enum err_code override_selector(struct config_override *ov, const struct layer_ctx *lc,
                                       const char *path, char *why, size_t why_len)
{
    char p[PATH_LEN], q[META_QUOTE_LEN];

    path_key(p, sizeof p, path, "model");
    if (!lc->model)
        return fail(why, why_len, "%s: required", p);
    if (!cJSON_IsString(lc->model))
        return wrong_type(p, "a string", lc->model, why, why_len);
    const char *model = lc->model->valuestring;
    size_t n = strlen(model);
    meta_quote(q, sizeof q, model);
    if (!n)
        return fail(why, why_len, "%s: must not be empty", p);
    if (n > META_MAX_VALUE_LEN)
        return fail(why, why_len, "%s: longer than %d bytes", p, META_MAX_VALUE_LEN);
    if (has_control(model, false, false))
        return fail(why, why_len, "%s: %s must not contain control characters", p, q);
    if (is_space(model[0]) || is_space(model[n - 1]))
        return fail(why, why_len,
                    "%s: %s must not start or end with white space (metadata values are trimmed, "
                    "so it would never match)",
                    p, q);
    if (!(ov->model = dup_str(model)))
        return no_memory(why, why_len);

    if (lc->ns) {
        path_key(p, sizeof p, path, "namespace");
        if (!cJSON_IsString(lc->ns))
            return wrong_type(p, "a string", lc->ns, why, why_len);
        const char *ns = lc->ns->valuestring;
        meta_quote(q, sizeof q, ns);
        if (!ns[0])
            return fail(why, why_len, "%s: must not be empty (omit it to match every namespace)",
                        p);
        if (strcmp(ns, "*") == 0)
            return fail(why, why_len, "%s: %s: omit namespace to match every namespace", p, q);
        if (!valid_namespace(ns))
            return fail(why, why_len,
                        "%s: %s is not a valid namespace name (DNS-1123 label: at most %d "
                        "characters of [a-z0-9-], starting and ending with a letter or digit)",
                        p, q, META_NAMESPACE_MAX);
        if (!(ov->namespace_ = dup_str(ns)))
            return no_memory(why, why_len);
    }

    size_t slen = strlen(ov->model) + (ov->namespace_ ? strlen(ov->namespace_) : 0) + 64;
    if (!(ov->source = malloc(slen)))
        return no_memory(why, why_len);
    if (ov->namespace_)
        fmt(ov->source, slen, "config override %s/%s", ov->namespace_, ov->model);
    else
        fmt(ov->source, slen, "config override %s (any namespace)", ov->model);
    ov->layer = (struct meta_layer){ov->source, &ov->decision};
    return ERR_OK;
}

static enum err_code parse_override(const cJSON *obj, const char *path, struct config_override *ov,
                                    char *why, size_t why_len)
{
    struct layer_ctx lc = {true, &ov->decision, NULL, NULL, NULL};
    uint32_t seen = 0;

    if (!cJSON_IsObject(obj))
        return wrong_type(path, "an object", obj, why, why_len);
    for (const cJSON *m = obj->child; m; m = m->next) {
        enum err_code rc = layer_member(m, path, &lc, &seen, why, why_len);
        if (rc)
            return rc;
    }
    return override_selector(ov, &lc, path, why, why_len);
}

static int cmp_override(const void *a, const void *b)
{
    const struct config_override *x = *(const struct config_override *const *)a;
    const struct config_override *y = *(const struct config_override *const *)b;
    int c = strcmp(x->model, y->model);
    if (c)
        return c;
    c = strcmp(x->namespace_ ? x->namespace_ : "", y->namespace_ ? y->namespace_ : "");
    if (c)
        return c;
    return x < y ? -1 : x > y; /* file order: the first of a duplicate pair sorts first */
}

/* Sort c->by_model; refuse a repeated (namespace, model), naming the first
 * repeat in file order and the override it repeats. */
static enum err_code index_overrides(struct config *c, char *why, size_t why_len)
{
    char label[PATH_LEN];

    if (!c->n_overrides)
        return ERR_OK;
    c->by_model = calloc(c->n_overrides, sizeof *c->by_model);
    if (!c->by_model)
        return no_memory(why, why_len);
    for (size_t i = 0; i < c->n_overrides; i++)
        c->by_model[i] = &c->overrides[i];
    qsort(c->by_model, c->n_overrides, sizeof *c->by_model, cmp_override);
    const struct config_override *first = NULL, *repeat = NULL;
    for (size_t i = 1; i < c->n_overrides; i++) {
        const struct config_override *a = c->by_model[i - 1], *b = c->by_model[i];
        bool same =
            strcmp(a->model, b->model) == 0 &&
            strcmp(a->namespace_ ? a->namespace_ : "", b->namespace_ ? b->namespace_ : "") == 0;
        if (same && (!repeat || b < repeat)) {
            first = a;
            repeat = b;
        }
    }
    if (repeat) {
        override_label(label, sizeof label, repeat);
        return fail(why, why_len, "overrides[%zu] (%s): same namespace and model as overrides[%zu]",
                    (size_t)(repeat - c->overrides), label, (size_t)(first - c->overrides));
    }
    return ERR_OK;
}

static enum err_code parse_overrides(const cJSON *arr, struct config *c, char *why, size_t why_len)
{
    char p[PATH_LEN];

    if (!cJSON_IsArray(arr))
        return wrong_type("overrides", "an array", arr, why, why_len);
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (!n)
        return ERR_OK;
    c->overrides = calloc(n, sizeof *c->overrides);
    if (!c->overrides)
        return no_memory(why, why_len);
    c->n_overrides = n;
    size_t i = 0;
    for (const cJSON *m = arr->child; m && i < n; m = m->next, i++) {
        path_index(p, sizeof p, "overrides", i);
        enum err_code rc = parse_override(m, p, &c->overrides[i], why, why_len);
        if (rc)
            return rc;
    }
    return ERR_OK;
}

static const struct config_override *find_override(const struct config *c, const char *model,
                                                   const char *namespace_);

/* Cross-key rules: the defaults alone, then each override on top (on the
 * model's any-namespace override too, for a namespaced one). */
static enum err_code resolve_layers(struct config *c, char *why, size_t why_len)
{
    char mwhy[META_WHY_LEN], label[PATH_LEN];
    struct meta_resolved r;
    enum err_code rc;

    c->defaults_layer = (struct meta_layer){SOURCE_DEFAULTS, &c->defaults};
    rc = meta_resolve(&c->defaults_layer, 1, &c->resolved, mwhy, sizeof mwhy);
    if (rc) {
        fmt(why, why_len, "defaults: %s", mwhy);
        return rc;
    }
    for (size_t i = 0; i < c->n_overrides; i++) {
        /* As config_select_layers() stacks them at run time: a namespaced
         * override sits on the model's any-namespace override, if any. */
        const struct config_override *any =
            c->overrides[i].namespace_ ? find_override(c, c->overrides[i].model, NULL) : NULL;
        struct meta_layer layers[3];
        size_t nl = 0;
        layers[nl++] = c->overrides[i].layer;
        if (any)
            layers[nl++] = any->layer;
        layers[nl++] = c->defaults_layer;
        rc = meta_resolve(layers, nl, &r, mwhy, sizeof mwhy);
        if (rc) {
            override_label(label, sizeof label, &c->overrides[i]);
            fmt(why, why_len, "overrides[%zu] (%s): %s", i, label, mwhy);
            return rc;
        }
    }
    return ERR_OK;
}

/* ---- the document --------------------------------------------------------------- */

enum top_key { TK_PROMETHEUS, TK_DEFAULTS, TK_OVERRIDES, TK_COUNT };
static const char *const s_top_keys[TK_COUNT] = {"prometheus", "defaults", "overrides"};

static enum err_code parse_root(const cJSON *root, struct config *c, char *why, size_t why_len)
{
    char p[PATH_LEN];
    unsigned seen = 0;
    enum err_code rc = ERR_OK;

    if (!cJSON_IsObject(root))
        return fail(why, why_len, "the configuration must be a JSON object, not %s",
                    type_name(root));
    for (const cJSON *m = root->child; m; m = m->next) {
        path_key(p, sizeof p, "", m->string);
        int k = key_index(m->string, s_top_keys, TK_COUNT);
        if (k < 0)
            return unknown_key(p, m->string, s_top_keys, TK_COUNT, why, why_len);
        if (seen & (1u << k))
            return fail(why, why_len, "%s: duplicate key", p);
        seen |= 1u << k;
        switch ((enum top_key)k) {
        case TK_PROMETHEUS:
            rc = parse_prometheus(m, c, why, why_len);
            break;
        case TK_DEFAULTS:
            rc = parse_defaults(m, c, why, why_len);
            break;
        case TK_OVERRIDES:
            rc = parse_overrides(m, c, why, why_len);
            break;
        case TK_COUNT:
            break;
        }
        if (rc)
            return rc;
    }
    rc = index_overrides(c, why, why_len);
    if (rc)
        return rc;
    return resolve_layers(c, why, why_len);
}

static bool json_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

enum err_code config_parse(const char *json, size_t len, struct config **out, char *why,
                           size_t why_len)
{
    const char *end = NULL;

    if (why && why_len)
        why[0] = '\0';
    if (out)
        *out = NULL;
    if (!out || (!json && len)) {
        fmt(why, why_len, "config_parse: NULL argument");
        return ERR_INTERNAL;
    }
    if (!json)
        json = "";
    /* A NUL byte would silently cut the strings cJSON hands out. */
    const char *nul = memchr(json, '\0', len);
    if (nul)
        return fail(why, why_len, "invalid JSON near byte %zu: NUL byte", (size_t)(nul - json));

    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t at = (end && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        return fail(why, why_len, "invalid JSON near byte %zu", at);
    }
    while (end < json + len && json_space(*end))
        end++;
    if (end != json + len) {
        cJSON_Delete(root);
        return fail(why, why_len, "invalid JSON near byte %zu: data after the top-level value",
                    (size_t)(end - json));
    }

    struct config *c = calloc(1, sizeof *c);
    if (!c) {
        cJSON_Delete(root);
        return no_memory(why, why_len);
    }
    enum err_code rc = parse_root(root, c, why, why_len);
    cJSON_Delete(root);
    if (rc) {
        config_free(c);
        return rc;
    }
    *out = c;
    return ERR_OK;
}

/* ---- files ---------------------------------------------------------------------- */

/* The whole file into a malloc'd buffer; ERR_IO / ERR_INVALID (too big)
 * with the problem (no path) in why. */
static enum err_code read_file(const char *path, char **buf_out, size_t *len_out, char *why,
                               size_t why_len)
{
    struct stat st;
    size_t cap = 64 * 1024, len = 0;
    char *buf = NULL;
    enum err_code rc = ERR_OK;

    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        fmt(why, why_len, "%s", strerror(errno));
        return ERR_IO;
    }
    if (fstat(fd, &st) != 0) {
        fmt(why, why_len, "%s", strerror(errno));
        close(fd);
        return ERR_IO;
    }
    if (S_ISDIR(st.st_mode)) {
        fmt(why, why_len, "is a directory");
        close(fd);
        return ERR_IO;
    }
    for (;;) {
        if (!buf || len == cap) {
            size_t ncap = buf ? cap * 2 : cap;
            if (ncap > (size_t)CONFIG_MAX_FILE_BYTES + 1)
                ncap = (size_t)CONFIG_MAX_FILE_BYTES + 1;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                rc = no_memory(why, why_len);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            fmt(why, why_len, "%s", strerror(errno));
            rc = ERR_IO;
            break;
        }
        if (got == 0)
            break;
        len += (size_t)got;
        if (len > CONFIG_MAX_FILE_BYTES) {
            rc = fail(why, why_len, "larger than %u bytes", CONFIG_MAX_FILE_BYTES);
            break;
        }
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    *buf_out = buf;
    *len_out = len;
    return ERR_OK;
}

enum err_code config_load_file(const char *path, struct config **out, char *why, size_t why_len)
{
    char inner[CONFIG_WHY_LEN];
    char *buf = NULL;
    size_t len = 0;

    if (why && why_len)
        why[0] = '\0';
    if (out)
        *out = NULL;
    if (!path || !out) {
        fmt(why, why_len, "config_load_file: NULL argument");
        return ERR_INTERNAL;
    }
    inner[0] = '\0';
    enum err_code rc = read_file(path, &buf, &len, inner, sizeof inner);
    if (!rc) {
        rc = config_parse(buf, len, out, inner, sizeof inner);
        free(buf);
    }
    if (rc)
        fmt(why, why_len, "%s: %s", path, inner);
    return rc;
}

static enum err_code check_one_file(const char *ep_path, const char *key, const char *file,
                                    char *why, size_t why_len)
{
    struct stat st;
    char p[PATH_LEN];
    const char *problem = NULL;

    if (!file)
        return ERR_OK;
    /* O_NONBLOCK: a FIFO must not hang start-up. */
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        problem = strerror(errno);
    else if (fstat(fd, &st) != 0)
        problem = strerror(errno);
    else if (S_ISDIR(st.st_mode))
        problem = "is a directory";
    if (fd >= 0)
        close(fd);
    if (!problem)
        return ERR_OK;
    path_key(p, sizeof p, ep_path, key);
    fmt(why, why_len, "%s: %s: %s", p, file, problem);
    return ERR_IO;
}

enum err_code config_check_files(const struct config *c, char *why, size_t why_len)
{
    char p[PATH_LEN];
    enum err_code rc;

    if (why && why_len)
        why[0] = '\0';
    if (!c)
        return ERR_OK;
    for (size_t i = 0; i < c->n_endpoints; i++) {
        const struct config_endpoint *ep = &c->endpoints[i];
        const struct {
            const char *key;
            const char *file;
        } files[] = {
            {"bearerTokenFile", ep->bearer_token_file},
            {"basicAuth.passwordFile", ep->basic_password_file},
            {"caFile", ep->ca_file},
            {"certFile", ep->cert_file},
            {"keyFile", ep->key_file},
        };
        path_key(p, sizeof p, "prometheus", ep->name);
        for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
            rc = check_one_file(p, files[f].key, files[f].file, why, why_len);
            if (rc)
                return rc;
        }
    }
    return ERR_OK;
}

/* ---- lookups -------------------------------------------------------------------- */

enum err_code config_set_default_url(struct config *c, const char *url, char *why, size_t why_len)
{
    char problem[META_QUOTE_LEN + 128];

    if (why && why_len)
        why[0] = '\0';
    if (!c) {
        fmt(why, why_len, "config_set_default_url: NULL config");
        return ERR_INTERNAL;
    }
    if (!check_url(url ? url : "", problem, sizeof problem))
        return fail(why, why_len, "--prometheus-url: %s", problem);
    char *copy = dup_str(url);
    if (!copy)
        return no_memory(why, why_len);
    struct config_endpoint *ep = NULL;
    for (size_t i = 0; i < c->n_endpoints && !ep; i++)
        if (strcmp(c->endpoints[i].name, CONFIG_DEFAULT_ENDPOINT) == 0)
            ep = &c->endpoints[i];
    if (ep) {
        free(ep->url);
        ep->url = copy;
        return ERR_OK;
    }
    char *name = dup_str(CONFIG_DEFAULT_ENDPOINT);
    struct config_endpoint *grown =
        name ? realloc(c->endpoints, (c->n_endpoints + 1) * sizeof *c->endpoints) : NULL;
    if (!grown) {
        free(name);
        free(copy);
        return no_memory(why, why_len);
    }
    c->endpoints = grown;
    ep = &c->endpoints[c->n_endpoints++];
    memset(ep, 0, sizeof *ep);
    ep->name = name;
    ep->url = copy;
    ep->timeout_ms = CONFIG_DEFAULT_TIMEOUT_MS;
    return ERR_OK;
}

const struct config_endpoint *config_endpoint(const struct config *c, const char *name)
{
    if (!c)
        return NULL;
    if (!name)
        name = CONFIG_DEFAULT_ENDPOINT;
    /* A handful of endpoints: a scan beats an index. */
    for (size_t i = 0; i < c->n_endpoints; i++)
        if (strcmp(c->endpoints[i].name, name) == 0)
            return &c->endpoints[i];
    return NULL;
}

/* The override for exactly (model, ns) (ns NULL: the model-only one). */
static const struct config_override *find_override(const struct config *c, const char *model,
                                                   const char *ns)
{
    size_t lo = 0, hi = c->n_overrides;
    const char *want_ns = ns ? ns : "";
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct config_override *o = c->by_model[mid];
        int cmp = strcmp(model, o->model);
        if (!cmp)
            cmp = strcmp(want_ns, o->namespace_ ? o->namespace_ : "");
        if (!cmp)
            return o;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t config_select_layers(void *arg, const char *namespace_, const char *model_id,
                            struct meta_layer *out, size_t cap)
{
    const struct config *c = arg;
    size_t n = 0;

    if (!c || !model_id || !out || !c->n_overrides)
        return 0;
    /* "" never names an override's namespace (a valid label is non-empty),
     * so it must not fall through to the model-only entry by accident. */
    const struct config_override *exact =
        namespace_ && namespace_[0] ? find_override(c, model_id, namespace_) : NULL;
    const struct config_override *any = find_override(c, model_id, NULL);
    if (exact && n < cap)
        out[n++] = exact->layer;
    if (any && n < cap)
        out[n++] = any->layer;
    return n;
}

const struct meta_layer *config_default_layers(const struct config *c, size_t *n)
{
    if (!c) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = 1;
    return &c->defaults_layer;
}

/* ---- freeing -------------------------------------------------------------------- */

static void free_strings(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_endpoints; i++) {
        struct config_endpoint *ep = &c->endpoints[i];
        free(ep->name);
        free(ep->url);
        free(ep->bearer_token_file);
        free(ep->basic_username);
        free(ep->basic_password_file);
        free(ep->ca_file);
        free(ep->cert_file);
        free(ep->key_file);
        free_strings(ep->header_names, ep->n_headers);
        free_strings(ep->header_values, ep->n_headers);
        free_strings(ep->query_param_names, ep->n_query_params);
        free_strings(ep->query_param_values, ep->n_query_params);
    }
    free(c->endpoints);
    for (size_t i = 0; i < c->n_overrides; i++) {
        free(c->overrides[i].namespace_);
        free(c->overrides[i].model);
        free(c->overrides[i].source);
    }
    free(c->overrides);
    free(c->by_model);
    free(c->activation_query);
    free(c);
}
