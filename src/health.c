/*
 * health: HealthCheckRequest decoding and HealthCheckResponse encoding with
 * the protobuf-c code generated from grpc/health/v1/health.proto (build
 * tree, see cmake/generated.cmake). See include/health.h for the contract.
 *
 * Pure and stateless: every call works on its own arguments, so any thread
 * may call at any time. Buffers handed out are malloc'd for the caller.
 */
#include "health.h"

#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"

enum err_code health_parse_request(const uint8_t *buf, size_t len, char **service)
{
    static const uint8_t empty[1];

    if (service)
        *service = NULL;
    if (!service || (!buf && len))
        return ERR_INVALID;
    /* protobuf-c reports allocation failure and bad input alike (NULL). */
    Grpc__Health__V1__HealthCheckRequest *q =
        grpc__health__v1__health_check_request__unpack(NULL, len, buf ? buf : empty);
    if (!q)
        return ERR_INVALID;
    char *s = strdup(q->service ? q->service : "");
    grpc__health__v1__health_check_request__free_unpacked(q, NULL);
    if (!s)
        return ERR_NOMEM;
    *service = s;
    return ERR_OK;
}

enum err_code health_encode_response(enum health_status st, uint8_t **out, size_t *out_len)
{
    if (out)
        *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!out || !out_len)
        return ERR_INVALID;
    switch (st) {
    case HEALTH_UNKNOWN:
    case HEALTH_SERVING:
    case HEALTH_NOT_SERVING:
    case HEALTH_SERVICE_UNKNOWN:
        break;
    default:
        return ERR_INVALID;
    }

    Grpc__Health__V1__HealthCheckResponse a;
    grpc__health__v1__health_check_response__init(&a);
    a.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
    size_t n = grpc__health__v1__health_check_response__get_packed_size(&a);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return ERR_NOMEM;
    if (grpc__health__v1__health_check_response__pack(&a, buf) != n) {
        free(buf);
        return ERR_INTERNAL;
    }
    *out = buf;
    *out_len = n;
    return ERR_OK;
}
