/* router.h — the static routing table: method + path pattern with {name} segments.
 *
 * The table itself is in routes.c, one line per route naming the handler and the file it
 * lives in, so a reader goes from URL to code in one step. Matching is segment by segment,
 * literal segments before captures do not matter: patterns in the table must not overlap. */
#ifndef MPS_HTTP_ROUTER_H
#define MPS_HTTP_ROUTER_H

#include <stddef.h>

struct http_req;

#define ROUTE_MAX_PARAMS 4
#define ROUTE_MAX_SEGMENTS 12
#define ROUTE_PARAM_MAX 128 /* longest captured segment, bytes */

typedef void (*route_handler)(struct http_req *req);

struct route {
  const char *method;  /* "GET", "POST", ... */
  const char *pattern; /* "/api/merchants/{id}" */
  route_handler handler;
  const char *file;    /* source file holding the handler, for --routes and readers */
  unsigned access;     /* roles allowed (common/roles.h): the permission table */
  int rate;            /* enum rate_class applied before the handler, 0 = none */
};

struct route_params {
  int count;
  const char *names[ROUTE_MAX_PARAMS]; /* point into the pattern's text, not terminated */
  size_t name_lens[ROUTE_MAX_PARAMS];
  char values[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX];
};

enum route_match { ROUTE_FOUND = 0, ROUTE_NO_PATH = 1, ROUTE_NO_METHOD = 2 };

/* The table and its size (routes.c). */
const struct route *routes_table(size_t *count);

/* Match method + path against a table. On ROUTE_FOUND *out is the route and params
 * are filled; on ROUTE_NO_METHOD `allow` gets the comma-separated methods that exist for
 * the path (for the Allow header), as many whole entries as fit in allow_len; allow_len 0
 * (allow may then be NULL) asks for none. */
enum route_match router_match(const struct route *table, size_t count, const char *method,
                              const char *path, const struct route **out,
                              struct route_params *params, char *allow, size_t allow_len);

/* Index of a route in the table (for metrics); count for "no route". */
size_t router_index(const struct route *table, const struct route *r);

#endif
