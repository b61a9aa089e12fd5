/*
 * Unit tests for reflect: server reflection answers over the embedded
 * descriptor set and over small hand-built sets (transitive dependencies,
 * extensions, malformed sets). Requests are built and responses decoded with
 * the protobuf-c code generated from reflection.proto (v1 and v1alpha), so
 * the wire format is checked, not our own structs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "grpc/reflection/v1alpha/reflection.pb-c.h"
#include "reflect.h"
#include "reflect_descriptor_set.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

#define HOST "localhost:6000"
#define F_ES "externalscaler.proto"
#define F_HEALTH "grpc/health/v1/health.proto"
#define F_V1 "grpc/reflection/v1/reflection.proto"
#define F_V1A "grpc/reflection/v1alpha/reflection.proto"

#define REQ(x) GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_##x
#define RESP(x) GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_##x

/* ---- helpers ------------------------------------------------------------- */

static int setup(void **state)
{
    struct reflect *r = NULL;
    if (reflect_init(&r) != ERR_OK)
        return -1;
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    reflect_free(*state);
    return 0;
}

static uint8_t *pack_v1(const Grpc__Reflection__V1__ServerReflectionRequest *q, size_t *len)
{
    *len = grpc__reflection__v1__server_reflection_request__get_packed_size(q);
    uint8_t *buf = malloc(*len ? *len : 1);
    assert_non_null(buf);
    assert_int_equal(grpc__reflection__v1__server_reflection_request__pack(q, buf), *len);
    return buf;
}

/* Ask r over v1, decode the answer and check the echo of host and request.
 * The caller frees the result with ..._free_unpacked. */
static Grpc__Reflection__V1__ServerReflectionResponse *
ask(const struct reflect *r, const Grpc__Reflection__V1__ServerReflectionRequest *q)
{
    size_t qlen, resp_len = 0, elen;
    uint8_t *qbuf = pack_v1(q, &qlen), *resp = NULL;
    assert_int_equal(reflect_answer(r, 1, qbuf, qlen, &resp, &resp_len), ERR_OK);
    assert_non_null(resp);
    Grpc__Reflection__V1__ServerReflectionResponse *a =
        grpc__reflection__v1__server_reflection_response__unpack(NULL, resp_len, resp);
    assert_non_null(a);
    assert_string_equal(a->valid_host, q->host);
    assert_non_null(a->original_request);
    uint8_t *echo = pack_v1(a->original_request, &elen);
    assert_int_equal(elen, qlen);
    assert_memory_equal(echo, qbuf, qlen);
    free(echo);
    free(resp);
    free(qbuf);
    return a;
}

static Grpc__Reflection__V1__ServerReflectionResponse *ask_str(const struct reflect *r, int which,
                                                               const char *arg)
{
    Grpc__Reflection__V1__ServerReflectionRequest q;
    grpc__reflection__v1__server_reflection_request__init(&q);
    q.host = (char *)HOST;
    q.message_request_case = which;
    switch (which) {
    case REQ(FILE_BY_FILENAME):
        q.file_by_filename = (char *)arg;
        break;
    case REQ(FILE_CONTAINING_SYMBOL):
        q.file_containing_symbol = (char *)arg;
        break;
    case REQ(ALL_EXTENSION_NUMBERS_OF_TYPE):
        q.all_extension_numbers_of_type = (char *)arg;
        break;
    case REQ(LIST_SERVICES):
        q.list_services = (char *)arg;
        break;
    default:
        fail_msg("bad request kind %d", which);
    }
    return ask(r, &q);
}

static Grpc__Reflection__V1__ServerReflectionResponse *ask_extension(const struct reflect *r,
                                                                     const char *type, int32_t n)
{
    Grpc__Reflection__V1__ServerReflectionRequest q;
    Grpc__Reflection__V1__ExtensionRequest e;
    grpc__reflection__v1__server_reflection_request__init(&q);
    grpc__reflection__v1__extension_request__init(&e);
    e.containing_type = (char *)type;
    e.extension_number = n;
    q.host = (char *)HOST;
    q.message_request_case = REQ(FILE_CONTAINING_EXTENSION);
    q.file_containing_extension = &e;
    return ask(r, &q);
}

/* The answer carries exactly these files, in this order. With in_set, each
 * must also be a verbatim slice of the embedded set. */
static void expect_files(const Grpc__Reflection__V1__ServerReflectionResponse *a,
                         const char *const *names, size_t n, int in_set)
{
    assert_int_equal(a->message_response_case, RESP(FILE_DESCRIPTOR_RESPONSE));
    assert_non_null(a->file_descriptor_response);
    assert_int_equal(a->file_descriptor_response->n_file_descriptor_proto, n);
    for (size_t i = 0; i < n; i++) {
        const ProtobufCBinaryData *b = &a->file_descriptor_response->file_descriptor_proto[i];
        Google__Protobuf__FileDescriptorProto *f =
            google__protobuf__file_descriptor_proto__unpack(NULL, b->len, b->data);
        assert_non_null(f);
        assert_string_equal(f->name, names[i]);
        google__protobuf__file_descriptor_proto__free_unpacked(f, NULL);
        if (in_set)
            assert_non_null(
                memmem(reflect_descriptor_set, reflect_descriptor_set_len, b->data, b->len));
    }
}

static void expect_error(const Grpc__Reflection__V1__ServerReflectionResponse *a, int code,
                         const char *needle)
{
    assert_int_equal(a->message_response_case, RESP(ERROR_RESPONSE));
    assert_non_null(a->error_response);
    assert_int_equal(a->error_response->error_code, code);
    assert_non_null(strstr(a->error_response->error_message, needle));
}

static void drop(Grpc__Reflection__V1__ServerReflectionResponse *a)
{
    grpc__reflection__v1__server_reflection_response__free_unpacked(a, NULL);
}

/* ---- the embedded set ---------------------------------------------------- */

static const char *const embedded_services[] = {
    "externalscaler.ExternalScaler",
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
};

static void test_list_services(void **state)
{
    Grpc__Reflection__V1__ServerReflectionResponse *a = ask_str(*state, REQ(LIST_SERVICES), "*");
    assert_int_equal(a->message_response_case, RESP(LIST_SERVICES_RESPONSE));
    const Grpc__Reflection__V1__ListServiceResponse *l = a->list_services_response;
    assert_int_equal(l->n_service, N_OF(embedded_services));
    for (size_t i = 0; i < N_OF(embedded_services); i++) {
        size_t seen = 0;
        for (size_t k = 0; k < l->n_service; k++)
            seen += !strcmp(l->service[k]->name, embedded_services[i]);
        assert_int_equal(seen, 1);
    }
    drop(a);
}

static void test_file_containing_symbol(void **state)
{
    static const struct {
        const char *symbol;
        const char *file;
    } cases[] = {
        {"externalscaler.ExternalScaler", F_ES},                          /* service */
        {"externalscaler.ExternalScaler.GetMetrics", F_ES},               /* method */
        {"externalscaler.ExternalScaler.StreamIsActive", F_ES},           /* method */
        {"externalscaler.MetricValue", F_ES},                             /* message */
        {"externalscaler.MetricValue.metricValueFloat", F_ES},            /* field */
        {"externalscaler.ScaledObjectRef.ScalerMetadataEntry", F_ES},     /* nested */
        {"externalscaler.ScaledObjectRef.ScalerMetadataEntry.key", F_ES}, /* nested field */
        {"externalscaler", F_ES},                                         /* package */
        {"grpc.health.v1.Health", F_HEALTH},
        {"grpc.health.v1.Health.Watch", F_HEALTH},
        {"grpc.health.v1.HealthCheckRequest", F_HEALTH},
        {"grpc.health.v1.HealthCheckResponse.ServingStatus", F_HEALTH}, /* nested enum */
        {"grpc.health.v1.HealthCheckResponse.SERVING", F_HEALTH},       /* enum value */
        {"grpc.health.v1", F_HEALTH},
        {"grpc", F_HEALTH}, /* parent package: first file that declares it */
        {"grpc.reflection.v1.ServerReflection", F_V1},
        {"grpc.reflection.v1.ServerReflection.ServerReflectionInfo", F_V1},
        {"grpc.reflection.v1.ServerReflectionRequest.message_request", F_V1}, /* oneof */
        {"grpc.reflection.v1.ServerReflectionResponse", F_V1},
        {"grpc.reflection.v1alpha.ServerReflection", F_V1A},
        {"grpc.reflection.v1alpha.ErrorResponse.error_code", F_V1A},
        {"grpc.reflection.v1alpha", F_V1A},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        print_message("%s\n", cases[i].symbol);
        Grpc__Reflection__V1__ServerReflectionResponse *a =
            ask_str(*state, REQ(FILE_CONTAINING_SYMBOL), cases[i].symbol);
        expect_files(a, &cases[i].file, 1, 1); /* none of them imports anything */
        drop(a);
    }
}

static void test_file_by_filename(void **state)
{
    static const char *const files[] = {F_ES, F_HEALTH, F_V1, F_V1A};
    for (size_t i = 0; i < N_OF(files); i++) {
        Grpc__Reflection__V1__ServerReflectionResponse *a =
            ask_str(*state, REQ(FILE_BY_FILENAME), files[i]);
        expect_files(a, &files[i], 1, 1);
        drop(a);
    }
}

static void test_not_found(void **state)
{
    static const struct {
        int which;
        const char *arg;
        const char *needle;
    } cases[] = {
        {REQ(FILE_CONTAINING_SYMBOL), "externalscaler.Nope", "externalscaler.Nope"},
        {REQ(FILE_CONTAINING_SYMBOL), "externalscaler.ExternalScaler.Nope", "ExternalScaler.Nope"},
        {REQ(FILE_CONTAINING_SYMBOL), "ExternalScaler", "ExternalScaler"}, /* not qualified */
        {REQ(FILE_CONTAINING_SYMBOL), ".externalscaler.ExternalScaler", "symbol not found"},
        {REQ(FILE_CONTAINING_SYMBOL), "", "symbol not found"},
        {REQ(FILE_CONTAINING_SYMBOL), "grpc.heal", "symbol not found"}, /* not a component */
        {REQ(FILE_BY_FILENAME), "nope.proto", "nope.proto"},
        {REQ(FILE_BY_FILENAME), "health.proto", "file not found"}, /* needs its directory */
        {REQ(FILE_BY_FILENAME), "", "file not found"},
        {REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "externalscaler.Nope", "externalscaler.Nope"},
        /* a service, an enum and a field are not message types */
        {REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "externalscaler.ExternalScaler", "type not found"},
        {REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "grpc.health.v1.HealthCheckResponse.ServingStatus",
         "type not found"},
        {REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "externalscaler.MetricValue.metricName",
         "type not found"},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        print_message("%d '%s'\n", cases[i].which, cases[i].arg);
        Grpc__Reflection__V1__ServerReflectionResponse *a =
            ask_str(*state, cases[i].which, cases[i].arg);
        expect_error(a, REFLECT_NOT_FOUND, cases[i].needle);
        drop(a);
    }
    Grpc__Reflection__V1__ServerReflectionResponse *a =
        ask_extension(*state, "externalscaler.MetricValue", 100);
    expect_error(a, 5, "externalscaler.MetricValue 100");
    drop(a);
}

static void test_all_extension_numbers(void **state)
{
    static const char *const types[] = {
        "externalscaler.MetricValue",
        "externalscaler.ScaledObjectRef.ScalerMetadataEntry",
        "grpc.reflection.v1.ServerReflectionRequest",
    };
    for (size_t i = 0; i < N_OF(types); i++) {
        Grpc__Reflection__V1__ServerReflectionResponse *a =
            ask_str(*state, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), types[i]);
        assert_int_equal(a->message_response_case, RESP(ALL_EXTENSION_NUMBERS_RESPONSE));
        assert_string_equal(a->all_extension_numbers_response->base_type_name, types[i]);
        assert_int_equal(a->all_extension_numbers_response->n_extension_number, 0);
        drop(a);
    }
}

static void test_no_request(void **state)
{
    /* Host only, no message_request: UNIMPLEMENTED in an ErrorResponse. */
    Grpc__Reflection__V1__ServerReflectionRequest q;
    grpc__reflection__v1__server_reflection_request__init(&q);
    q.host = (char *)HOST;
    Grpc__Reflection__V1__ServerReflectionResponse *a = ask(*state, &q);
    expect_error(a, REFLECT_UNIMPLEMENTED, "not implemented");
    drop(a);

    /* Zero bytes (and a NULL buffer) are a valid empty request too. */
    uint8_t *resp = NULL;
    size_t len = 0;
    assert_int_equal(reflect_answer(*state, 1, NULL, 0, &resp, &len), ERR_OK);
    a = grpc__reflection__v1__server_reflection_response__unpack(NULL, len, resp);
    assert_non_null(a);
    assert_string_equal(a->valid_host, "");
    expect_error(a, REFLECT_UNIMPLEMENTED, "not implemented");
    drop(a);
    free(resp);
}

static void test_invalid(void **state)
{
    static const struct {
        uint8_t bytes[8];
        size_t len;
    } cases[] = {
        {{0xff, 0xff, 0xff}, 3},                   /* truncated varint */
        {{0x22, 0x05, 'a'}, 3},                    /* symbol longer than the buffer */
        {{0x0b}, 1},                               /* group */
        {{0x2a, 0x02, 0x08}, 3},                   /* truncated ExtensionRequest */
        {{0x0a, 0x80}, 2},                         /* truncated length */
        {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 6}, /* junk */
    };
    const struct reflect *r = *state;
    for (size_t i = 0; i < N_OF(cases); i++) {
        uint8_t *resp = (uint8_t *)"stale";
        size_t len = 99;
        print_message("case %zu\n", i);
        assert_int_equal(reflect_answer(r, 1, cases[i].bytes, cases[i].len, &resp, &len),
                         ERR_INVALID);
        assert_null(resp);
        assert_int_equal(len, 0);
        resp = (uint8_t *)"stale";
        assert_int_equal(reflect_answer(r, 0, cases[i].bytes, cases[i].len, &resp, &len),
                         ERR_INVALID);
        assert_null(resp);
    }
    uint8_t *resp = (uint8_t *)"stale";
    size_t len = 99;
    const uint8_t list[] = {0x3a, 0x00}; /* list_services = "" */
    assert_int_equal(reflect_answer(r, 2, list, sizeof list, &resp, &len), ERR_INVALID);
    assert_null(resp);
    assert_int_equal(reflect_answer(NULL, 1, list, sizeof list, &resp, &len), ERR_INVALID);
    assert_int_equal(reflect_answer(r, 1, NULL, 2, &resp, &len), ERR_INVALID);
    assert_int_equal(reflect_answer(r, 1, list, sizeof list, NULL, &len), ERR_INVALID);
    assert_int_equal(reflect_answer(r, 1, list, sizeof list, &resp, NULL), ERR_INVALID);
    assert_null(resp);
}

/* v1alpha: requests and answers built and read with the v1alpha code. */
static Grpc__Reflection__V1alpha__ServerReflectionResponse *
ask_v1alpha(const struct reflect *r, const Grpc__Reflection__V1alpha__ServerReflectionRequest *q,
            uint8_t **raw, size_t *raw_len)
{
    size_t qlen = grpc__reflection__v1alpha__server_reflection_request__get_packed_size(q);
    uint8_t *qbuf = malloc(qlen ? qlen : 1);
    assert_non_null(qbuf);
    assert_int_equal(grpc__reflection__v1alpha__server_reflection_request__pack(q, qbuf), qlen);
    assert_int_equal(reflect_answer(r, 0, qbuf, qlen, raw, raw_len), ERR_OK);
    Grpc__Reflection__V1alpha__ServerReflectionResponse *a =
        grpc__reflection__v1alpha__server_reflection_response__unpack(NULL, *raw_len, *raw);
    assert_non_null(a);
    assert_string_equal(a->valid_host, HOST);
    assert_non_null(a->original_request);
    assert_int_equal(a->original_request->message_request_case, q->message_request_case);

    /* Same bytes in, same bytes out as over v1. */
    uint8_t *v1 = NULL;
    size_t v1_len = 0;
    assert_int_equal(reflect_answer(r, 1, qbuf, qlen, &v1, &v1_len), ERR_OK);
    assert_int_equal(v1_len, *raw_len);
    assert_memory_equal(v1, *raw, v1_len);
    free(v1);
    free(qbuf);
    return a;
}

static void test_v1alpha(void **state)
{
    Grpc__Reflection__V1alpha__ServerReflectionRequest q;
    Grpc__Reflection__V1alpha__ServerReflectionResponse *a;
    uint8_t *raw = NULL;
    size_t raw_len = 0;

    grpc__reflection__v1alpha__server_reflection_request__init(&q);
    q.host = (char *)HOST;
    q.message_request_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES;
    q.list_services = (char *)"";
    a = ask_v1alpha(*state, &q, &raw, &raw_len);
    assert_int_equal(
        a->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE);
    assert_int_equal(a->list_services_response->n_service, N_OF(embedded_services));
    grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
    free(raw);

    grpc__reflection__v1alpha__server_reflection_request__init(&q);
    q.host = (char *)HOST;
    q.message_request_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL;
    q.file_containing_symbol = (char *)"externalscaler.ExternalScaler.GetMetrics";
    a = ask_v1alpha(*state, &q, &raw, &raw_len);
    assert_int_equal(
        a->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE);
    assert_int_equal(a->file_descriptor_response->n_file_descriptor_proto, 1);
    Google__Protobuf__FileDescriptorProto *f = google__protobuf__file_descriptor_proto__unpack(
        NULL, a->file_descriptor_response->file_descriptor_proto[0].len,
        a->file_descriptor_response->file_descriptor_proto[0].data);
    assert_non_null(f);
    assert_string_equal(f->name, F_ES);
    assert_int_equal(f->n_service, 1);
    assert_string_equal(f->service[0]->name, "ExternalScaler");
    google__protobuf__file_descriptor_proto__free_unpacked(f, NULL);
    grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
    free(raw);

    grpc__reflection__v1alpha__server_reflection_request__init(&q);
    q.host = (char *)HOST;
    q.message_request_case =
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME;
    q.file_by_filename = (char *)"nope.proto";
    a = ask_v1alpha(*state, &q, &raw, &raw_len);
    assert_int_equal(
        a->message_response_case,
        GRPC__REFLECTION__V1ALPHA__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE);
    assert_int_equal(a->error_response->error_code, 5);
    grpc__reflection__v1alpha__server_reflection_response__free_unpacked(a, NULL);
    free(raw);
}

/* Many threads, one struct reflect: answers must match the serial ones. */
struct worker {
    const struct reflect *r;
    const uint8_t *req;
    size_t req_len;
    const uint8_t *want;
    size_t want_len;
    int ok;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    w->ok = 1;
    for (int i = 0; i < 500; i++) {
        uint8_t *resp = NULL;
        size_t len = 0;
        if (reflect_answer(w->r, i & 1, w->req, w->req_len, &resp, &len) != ERR_OK ||
            len != w->want_len || memcmp(resp, w->want, len))
            w->ok = 0;
        free(resp);
    }
    return NULL;
}

static void test_threads(void **state)
{
    static const char *const symbols[] = {"externalscaler.ExternalScaler", "grpc.health.v1.Health",
                                          "no.such.Symbol",
                                          "grpc.reflection.v1alpha.ServerReflectionResponse"};
    struct worker w[N_OF(symbols)];
    pthread_t t[N_OF(symbols)];
    uint8_t *reqs[N_OF(symbols)], *wants[N_OF(symbols)];
    for (size_t i = 0; i < N_OF(symbols); i++) {
        Grpc__Reflection__V1__ServerReflectionRequest q;
        grpc__reflection__v1__server_reflection_request__init(&q);
        q.message_request_case = REQ(FILE_CONTAINING_SYMBOL);
        q.file_containing_symbol = (char *)symbols[i];
        w[i].r = *state;
        reqs[i] = pack_v1(&q, &w[i].req_len);
        w[i].req = reqs[i];
        assert_int_equal(
            reflect_answer(*state, 1, reqs[i], w[i].req_len, &wants[i], &w[i].want_len), ERR_OK);
        w[i].want = wants[i];
    }
    for (size_t i = 0; i < N_OF(symbols); i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    for (size_t i = 0; i < N_OF(symbols); i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_true(w[i].ok);
        free(reqs[i]);
        free(wants[i]);
    }
}

/* ---- hand-built sets ----------------------------------------------------- */

/*
 * c.proto: package pc; message C { message Inner {} }
 * b.proto: package pb; import "c.proto"; message B {}
 * a.proto: package pa; import "b.proto"; import "c.proto";
 *          extend pc.C { int32 ext = 100; } message A { extend pc.C { int32 inner = 101; } }
 *          service S { rpc M(pc.C) returns (pc.C); }
 * d.proto: package pc; (shares c.proto's package) message D {}
 */
struct fixture {
    Google__Protobuf__DescriptorProto c_inner, c_msg, b_msg, a_msg, d_msg;
    Google__Protobuf__DescriptorProto *c_nested[1], *c_msgs[1], *b_msgs[1], *a_msgs[1], *d_msgs[1];
    Google__Protobuf__FieldDescriptorProto a_ext, a_inner_ext;
    Google__Protobuf__FieldDescriptorProto *a_exts[1], *a_inner_exts[1];
    Google__Protobuf__MethodDescriptorProto a_method;
    Google__Protobuf__MethodDescriptorProto *a_methods[1];
    Google__Protobuf__ServiceDescriptorProto a_svc;
    Google__Protobuf__ServiceDescriptorProto *a_svcs[1];
    char *b_deps[1], *a_deps[2];
    Google__Protobuf__FileDescriptorProto c, b, a, d;
    Google__Protobuf__FileDescriptorProto *files[4];
    size_t n_files;
};

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    google__protobuf__descriptor_proto__init(&f->c_inner);
    f->c_inner.name = (char *)"Inner";
    f->c_nested[0] = &f->c_inner;
    google__protobuf__descriptor_proto__init(&f->c_msg);
    f->c_msg.name = (char *)"C";
    f->c_msg.n_nested_type = 1;
    f->c_msg.nested_type = f->c_nested;
    f->c_msgs[0] = &f->c_msg;
    google__protobuf__file_descriptor_proto__init(&f->c);
    f->c.name = (char *)"c.proto";
    f->c.package = (char *)"pc";
    f->c.n_message_type = 1;
    f->c.message_type = f->c_msgs;

    google__protobuf__descriptor_proto__init(&f->b_msg);
    f->b_msg.name = (char *)"B";
    f->b_msgs[0] = &f->b_msg;
    f->b_deps[0] = (char *)"c.proto";
    google__protobuf__file_descriptor_proto__init(&f->b);
    f->b.name = (char *)"b.proto";
    f->b.package = (char *)"pb";
    f->b.n_dependency = 1;
    f->b.dependency = f->b_deps;
    f->b.n_message_type = 1;
    f->b.message_type = f->b_msgs;

    google__protobuf__field_descriptor_proto__init(&f->a_ext);
    f->a_ext.name = (char *)"ext";
    f->a_ext.has_number = 1;
    f->a_ext.number = 100;
    f->a_ext.has_label = 1;
    f->a_ext.label = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_OPTIONAL;
    f->a_ext.has_type = 1;
    f->a_ext.type = GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_INT32;
    f->a_ext.extendee = (char *)".pc.C";
    f->a_exts[0] = &f->a_ext;
    f->a_inner_ext = f->a_ext;
    f->a_inner_ext.name = (char *)"inner";
    f->a_inner_ext.number = 101;
    f->a_inner_exts[0] = &f->a_inner_ext;
    google__protobuf__descriptor_proto__init(&f->a_msg);
    f->a_msg.name = (char *)"A";
    f->a_msg.n_extension = 1;
    f->a_msg.extension = f->a_inner_exts;
    f->a_msgs[0] = &f->a_msg;
    google__protobuf__method_descriptor_proto__init(&f->a_method);
    f->a_method.name = (char *)"M";
    f->a_method.input_type = (char *)".pc.C";
    f->a_method.output_type = (char *)".pc.C";
    f->a_methods[0] = &f->a_method;
    google__protobuf__service_descriptor_proto__init(&f->a_svc);
    f->a_svc.name = (char *)"S";
    f->a_svc.n_method = 1;
    f->a_svc.method = f->a_methods;
    f->a_svcs[0] = &f->a_svc;
    f->a_deps[0] = (char *)"b.proto";
    f->a_deps[1] = (char *)"c.proto";
    google__protobuf__file_descriptor_proto__init(&f->a);
    f->a.name = (char *)"a.proto";
    f->a.package = (char *)"pa";
    f->a.n_dependency = 2;
    f->a.dependency = f->a_deps;
    f->a.n_message_type = 1;
    f->a.message_type = f->a_msgs;
    f->a.n_extension = 1;
    f->a.extension = f->a_exts;
    f->a.n_service = 1;
    f->a.service = f->a_svcs;

    google__protobuf__descriptor_proto__init(&f->d_msg);
    f->d_msg.name = (char *)"D";
    f->d_msgs[0] = &f->d_msg;
    google__protobuf__file_descriptor_proto__init(&f->d);
    f->d.name = (char *)"d.proto";
    f->d.package = (char *)"pc";
    f->d.n_message_type = 1;
    f->d.message_type = f->d_msgs;

    /* protoc --include_imports order: dependencies first. */
    f->files[0] = &f->c;
    f->files[1] = &f->b;
    f->files[2] = &f->a;
    f->files[3] = &f->d;
    f->n_files = 4;
}

static enum err_code fixture_reflect(const struct fixture *f, struct reflect **out)
{
    Google__Protobuf__FileDescriptorSet set;
    google__protobuf__file_descriptor_set__init(&set);
    set.n_file = f->n_files;
    set.file = (Google__Protobuf__FileDescriptorProto **)f->files;
    size_t len = google__protobuf__file_descriptor_set__get_packed_size(&set);
    uint8_t *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    assert_int_equal(google__protobuf__file_descriptor_set__pack(&set, buf), len);
    enum err_code rc = reflect_init_from_set(buf, len, out);
    free(buf); /* the set is copied */
    return rc;
}

static void test_dependencies(void **state)
{
    static const struct {
        int which;
        const char *arg;
        const char *files[3];
        size_t n;
    } cases[] = {
        {REQ(FILE_BY_FILENAME), "a.proto", {"a.proto", "b.proto", "c.proto"}, 3},
        {REQ(FILE_BY_FILENAME), "b.proto", {"b.proto", "c.proto"}, 2},
        {REQ(FILE_BY_FILENAME), "c.proto", {"c.proto"}, 1},
        {REQ(FILE_CONTAINING_SYMBOL), "pa.S.M", {"a.proto", "b.proto", "c.proto"}, 3},
        {REQ(FILE_CONTAINING_SYMBOL), "pa.ext", {"a.proto", "b.proto", "c.proto"}, 3},
        {REQ(FILE_CONTAINING_SYMBOL), "pa.A.inner", {"a.proto", "b.proto", "c.proto"}, 3},
        {REQ(FILE_CONTAINING_SYMBOL), "pb.B", {"b.proto", "c.proto"}, 2},
        {REQ(FILE_CONTAINING_SYMBOL), "pc.C.Inner", {"c.proto"}, 1},
        {REQ(FILE_CONTAINING_SYMBOL), "pc", {"c.proto"}, 1}, /* shared package: first file */
        {REQ(FILE_CONTAINING_SYMBOL), "pc.D", {"d.proto"}, 1},
    };
    struct fixture f;
    struct reflect *r = NULL;
    (void)state;
    fixture_init(&f);
    assert_int_equal(fixture_reflect(&f, &r), ERR_OK);
    for (size_t i = 0; i < N_OF(cases); i++) {
        print_message("%s\n", cases[i].arg);
        Grpc__Reflection__V1__ServerReflectionResponse *a =
            ask_str(r, cases[i].which, cases[i].arg);
        expect_files(a, cases[i].files, cases[i].n, 0);
        drop(a);
    }

    Grpc__Reflection__V1__ServerReflectionResponse *a = ask_str(r, REQ(LIST_SERVICES), "");
    assert_int_equal(a->list_services_response->n_service, 1);
    assert_string_equal(a->list_services_response->service[0]->name, "pa.S");
    drop(a);
    reflect_free(r);
}

static void test_extensions(void **state)
{
    struct fixture f;
    struct reflect *r = NULL;
    static const char *const a_closure[] = {"a.proto", "b.proto", "c.proto"};
    (void)state;
    fixture_init(&f);
    assert_int_equal(fixture_reflect(&f, &r), ERR_OK);

    Grpc__Reflection__V1__ServerReflectionResponse *a =
        ask_str(r, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "pc.C");
    assert_int_equal(a->message_response_case, RESP(ALL_EXTENSION_NUMBERS_RESPONSE));
    assert_string_equal(a->all_extension_numbers_response->base_type_name, "pc.C");
    assert_int_equal(a->all_extension_numbers_response->n_extension_number, 2);
    int32_t x = a->all_extension_numbers_response->extension_number[0];
    int32_t y = a->all_extension_numbers_response->extension_number[1];
    assert_true((x == 100 && y == 101) || (x == 101 && y == 100)); /* any order */
    drop(a);

    a = ask_str(r, REQ(ALL_EXTENSION_NUMBERS_OF_TYPE), "pb.B");
    assert_int_equal(a->all_extension_numbers_response->n_extension_number, 0);
    drop(a);

    a = ask_extension(r, "pc.C", 100);
    expect_files(a, a_closure, N_OF(a_closure), 0);
    drop(a);
    a = ask_extension(r, "pc.C", 101);
    expect_files(a, a_closure, N_OF(a_closure), 0);
    drop(a);
    a = ask_extension(r, "pc.C", 102);
    expect_error(a, REFLECT_NOT_FOUND, "pc.C 102");
    drop(a);
    a = ask_extension(r, "pb.B", 100);
    expect_error(a, REFLECT_NOT_FOUND, "pb.B 100");
    drop(a);
    reflect_free(r);
}

static void test_bad_sets(void **state)
{
    struct fixture f;
    struct reflect *r = (struct reflect *)&f; /* must be cleared */
    (void)state;

    fixture_init(&f);
    f.d.name = (char *)"c.proto"; /* two files, one name */
    assert_int_equal(fixture_reflect(&f, &r), ERR_INVALID);
    assert_null(r);

    fixture_init(&f);
    f.d_msg.name = (char *)"C"; /* pc.C declared twice */
    assert_int_equal(fixture_reflect(&f, &r), ERR_INVALID);
    assert_null(r);

    fixture_init(&f);
    f.b_msg.name = (char *)"Inner"; /* pb.Inner is not pc.C.Inner: fine */
    assert_int_equal(fixture_reflect(&f, &r), ERR_OK);
    reflect_free(r);

    fixture_init(&f);
    f.b.package = (char *)"pc.C"; /* package named like a message */
    assert_int_equal(fixture_reflect(&f, &r), ERR_INVALID);
    assert_null(r);

    fixture_init(&f);
    f.c.name = NULL; /* a file without a name */
    assert_int_equal(fixture_reflect(&f, &r), ERR_INVALID);

    fixture_init(&f);
    f.a_ext.extendee = NULL; /* an extension of nothing */
    assert_int_equal(fixture_reflect(&f, &r), ERR_INVALID);

    fixture_init(&f);
    f.a.package = (char *)"pa..x"; /* empty package component */
    assert_int_equal(fixture_reflect(&f, &r), ERR_INVALID);

    static const struct {
        uint8_t bytes[8];
        size_t len;
    } junk[] = {
        {{0x0a, 0x05, 0x0a}, 3},       /* file longer than the set */
        {{0x08, 0x01}, 2},             /* file as a varint */
        {{0x0b}, 1},                   /* group */
        {{0x0a, 0x02, 0x0a, 0x05}, 4}, /* file that does not parse */
        {{0xff, 0xff}, 2},             /* truncated tag */
        {{0x00}, 1},                   /* field 0 */
        {{0x0a, 0x00}, 2},             /* empty file: no name */
    };
    for (size_t i = 0; i < N_OF(junk); i++) {
        print_message("junk %zu\n", i);
        r = (struct reflect *)&f;
        assert_int_equal(reflect_init_from_set(junk[i].bytes, junk[i].len, &r), ERR_INVALID);
        assert_null(r);
    }

    /* Unknown top-level fields are skipped. */
    const uint8_t other[] = {0x10, 0x01, 0x1a, 0x01, 'x', 0x25, 0, 0, 0, 0};
    assert_int_equal(reflect_init_from_set(other, sizeof other, &r), ERR_OK);
    reflect_free(r);

    assert_int_equal(reflect_init_from_set(NULL, 1, &r), ERR_INVALID);
    assert_int_equal(reflect_init_from_set(other, sizeof other, NULL), ERR_INVALID);
    assert_int_equal(reflect_init(NULL), ERR_INVALID);
    reflect_free(NULL);
}

static void test_empty_set(void **state)
{
    struct reflect *r = NULL;
    (void)state;
    assert_int_equal(reflect_init_from_set(NULL, 0, &r), ERR_OK);
    Grpc__Reflection__V1__ServerReflectionResponse *a = ask_str(r, REQ(LIST_SERVICES), "");
    assert_int_equal(a->message_response_case, RESP(LIST_SERVICES_RESPONSE));
    assert_int_equal(a->list_services_response->n_service, 0);
    drop(a);
    a = ask_str(r, REQ(FILE_CONTAINING_SYMBOL), "x.Y");
    expect_error(a, REFLECT_NOT_FOUND, "x.Y");
    drop(a);
    a = ask_str(r, REQ(FILE_BY_FILENAME), "x.proto");
    expect_error(a, REFLECT_NOT_FOUND, "x.proto");
    drop(a);
    reflect_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_services, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_containing_symbol, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_by_filename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_extension_numbers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1alpha, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
        cmocka_unit_test(test_dependencies),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_bad_sets),
        cmocka_unit_test(test_empty_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
