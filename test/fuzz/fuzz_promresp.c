/*
 * fuzz_promresp: the Prometheus instant-query answer parser
 * (promresp_parse) on arbitrary bodies and HTTP statuses.
 *
 * The body comes from whoever answers on the Prometheus URL (a proxy, a
 * misconfigured Thanos, an attacker on the path), so every byte is
 * hostile. Input layout, readable so the seeds are plain text:
 *
 *   "<status> [<max_len> [<why_len>]]\n<body>"
 *
 * A first line of at most 32 bytes holding one to three decimal numbers
 * sets the HTTP status (any int, so 0, 1xx and 999 are tried too), the
 * body limit (0 = the default) and the size of the why buffer (default
 * PROMRESP_WHY_LEN; 0 passes a NULL buffer). Without such a line the
 * whole input is the body of an HTTP 200 answer. The why buffer is heap
 * allocated at exactly why_len bytes and the body is passed without a
 * NUL terminator, so ASan sees any write or read past either.
 *
 * On success every sample and warning is read (strlen of each label, the
 * values through promresp_value) before promresp_free; on failure the
 * message must be NUL-terminated printable ASCII and *out NULL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "promresp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse up to three unsigned decimal numbers separated by single spaces
 * from the first line; returns how many, or 0 when the line is not that. */
static int header_numbers(const uint8_t *data, size_t size, unsigned long v[3], size_t *skip)
{
    size_t i = 0;
    int n = 0;

    while (n < 3) {
        unsigned long x = 0;
        size_t start = i;
        while (i < size && i < 32 && data[i] >= '0' && data[i] <= '9') {
            x = x * 10 + (unsigned long)(data[i] - '0');
            if (x > 100000000ul)
                return 0;
            i++;
        }
        if (i == start)
            return 0;
        v[n++] = x;
        if (i < size && data[i] == ' ') {
            i++;
            continue;
        }
        break;
    }
    if (i >= size || data[i] != '\n')
        return 0;
    *skip = i + 1;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned long v[3] = {200, 0, PROMRESP_WHY_LEN};
    size_t skip = 0, i;
    struct promresp *r = (struct promresp *)data; /* must be overwritten */
    char *why = NULL;
    const char *body;
    size_t body_len, why_len;
    enum err_code rc;

    if (header_numbers(data, size, v, &skip) == 0) {
        v[0] = 200;
        v[1] = 0;
        v[2] = PROMRESP_WHY_LEN;
        skip = 0;
    }
    why_len = v[2] % 4096;
    if (why_len) {
        why = malloc(why_len);
        if (!why)
            return 0;
        memset(why, 'X', why_len);
    }
    body = size > skip ? (const char *)data + skip : NULL;
    body_len = size - skip;

    rc = promresp_parse((int)v[0], body, body_len, v[1], &r, why, why_len);
    if (rc == ERR_OK) {
        if (!r)
            fuzz_fatal("promresp_parse", "ERR_OK without a result");
        if (r->count && !r->samples)
            fuzz_fatal("promresp_parse", "samples NULL with count > 0");
        if (r->type == PROMRESP_SCALAR && r->count != 1)
            fuzz_fail("promresp_parse", "scalar without exactly one sample");
        for (i = 0; i < r->count; i++) {
            const struct promresp_sample *s = &r->samples[i];
            fuzz_touch(s->namespace_);
            fuzz_touch(s->model_name);
            fuzz_touch(s->pod);
            fuzz_touch(s->pod_name);
            fuzz_touch(s->instance);
            fuzz_touch(s->llm_d_ai_variant);
            fuzz_touch(s->target_model_name);
            if (promresp_value(s) != promresp_value(s)) /* NaN must map to 0 */
                fuzz_fail("promresp_value", "NaN");
            if (s->finite && s->value != s->value)
                fuzz_fail("promresp_parse", "NaN marked finite");
        }
        for (i = 0; i < r->warning_count; i++)
            fuzz_touch(r->warnings[i]);
    } else {
        if (r)
            fuzz_fail("promresp_parse", "failure with a result");
        /* The message goes into a gRPC status and a log line: sanitized
         * text only (printable ASCII), whatever the body held. */
        fuzz_check_why(why, why_len, "promresp_parse");
    }
    promresp_free(r);
    free(why);
    return 0;
}
