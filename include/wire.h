/*
 * wire: checks on the raw bytes of a KEDA request before it is unpacked.
 *
 * protobuf-c hands strings over NUL-terminated, so a value with an
 * embedded NUL ("0.8\0junk") would be read silently cut at the NUL; and
 * proto3 strings must be UTF-8, which protobuf-c does not check, while
 * those strings end up in JSON logs and /debug/decision. This walks the
 * wire format of ScaledObjectRef and GetMetricsRequest (field numbers as
 * in proto/externalscaler.proto) and refuses any string with a NUL byte or
 * invalid UTF-8, naming the field (and the metadata key).
 *
 * Pure; any thread.
 */
#ifndef SAT_WIRE_H
#define SAT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

/* ERR_INVALID with why naming the field; ERR_OK otherwise (malformed
 * framing is left to the unpacker, which reports it). */
SAT_WUR enum err_code wire_check_ref(const uint8_t *buf, size_t len, char *why, size_t why_len);
SAT_WUR enum err_code wire_check_get_metrics(const uint8_t *buf, size_t len, char *why,
                                             size_t why_len);


#endif
