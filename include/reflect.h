/*
 * reflect: the message-level half of gRPC server reflection
 * (grpc.reflection.v1 and grpc.reflection.v1alpha ServerReflectionInfo).
 *
 * The answers come from a FileDescriptorSet built at build time (protoc
 * --include_imports --descriptor_set_out, see cmake/generated.cmake) and
 * embedded in the binary: externalscaler.proto, grpc/health/v1/health.proto
 * and both reflection.proto files. reflect_init indexes it once (files by
 * name, every symbol by fully-qualified name, each file's transitive
 * dependencies, the service list); reflect_answer turns one serialized
 * ServerReflectionRequest into one serialized ServerReflectionResponse.
 * The caller (the rpc server) owns the stream: it reads each request
 * message, calls reflect_answer, sends what comes back, and ends the call
 * with INVALID_ARGUMENT when reflect_answer returns ERR_INVALID.
 *
 * Pure: no I/O, no logging, no gRPC calls.
 *
 * Ownership: struct reflect is owned by whoever called reflect_init and
 * released with reflect_free. A response buffer belongs to the caller of
 * reflect_answer, who releases it with free().
 *
 * Threading: reflect_init/reflect_free on one thread. Between them the
 * struct reflect is immutable, so reflect_answer may run on any number of
 * threads at once on the same struct reflect without locking.
 */
#ifndef SAT_REFLECT_H
#define SAT_REFLECT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

struct reflect;

/* gRPC status code carried in ErrorResponse.error_code for an unknown file,
 * symbol, type or extension. */
#define REFLECT_NOT_FOUND 5
/* ErrorResponse.error_code for a request with no message_request set (what
 * the C++ server answers). */
#define REFLECT_UNIMPLEMENTED 12

/* Index the embedded descriptor set. *out is cleared on entry and set only
 * on success. ERR_NOMEM, or ERR_INTERNAL if the embedded set is malformed
 * (a build bug). */
SAT_WUR enum err_code reflect_init(struct reflect **out);

/* Index a caller-supplied serialized FileDescriptorSet (copied; the caller
 * keeps set). reflect_init is this over the embedded set; tests use it with
 * sets of their own. ERR_INVALID if the set does not parse, a file has no
 * name, two files share a name or two declarations share a symbol;
 * ERR_NOMEM. *out is cleared on entry and set only on success. */
SAT_WUR enum err_code reflect_init_from_set(const uint8_t *set, size_t set_len,
                                            struct reflect **out);

/* Release r and everything it holds. NULL is a no-op. */
void reflect_free(struct reflect *r);

/* Answer one ServerReflectionRequest (req, req_len bytes; version 1 for
 * grpc.reflection.v1, 0 for v1alpha: the two are identical on the wire).
 * On ERR_OK *resp is a malloc'd serialized ServerReflectionResponse of
 * *resp_len bytes, freed by the caller with free(); valid_host and
 * original_request echo the request. Unknown names are answered with an
 * ErrorResponse (REFLECT_NOT_FOUND), not with an error code. *resp and
 * *resp_len are cleared on entry and set only on success.
 *
 * Errors: ERR_INVALID when req does not parse as a ServerReflectionRequest
 * or an argument is bad (r NULL, version not 0/1); ERR_NOMEM. */
SAT_WUR enum err_code reflect_answer(const struct reflect *r, int version, const uint8_t *req,
                                     size_t req_len, uint8_t **resp, size_t *resp_len);

#endif
