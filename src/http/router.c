/* router.c — path matching for the routing table (see router.h). No allocation, no
 * recursion: a path is walked once per candidate route, bounded by ROUTE_MAX_SEGMENTS. */
#include "http/router.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

/* Next segment of a '/'-separated string; *p advances past it. Returns its length, or -1
 * at the end. Empty segments ("//") are returned as length 0. */
static int next_segment(const char **p, const char **seg) {
  if (**p != '/') return -1;
  (*p)++;
  *seg = *p;
  const char *slash = strchr(*p, '/');
  size_t len = slash ? (size_t)(slash - *p) : strlen(*p);
  *p += len;
  return (int)len;
}

static bool match_path(const char *pattern, const char *path, struct route_params *params) {
  const char *pp = pattern, *up = path;
  if (params) params->count = 0;
  for (int i = 0; i < ROUTE_MAX_SEGMENTS; i++) {
    const char *pseg = NULL, *useg = NULL;
    int plen = next_segment(&pp, &pseg);
    int ulen = next_segment(&up, &useg);
    if (plen < 0 || ulen < 0) return plen < 0 && ulen < 0 && *pp == '\0' && *up == '\0';
    if (plen >= 2 && pseg[0] == '{' && pseg[plen - 1] == '}') {
      if (ulen == 0 || ulen >= ROUTE_PARAM_MAX) return false;
      if (params) {
        assert(params->count < ROUTE_MAX_PARAMS);
        int k = params->count++;
        params->names[k] = pseg + 1;
        params->name_lens[k] = (size_t)plen - 2;
        memcpy(params->values[k], useg, (size_t)ulen);
        params->values[k][ulen] = '\0';
      }
      continue;
    }
    if (plen != ulen || memcmp(pseg, useg, (size_t)plen) != 0) return false;
  }
  return false; /* deeper than any route */
}

enum route_match router_match(const struct route *table, size_t count, const char *method,
                              const char *path, const struct route **out,
                              struct route_params *params, char *allow, size_t allow_len) {
  assert(table && method && path && out);
  *out = NULL;
  if (allow_len) allow[0] = '\0';
  if (path[0] != '/') return ROUTE_NO_PATH;
  bool path_found = false;
  for (size_t i = 0; i < count; i++) {
    if (!match_path(table[i].pattern, path, NULL)) continue;
    if (strcmp(table[i].method, method) == 0) {
      bool ok = match_path(table[i].pattern, path, params);
      assert(ok);
      (void)ok;
      *out = &table[i];
      return ROUTE_FOUND;
    }
    path_found = true;
    if (allow_len == 0) continue; /* no Allow wanted: allow may be NULL, is not terminated */
    size_t used = strlen(allow);
    if (allow_len > used + strlen(table[i].method) + 3) {
      if (used) strcat(allow, ", ");
      strcat(allow, table[i].method);
    }
  }
  return path_found ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}

size_t router_index(const struct route *table, const struct route *r) {
  if (!r) return (size_t)-1;
  assert(r >= table);
  return (size_t)(r - table);
}
