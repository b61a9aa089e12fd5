/*
 * health: the message-level half of the gRPC health service
 * (grpc.health.v1.Health Check and Watch): decode a HealthCheckRequest,
 * encode a HealthCheckResponse. Which status to report, and when Watch sends
 * a new one, is the rpc server's business.
 *
 * Pure: no I/O, no logging, no gRPC calls.
 *
 * Ownership: every buffer or string handed out is malloc'd and belongs to
 * the caller, who releases it with free().
 *
 * Threading: no state; any thread, concurrently.
 */
#ifndef SAT_HEALTH_H
#define SAT_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

/* HealthCheckResponse.ServingStatus; the values are the wire values. */
enum health_status {
    HEALTH_UNKNOWN = 0,
    HEALTH_SERVING = 1,
    HEALTH_NOT_SERVING = 2,
    HEALTH_SERVICE_UNKNOWN = 3 /* Watch only */
};

/* Decode a serialized HealthCheckRequest. On ERR_OK *service is a malloc'd
 * copy of its service field ("" when absent: the server as a whole).
 * *service is cleared on entry and set only on success.
 * Errors: ERR_INVALID (bytes do not parse, NULL arguments), ERR_NOMEM. */
SAT_WUR enum err_code health_parse_request(const uint8_t *buf, size_t len, char **service);

/* Encode a HealthCheckResponse carrying st. On ERR_OK *out is a malloc'd
 * buffer of *out_len bytes (0 for HEALTH_UNKNOWN, proto3's default; *out is
 * still a valid pointer to free). *out and *out_len are cleared on entry and
 * set only on success.
 * Errors: ERR_INVALID (st not one of the four values, NULL arguments),
 * ERR_NOMEM. */
SAT_WUR enum err_code health_encode_response(enum health_status st, uint8_t **out, size_t *out_len);

#endif
