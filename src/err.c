/*
 * err: names for the error codes. See include/err.h.
 */
#include "err.h"

const char *err_str(enum err_code rc)
{
    switch (rc) {
    case ERR_OK:
        return "ok";
    case ERR_NOMEM:
        return "out of memory";
    case ERR_INVALID:
        return "invalid argument";
    case ERR_NOT_FOUND:
        return "not found";
    case ERR_PRECONDITION:
        return "failed precondition";
    case ERR_UNAVAILABLE:
        return "unavailable";
    case ERR_TIMEOUT:
        return "deadline exceeded";
    case ERR_IO:
        return "i/o error";
    case ERR_AGAIN:
        return "pending";
    case ERR_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}
