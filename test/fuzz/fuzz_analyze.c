/*
 * fuzz_analyze: the `saturation-scaler analyze` document (analyze_run) on
 * arbitrary bytes: JSON in, the decision rendered as JSON out.
 *
 * The document comes from a user's file or a pipe, so a bad one must be
 * refused with a message, never crash. It is also the widest path into the
 * sat engine (sat_analyze, sat_targets) with numbers the caller picks:
 * tolerances, costs, replica states and thresholds at their bounds. The
 * input is the document as is (not NUL-terminated).
 *
 * Checked besides the sanitizers: a success hands out a NUL-terminated
 * document that starts with '{', a failure leaves *out_json NULL and a
 * one-line message without control bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    char *out = NULL;
    enum err_code rc;

    rc = analyze_run(size ? (const char *)data : "", size, &out, why, sizeof(why));
    if (rc == ERR_OK) {
        if (!out || out[0] != '{')
            fuzz_fail("analyze_run", "success without a JSON object");
        fuzz_touch(out);
    } else {
        if (out)
            fuzz_fail("analyze_run", "failure with an output");
        fuzz_check_why_text(why, sizeof(why), "analyze_run");
    }
    free(out);
    return 0;
}
