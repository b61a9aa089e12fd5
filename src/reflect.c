/*
 * reflect: gRPC server reflection answers computed from a FileDescriptorSet.
 * See include/reflect.h for the contract.
 *
 * The set is split into its FileDescriptorProtos by a one-level walk of the
 * wire format (field 1, length-delimited), so each file's bytes go back
 * verbatim, as protoc wrote them, with no decode/re-encode round trip.
 * Each file is then decoded with protobuf-c code generated from
 * descriptor.proto (build tree) to learn its name, package, dependencies and
 * declarations. Everything a request can ask about is indexed once:
 *   - files sorted by name (file_by_filename, dependency resolution);
 *   - every declared symbol by fully-qualified name, sorted for bsearch:
 *     packages (and their parents, first file wins, as in the C++
 *     DescriptorPool), messages (nested too), fields, oneofs, enums, enum
 *     values (scoped beside their enum, protobuf's rule), extensions,
 *     services and methods;
 *   - per file, its transitive dependency closure (the file first, then a
 *     depth-first preorder of its imports, each file once), already in the
 *     form FileDescriptorResponse wants, so an answer copies nothing;
 *   - the list of services (ListServiceResponse);
 *   - extensions by (extendee, number); none in our set, kept for
 *     correctness of all_extension_numbers_of_type.
 *
 * grpc.reflection.v1 and v1alpha messages are identical on the wire (same
 * fields and numbers, only the package differs), so both versions are
 * decoded and encoded with the v1 generated code.
 *
 * Ownership: struct reflect owns a private copy of the set, the decoded
 * files and every index. A response points into those indexes only while it
 * is being packed; the packed buffer is the caller's.
 *
 * Threading: after init nothing here writes to struct reflect, so answers
 * run concurrently on one instance; all per-request state is on the stack or
 * malloc'd per call.
 */
#include "reflect.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "grpc/reflection/v1/reflection.pb-c.h"
#include "reflect_descriptor_set.h"

enum reflect_kind {
    REFLECT_KIND_PACKAGE,
    REFLECT_KIND_MESSAGE,
    REFLECT_KIND_FIELD,
    REFLECT_KIND_ONEOF,
    REFLECT_KIND_ENUM,
    REFLECT_KIND_ENUM_VALUE,
    REFLECT_KIND_EXTENSION,
    REFLECT_KIND_SERVICE,
    REFLECT_KIND_METHOD
};

struct reflect_file {
    ProtobufCBinaryData raw;                    /* the file's bytes in r->set */
    Google__Protobuf__FileDescriptorProto *fdp; /* decoded; owned */
    ProtobufCBinaryData *closure;               /* raw of this file, then deps */
    size_t n_closure;
};

struct reflect_file_name {
    const char *name; /* the file's fdp->name */
    size_t file;
};

struct reflect_symbol {
    char *name; /* fully qualified, no leading dot; owned */
    size_t file;
    enum reflect_kind kind;
    size_t seq; /* insertion order: ties sort by it, so first file wins */
};

struct reflect_extension {
    char *extendee; /* fully qualified, no leading dot; owned */
    int32_t number;
    size_t file;
};

struct reflect {
    uint8_t *set; /* private copy of the FileDescriptorSet */
    size_t set_len;

    struct reflect_file *files;
    size_t n_files;
    struct reflect_file_name *by_name; /* n_files entries, sorted by name */

    struct reflect_symbol *symbols; /* sorted by name, unique after init */
    size_t n_symbols;
    size_t cap_symbols;

    struct reflect_extension *exts;
    size_t n_exts;
    size_t cap_exts;

    /* ListServiceResponse content; names point at symbol names. */
    Grpc__Reflection__V1__ServiceResponse *services;
    Grpc__Reflection__V1__ServiceResponse **service_ptrs;
    size_t n_services;
    size_t cap_services;
};

/* ---- wire-format walk of the FileDescriptorSet --------------------------- */

static bool read_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*pos >= len)
            return false;
        uint8_t b = buf[(*pos)++];
        x |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false; /* more than 10 bytes */
}

/* Count the `repeated FileDescriptorProto file = 1` entries of the set and,
 * when files is not NULL, record where each one's bytes are. Other fields
 * are skipped; groups and malformed input are refused. */
static enum err_code walk_set(uint8_t *set, size_t len, struct reflect_file *files, size_t *n_out)
{
    size_t pos = 0, n = 0;
    while (pos < len) {
        uint64_t tag, v;
        if (!read_varint(set, len, &pos, &tag) || (tag >> 3) == 0)
            return ERR_INVALID;
        switch (tag & 7) {
        case 0: /* varint */
            if (!read_varint(set, len, &pos, &v))
                return ERR_INVALID;
            break;
        case 1: /* 64-bit */
            if (len - pos < 8)
                return ERR_INVALID;
            pos += 8;
            break;
        case 5: /* 32-bit */
            if (len - pos < 4)
                return ERR_INVALID;
            pos += 4;
            break;
        case 2: /* length-delimited */
            if (!read_varint(set, len, &pos, &v) || v > len - pos)
                return ERR_INVALID;
            if ((tag >> 3) == 1) {
                if (files) {
                    files[n].raw.data = set + pos;
                    files[n].raw.len = (size_t)v;
                }
                n++;
            }
            pos += (size_t)v;
            break;
        default:
            return ERR_INVALID;
        }
        if ((tag >> 3) == 1 && (tag & 7) != 2)
            return ERR_INVALID;
    }
    *n_out = n;
    return ERR_OK;
}

/* ---- building the indexes ------------------------------------------------ */

static char *join_name(const char *scope, const char *name)
{
    size_t ls = strlen(scope), ln = strlen(name);
    char *s = malloc(ls + ln + 2);
    if (!s)
        return NULL;
    if (ls) {
        memcpy(s, scope, ls);
        s[ls++] = '.';
    }
    memcpy(s + ls, name, ln + 1);
    return s;
}

/* Take ownership of full (freed here on failure). */
static enum err_code push_symbol(struct reflect *r, char *full, size_t file, enum reflect_kind kind)
{
    if (r->n_symbols == r->cap_symbols) {
        size_t cap = r->cap_symbols ? r->cap_symbols * 2 : 64;
        struct reflect_symbol *s = realloc(r->symbols, cap * sizeof *s);
        if (!s) {
            free(full);
            return ERR_NOMEM;
        }
        r->symbols = s;
        r->cap_symbols = cap;
    }
    r->symbols[r->n_symbols] =
        (struct reflect_symbol){.name = full, .file = file, .kind = kind, .seq = r->n_symbols};
    r->n_symbols++;
    return ERR_OK;
}

/* Add scope.name; *full_out (optional) gets the stored name, which stays
 * valid for the life of r (the string never moves, only the array does). */
static enum err_code add_symbol(struct reflect *r, const char *scope, const char *name, size_t file,
                                enum reflect_kind kind, const char **full_out)
{
    if (!name || !*name)
        return ERR_INVALID;
    char *full = join_name(scope, name);
    if (!full)
        return ERR_NOMEM;
    enum err_code rc = push_symbol(r, full, file, kind);
    if (rc)
        return rc;
    if (full_out)
        *full_out = full;
    return ERR_OK;
}

static enum err_code add_extension(struct reflect *r, const char *scope,
                                   const Google__Protobuf__FieldDescriptorProto *f, size_t file)
{
    enum err_code rc = add_symbol(r, scope, f->name, file, REFLECT_KIND_EXTENSION, NULL);
    if (rc)
        return rc;
    if (!f->extendee || !f->has_number)
        return ERR_INVALID;
    const char *extendee = f->extendee[0] == '.' ? f->extendee + 1 : f->extendee;
    if (r->n_exts == r->cap_exts) {
        size_t cap = r->cap_exts ? r->cap_exts * 2 : 8;
        struct reflect_extension *e = realloc(r->exts, cap * sizeof *e);
        if (!e)
            return ERR_NOMEM;
        r->exts = e;
        r->cap_exts = cap;
    }
    char *copy = strdup(extendee);
    if (!copy)
        return ERR_NOMEM;
    r->exts[r->n_exts++] =
        (struct reflect_extension){.extendee = copy, .number = f->number, .file = file};
    return ERR_OK;
}

/* Enum values live in the scope that holds the enum, not inside it. */
static enum err_code add_enum(struct reflect *r, const char *scope,
                              const Google__Protobuf__EnumDescriptorProto *e, size_t file)
{
    enum err_code rc = add_symbol(r, scope, e->name, file, REFLECT_KIND_ENUM, NULL);
    for (size_t i = 0; !rc && i < e->n_value; i++)
        rc = add_symbol(r, scope, e->value[i]->name, file, REFLECT_KIND_ENUM_VALUE, NULL);
    return rc;
}

static enum err_code add_message(struct reflect *r, const char *scope,
                                 const Google__Protobuf__DescriptorProto *m, size_t file)
{
    const char *full;
    enum err_code rc = add_symbol(r, scope, m->name, file, REFLECT_KIND_MESSAGE, &full);
    for (size_t i = 0; !rc && i < m->n_field; i++)
        rc = add_symbol(r, full, m->field[i]->name, file, REFLECT_KIND_FIELD, NULL);
    for (size_t i = 0; !rc && i < m->n_oneof_decl; i++)
        rc = add_symbol(r, full, m->oneof_decl[i]->name, file, REFLECT_KIND_ONEOF, NULL);
    for (size_t i = 0; !rc && i < m->n_nested_type; i++)
        rc = add_message(r, full, m->nested_type[i], file);
    for (size_t i = 0; !rc && i < m->n_enum_type; i++)
        rc = add_enum(r, full, m->enum_type[i], file);
    for (size_t i = 0; !rc && i < m->n_extension; i++)
        rc = add_extension(r, full, m->extension[i], file);
    return rc;
}

static enum err_code add_service_name(struct reflect *r, const char *full)
{
    if (r->n_services == r->cap_services) {
        size_t cap = r->cap_services ? r->cap_services * 2 : 8;
        Grpc__Reflection__V1__ServiceResponse *s = realloc(r->services, cap * sizeof *s);
        if (!s)
            return ERR_NOMEM;
        r->services = s;
        r->cap_services = cap;
    }
    Grpc__Reflection__V1__ServiceResponse *sr = &r->services[r->n_services++];
    grpc__reflection__v1__service_response__init(sr);
    sr->name = (char *)full; /* owned by the symbol table; packing only reads it */
    return ERR_OK;
}

static enum err_code add_file_symbols(struct reflect *r, size_t file)
{
    const Google__Protobuf__FileDescriptorProto *f = r->files[file].fdp;
    const char *pkg = f->package ? f->package : "";
    enum err_code rc = ERR_OK;

    /* "a.b.c" declares the packages "a", "a.b" and "a.b.c". */
    for (size_t i = 0; pkg[0] && !rc; i++) {
        if (pkg[i] != '.' && pkg[i] != '\0')
            continue;
        if (i == 0 || pkg[i - 1] == '.')
            return ERR_INVALID; /* empty component */
        char *p = strndup(pkg, i);
        if (!p)
            return ERR_NOMEM;
        rc = push_symbol(r, p, file, REFLECT_KIND_PACKAGE);
        if (pkg[i] == '\0')
            break;
    }
    for (size_t i = 0; !rc && i < f->n_message_type; i++)
        rc = add_message(r, pkg, f->message_type[i], file);
    for (size_t i = 0; !rc && i < f->n_enum_type; i++)
        rc = add_enum(r, pkg, f->enum_type[i], file);
    for (size_t i = 0; !rc && i < f->n_extension; i++)
        rc = add_extension(r, pkg, f->extension[i], file);
    for (size_t i = 0; !rc && i < f->n_service; i++) {
        const Google__Protobuf__ServiceDescriptorProto *s = f->service[i];
        const char *full;
        rc = add_symbol(r, pkg, s->name, file, REFLECT_KIND_SERVICE, &full);
        if (!rc)
            rc = add_service_name(r, full);
        for (size_t k = 0; !rc && k < s->n_method; k++)
            rc = add_symbol(r, full, s->method[k]->name, file, REFLECT_KIND_METHOD, NULL);
    }
    return rc;
}

static int cmp_symbol_sort(const void *a, const void *b)
{
    const struct reflect_symbol *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

static int cmp_symbol_key(const void *key, const void *elem)
{
    const struct reflect_symbol *s = elem;
    return strcmp(key, s->name);
}

static int cmp_file_name(const void *a, const void *b)
{
    const struct reflect_file_name *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int cmp_file_key(const void *key, const void *elem)
{
    const struct reflect_file_name *f = elem;
    return strcmp(key, f->name);
}

/* Sort the symbols; a package declared by several files keeps its first
 * file; any other repeated name makes the set invalid. */
static enum err_code sort_symbols(struct reflect *r)
{
    if (!r->n_symbols)
        return ERR_OK;
    qsort(r->symbols, r->n_symbols, sizeof *r->symbols, cmp_symbol_sort);
    size_t w = 1;
    for (size_t i = 1; i < r->n_symbols; i++) {
        struct reflect_symbol *prev = &r->symbols[w - 1], *cur = &r->symbols[i];
        if (strcmp(prev->name, cur->name)) {
            r->symbols[w++] = *cur;
            continue;
        }
        if (prev->kind != REFLECT_KIND_PACKAGE || cur->kind != REFLECT_KIND_PACKAGE) {
            /* Keep the array consistent for reflect_free: move the rest down. */
            memmove(&r->symbols[w], &r->symbols[i], (r->n_symbols - i) * sizeof *r->symbols);
            r->n_symbols -= i - w;
            return ERR_INVALID;
        }
        free(cur->name);
    }
    r->n_symbols = w;
    return ERR_OK;
}

static const struct reflect_symbol *find_symbol(const struct reflect *r, const char *name)
{
    if (!r->n_symbols)
        return NULL;
    return bsearch(name, r->symbols, r->n_symbols, sizeof *r->symbols, cmp_symbol_key);
}

static bool find_file(const struct reflect *r, const char *name, size_t *file)
{
    const struct reflect_file_name *f;
    if (!r->n_files)
        return false;
    f = bsearch(name, r->by_name, r->n_files, sizeof *r->by_name, cmp_file_key);
    if (!f)
        return false;
    *file = f->file;
    return true;
}

/* Depth-first preorder over imports; depth is bounded by n_files because a
 * file is entered once. Imports missing from the set are skipped (protoc
 * --include_imports never leaves any out). */
static void closure_visit(const struct reflect *r, size_t x, bool *seen, ProtobufCBinaryData *out,
                          size_t *n)
{
    const Google__Protobuf__FileDescriptorProto *f = r->files[x].fdp;
    seen[x] = true;
    out[(*n)++] = r->files[x].raw;
    for (size_t k = 0; k < f->n_dependency; k++) {
        size_t d;
        if (find_file(r, f->dependency[k], &d) && !seen[d])
            closure_visit(r, d, seen, out, n);
    }
}

static enum err_code build_closures(struct reflect *r)
{
    bool *seen = malloc(r->n_files * sizeof *seen);
    ProtobufCBinaryData *tmp = malloc(r->n_files * sizeof *tmp);
    enum err_code rc = ERR_OK;
    if (!seen || !tmp) {
        rc = ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->n_files; i++) {
        size_t n = 0;
        memset(seen, 0, r->n_files * sizeof *seen);
        closure_visit(r, i, seen, tmp, &n);
        r->files[i].closure = malloc(n * sizeof *tmp);
        if (!r->files[i].closure) {
            rc = ERR_NOMEM;
            goto out;
        }
        memcpy(r->files[i].closure, tmp, n * sizeof *tmp);
        r->files[i].n_closure = n;
    }
out:
    free(seen);
    free(tmp);
    return rc;
}

static enum err_code build(struct reflect *r, const uint8_t *set, size_t set_len)
{
    enum err_code rc;
    size_t n;

    r->set = malloc(set_len ? set_len : 1);
    if (!r->set)
        return ERR_NOMEM;
    if (set_len)
        memcpy(r->set, set, set_len);
    r->set_len = set_len;

    rc = walk_set(r->set, r->set_len, NULL, &n);
    if (rc)
        return rc;
    if (n == 0)
        return ERR_OK; /* an empty set answers NOT_FOUND to everything */
    r->files = calloc(n, sizeof *r->files);
    r->by_name = calloc(n, sizeof *r->by_name);
    if (!r->files || !r->by_name)
        return ERR_NOMEM;
    r->n_files = n;
    rc = walk_set(r->set, r->set_len, r->files, &n);
    if (rc)
        return rc;

    for (size_t i = 0; i < r->n_files; i++) {
        struct reflect_file *f = &r->files[i];
        f->fdp = google__protobuf__file_descriptor_proto__unpack(NULL, f->raw.len, f->raw.data);
        if (!f->fdp || !f->fdp->name || !f->fdp->name[0])
            return ERR_INVALID;
        r->by_name[i] = (struct reflect_file_name){.name = f->fdp->name, .file = i};
    }
    qsort(r->by_name, r->n_files, sizeof *r->by_name, cmp_file_name);
    for (size_t i = 1; i < r->n_files; i++)
        if (!strcmp(r->by_name[i - 1].name, r->by_name[i].name))
            return ERR_INVALID;

    for (size_t i = 0; i < r->n_files; i++) {
        rc = add_file_symbols(r, i);
        if (rc)
            return rc;
    }
    rc = sort_symbols(r);
    if (rc)
        return rc;
    rc = build_closures(r);
    if (rc)
        return rc;

    if (r->n_services) {
        r->service_ptrs = malloc(r->n_services * sizeof *r->service_ptrs);
        if (!r->service_ptrs)
            return ERR_NOMEM;
        for (size_t i = 0; i < r->n_services; i++)
            r->service_ptrs[i] = &r->services[i];
    }
    return ERR_OK;
}

/* ---- public: lifetime ---------------------------------------------------- */

enum err_code reflect_init_from_set(const uint8_t *set, size_t set_len, struct reflect **out)
{
    if (out)
        *out = NULL;
    if (!out || (!set && set_len))
        return ERR_INVALID;
    struct reflect *r = calloc(1, sizeof *r);
    if (!r)
        return ERR_NOMEM;
    enum err_code rc = build(r, set, set_len);
    if (rc) {
        reflect_free(r);
        return rc;
    }
    *out = r;
    return ERR_OK;
}

enum err_code reflect_init(struct reflect **out)
{
    enum err_code rc =
        reflect_init_from_set(reflect_descriptor_set, reflect_descriptor_set_len, out);
    /* The embedded set comes from protoc: failing to read it is our bug. */
    return rc == ERR_INVALID && out ? ERR_INTERNAL : rc;
}

void reflect_free(struct reflect *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_files; i++) {
        google__protobuf__file_descriptor_proto__free_unpacked(r->files[i].fdp, NULL);
        free(r->files[i].closure);
    }
    free(r->files);
    free(r->by_name);
    for (size_t i = 0; i < r->n_symbols; i++)
        free(r->symbols[i].name);
    free(r->symbols);
    for (size_t i = 0; i < r->n_exts; i++)
        free(r->exts[i].extendee);
    free(r->exts);
    free(r->services);
    free(r->service_ptrs);
    free(r->set);
    free(r);
}

/* ---- public: answering --------------------------------------------------- */

/* Per-call scratch: the response and the sub-messages it may point at. */
struct reflect_reply {
    Grpc__Reflection__V1__ServerReflectionResponse resp;
    Grpc__Reflection__V1__FileDescriptorResponse files;
    Grpc__Reflection__V1__ExtensionNumberResponse numbers;
    Grpc__Reflection__V1__ListServiceResponse services;
    Grpc__Reflection__V1__ErrorResponse error;
    char *error_message;  /* malloc'd */
    int32_t *ext_numbers; /* malloc'd */
};

static void reply_files(struct reflect_reply *rp, const struct reflect_file *f)
{
    rp->files.n_file_descriptor_proto = f->n_closure;
    rp->files.file_descriptor_proto = f->closure;
    rp->resp.message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
    rp->resp.file_descriptor_response = &rp->files;
}

/* Error text is "<what> <name>" (or just <what> when name is NULL),
 * allocated to size so a name is never cut: cutting could split a UTF-8
 * sequence, which proto3 clients refuse. */
static enum err_code reply_error(struct reflect_reply *rp, int32_t code, const char *what,
                                 const char *name)
{
    size_t lw = strlen(what), ln = name ? strlen(name) : 0;
    rp->error_message = malloc(lw + ln + 2);
    if (!rp->error_message)
        return ERR_NOMEM;
    memcpy(rp->error_message, what, lw + 1);
    if (name) {
        rp->error_message[lw] = ' ';
        memcpy(rp->error_message + lw + 1, name, ln + 1);
    }
    rp->error.error_code = code;
    rp->error.error_message = rp->error_message;
    rp->resp.message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    rp->resp.error_response = &rp->error;
    return ERR_OK;
}

static enum err_code answer_extension(const struct reflect *r, struct reflect_reply *rp,
                                      const Grpc__Reflection__V1__ExtensionRequest *e)
{
    const char *type = e && e->containing_type ? e->containing_type : "";
    int32_t number = e ? e->extension_number : 0;
    for (size_t i = 0; i < r->n_exts; i++) {
        if (r->exts[i].number == number && !strcmp(r->exts[i].extendee, type)) {
            reply_files(rp, &r->files[r->exts[i].file]);
            return ERR_OK;
        }
    }
    /* "extension not found: <type> <number>" */
    char num[16];
    size_t lt = strlen(type);
    int ln = snprintf(num, sizeof num, "%d", (int)number);
    char *name = malloc(lt + (size_t)ln + 2);
    if (!name)
        return ERR_NOMEM;
    memcpy(name, type, lt);
    name[lt] = ' ';
    memcpy(name + lt + 1, num, (size_t)ln + 1);
    enum err_code rc = reply_error(rp, REFLECT_NOT_FOUND, "extension not found:", name);
    free(name);
    return rc;
}

static enum err_code answer_extension_numbers(const struct reflect *r, struct reflect_reply *rp,
                                              const char *type)
{
    const struct reflect_symbol *s = find_symbol(r, type);
    if (!s || s->kind != REFLECT_KIND_MESSAGE)
        return reply_error(rp, REFLECT_NOT_FOUND, "type not found:", type);
    size_t n = 0;
    for (size_t i = 0; i < r->n_exts; i++)
        n += !strcmp(r->exts[i].extendee, type);
    if (n) {
        rp->ext_numbers = malloc(n * sizeof *rp->ext_numbers);
        if (!rp->ext_numbers)
            return ERR_NOMEM;
        n = 0;
        for (size_t i = 0; i < r->n_exts; i++)
            if (!strcmp(r->exts[i].extendee, type))
                rp->ext_numbers[n++] = r->exts[i].number;
    }
    rp->numbers.base_type_name = s->name;
    rp->numbers.n_extension_number = n;
    rp->numbers.extension_number = rp->ext_numbers;
    rp->resp.message_response_case =
        GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ALL_EXTENSION_NUMBERS_RESPONSE;
    rp->resp.all_extension_numbers_response = &rp->numbers;
    return ERR_OK;
}

static enum err_code pack_reply(const struct reflect_reply *rp, uint8_t **resp, size_t *resp_len)
{
    size_t n = grpc__reflection__v1__server_reflection_response__get_packed_size(&rp->resp);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return ERR_NOMEM;
    if (grpc__reflection__v1__server_reflection_response__pack(&rp->resp, buf) != n) {
        free(buf);
        return ERR_INTERNAL;
    }
    *resp = buf;
    *resp_len = n;
    return ERR_OK;
}

enum err_code reflect_answer(const struct reflect *r, int version, const uint8_t *req,
                             size_t req_len, uint8_t **resp, size_t *resp_len)
{
    static const uint8_t empty[1];

    if (resp)
        *resp = NULL;
    if (resp_len)
        *resp_len = 0;
    if (!r || !resp || !resp_len || (version != 0 && version != 1) || (!req && req_len))
        return ERR_INVALID;

    /* protobuf-c reports allocation failure and bad input alike (NULL). */
    Grpc__Reflection__V1__ServerReflectionRequest *q =
        grpc__reflection__v1__server_reflection_request__unpack(NULL, req_len, req ? req : empty);
    if (!q)
        return ERR_INVALID;

    struct reflect_reply rp = {0};
    grpc__reflection__v1__server_reflection_response__init(&rp.resp);
    grpc__reflection__v1__file_descriptor_response__init(&rp.files);
    grpc__reflection__v1__extension_number_response__init(&rp.numbers);
    grpc__reflection__v1__list_service_response__init(&rp.services);
    grpc__reflection__v1__error_response__init(&rp.error);
    rp.resp.valid_host = q->host;
    rp.resp.original_request = q;

    enum err_code rc = ERR_OK;
    size_t file;
    const struct reflect_symbol *sym;
    switch (q->message_request_case) {
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_BY_FILENAME:
        if (find_file(r, q->file_by_filename, &file))
            reply_files(&rp, &r->files[file]);
        else
            rc = reply_error(&rp, REFLECT_NOT_FOUND, "file not found:", q->file_by_filename);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_SYMBOL:
        sym = find_symbol(r, q->file_containing_symbol);
        if (sym)
            reply_files(&rp, &r->files[sym->file]);
        else
            rc =
                reply_error(&rp, REFLECT_NOT_FOUND, "symbol not found:", q->file_containing_symbol);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_FILE_CONTAINING_EXTENSION:
        rc = answer_extension(r, &rp, q->file_containing_extension);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_ALL_EXTENSION_NUMBERS_OF_TYPE:
        rc = answer_extension_numbers(r, &rp, q->all_extension_numbers_of_type);
        break;
    case GRPC__REFLECTION__V1__SERVER_REFLECTION_REQUEST__MESSAGE_REQUEST_LIST_SERVICES:
        rp.services.n_service = r->n_services;
        rp.services.service = r->service_ptrs;
        rp.resp.message_response_case =
            GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
        rp.resp.list_services_response = &rp.services;
        break;
    default:
        /* No request (or one from a newer proto): the C++ server answers
         * UNIMPLEMENTED in an ErrorResponse and keeps the stream open. */
        rc = reply_error(&rp, REFLECT_UNIMPLEMENTED, "request not implemented", NULL);
        break;
    }
    if (!rc)
        rc = pack_reply(&rp, resp, resp_len);

    free(rp.error_message);
    free(rp.ext_numbers);
    grpc__reflection__v1__server_reflection_request__free_unpacked(q, NULL);
    return rc;
}
