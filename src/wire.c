/*
 * wire: raw-byte checks of KEDA requests. See include/wire.h.
 */
#include "wire.h"

#include <stdio.h>
#include <string.h>

#include "meta.h"


static bool varint(const uint8_t *b, size_t len, size_t *pos, uint64_t *out)
{
    uint64_t v = 0;
    int shift = 0;
    while (*pos < len && shift < 64) {
        uint8_t c = b[(*pos)++];
        v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *out = v;
            return true;
        }
        shift += 7;
    }
    return false;
}

/* Walk one message; for each length-delimited field call fn(field, data,
 * size). Returns false on broken framing (left to the unpacker). */
typedef enum err_code field_fn(void *arg, uint32_t field, const uint8_t *data, size_t size);

static enum err_code walk(const uint8_t *b, size_t len, field_fn *fn, void *arg)
{
    size_t pos = 0;

    while (pos < len) {
        uint64_t tag, v;
        uint32_t field, type;
        if (!varint(b, len, &pos, &tag))
            return ERR_OK;
        field = (uint32_t)(tag >> 3);
        type = (uint32_t)(tag & 7);
        switch (type) {
        case 0:
            if (!varint(b, len, &pos, &v))
                return ERR_OK;
            break;
        case 1:
            if (len - pos < 8)
                return ERR_OK;
            pos += 8;
            break;
        case 5:
            if (len - pos < 4)
                return ERR_OK;
            pos += 4;
            break;
        case 2: {
            enum err_code rc;
            if (!varint(b, len, &pos, &v) || v > len - pos)
                return ERR_OK;
            rc = fn(arg, field, b + pos, (size_t)v);
            if (rc)
                return rc;
            pos += (size_t)v;
            break;
        }
        default:
            return ERR_OK;
        }
    }
    return ERR_OK;
}

static const char *bad_string(const uint8_t *s, size_t n)
{
    if (memchr(s, 0, n))
        return "contains a NUL byte";
    if (!util_utf8_valid(s, n))
        return "is not valid UTF-8";
    return NULL;
}

struct entry_ctx {
    const uint8_t *key, *value;
    size_t key_len, value_len;
    bool have_key, have_value;
};

static enum err_code entry_field(void *arg, uint32_t field, const uint8_t *d, size_t n)
{
    struct entry_ctx *e = arg;
    if (field == 1) {
        e->key = d;
        e->key_len = n;
        e->have_key = true;
    } else if (field == 2) {
        e->value = d;
        e->value_len = n;
        e->have_value = true;
    }
    return ERR_OK;
}

struct why_ctx {
    char *why;
    size_t why_len;
};

/* A printable, bounded copy of a key for a message. */
static void key_text(const uint8_t *k, size_t n, char *out, size_t out_len)
{
    char raw[65];
    size_t m = n < 64 ? n : 64;
    memcpy(raw, k, m);
    raw[m] = '\0';
    meta_quote(out, out_len, raw);
}

static enum err_code ref_field(void *arg, uint32_t field, const uint8_t *d, size_t n)
{
    struct why_ctx *w = arg;
    const char *bad;

    if (field == 1 || field == 2) {
        if ((bad = bad_string(d, n)) != NULL) {
            snprintf(w->why, w->why_len, "scaledObjectRef.%s %s",
                     field == 1 ? "name" : "namespace", bad);
            return ERR_INVALID;
        }
    } else if (field == 3) {
        struct entry_ctx e;
        char q[META_QUOTE_LEN];
        memset(&e, 0, sizeof(e));
        walk(d, n, entry_field, &e);
        if (e.have_key && (bad = bad_string(e.key, e.key_len)) != NULL) {
            key_text(e.key, e.key_len, q, sizeof(q));
            snprintf(w->why, w->why_len, "scalerMetadata key %s %s", q, bad);
            return ERR_INVALID;
        }
        if (e.have_value && (bad = bad_string(e.value, e.value_len)) != NULL) {
            key_text(e.key ? e.key : (const uint8_t *)"", e.key_len, q, sizeof(q));
            snprintf(w->why, w->why_len, "%s: the value %s", q, bad);
            return ERR_INVALID;
        }
    }
    return ERR_OK;
}

enum err_code wire_check_ref(const uint8_t *buf, size_t len, char *why, size_t why_len)
{
    struct why_ctx w = {why, why_len};
    return walk(buf, len, ref_field, &w);
}

static enum err_code gm_field(void *arg, uint32_t field, const uint8_t *d, size_t n)
{
    struct why_ctx *w = arg;
    const char *bad;

    if (field == 1)
        return walk(d, n, ref_field, w);
    if (field == 2 && (bad = bad_string(d, n)) != NULL) {
        snprintf(w->why, w->why_len, "metricName %s", bad);
        return ERR_INVALID;
    }
    return ERR_OK;
}

enum err_code wire_check_get_metrics(const uint8_t *buf, size_t len, char *why, size_t why_len)
{
    struct why_ctx w = {why, why_len};
    return walk(buf, len, gm_field, &w);
}
