/* errors.h — the one registry of API error codes: code, HTTP status and meaning.
 *
 * Every error the API returns is one of these; docs/errors.md is checked against this
 * list by a test (`mpsctl errors` prints it). Add new codes at the end of their group. */
#ifndef MPS_COMMON_ERRORS_H
#define MPS_COMMON_ERRORS_H

#define MPS_ERRORS(X)                                                                         \
  X(BAD_REQUEST, 400, "The request is malformed (bad query parameter, header or path).")      \
  X(INVALID_JSON, 400, "The body is not valid JSON; details give line, column and position.") \
  X(VALIDATION_FAILED, 400, "A field is missing, of the wrong type or out of range; details.field names it.") \
  X(UNAUTHORIZED, 401, "No credentials, or the token is invalid, tampered or expired.")       \
  X(FORBIDDEN, 403, "The caller's role may not do this.")                                     \
  X(MERCHANT_SCOPE_DENIED, 403, "The caller belongs to another merchant than the one addressed.") \
  X(NOT_FOUND, 404, "No route matches the path, or the resource does not exist.")            \
  X(METHOD_NOT_ALLOWED, 405, "The path exists but not with this method; the Allow header lists the methods.") \
  X(CONFLICT, 409, "The request conflicts with the current state of the resource.")          \
  X(PAYLOAD_TOO_LARGE, 413, "The body is larger than MPS_MAX_BODY_BYTES.")                   \
  X(UNSUPPORTED_MEDIA_TYPE, 415, "A body was sent with a Content-Type other than application/json.") \
  X(UNPROCESSABLE, 422, "The request is well formed but cannot be processed as asked.")      \
  X(RATE_LIMITED, 429, "Too many requests; retry after the Retry-After header's seconds.")   \
  X(INTERNAL, 500, "An unexpected server error; the request_id finds it in the log.")        \
  X(STORE_UNAVAILABLE, 503, "The database could not complete the request; nothing was written.") \
  X(OVERLOADED, 503, "The server's work queue is full; retry shortly.")                      \
  X(SHUTTING_DOWN, 503, "The server is shutting down and takes no new work.")                \
  X(NOT_READY, 503, "A deep health check failed: the store or its schema is not ready.")

enum mps_err {
#define MPS_ERR_ENUM(name, status, text) MPS_E_##name,
  MPS_ERRORS(MPS_ERR_ENUM)
#undef MPS_ERR_ENUM
  MPS_E_COUNT_
};

struct mps_error_info {
  const char *code;
  int http_status;
  const char *description;
};

const struct mps_error_info *mps_error(enum mps_err e);

#endif
