/* roles.h — who may call what: every role of the four seeds as one bit, so a route's
 * permission is one mask in the routing table (http/routes.c) and docs/rbac.md is printed
 * from the same table (`mpsd --routes`).
 *
 *   platform staff   admin, finance, ops, support, viewer            (QRIS seed)
 *   merchant staff   owner, manager, clerk, finance, ops, viewer     (MealQuest + QRIS)
 *   member           a merchant's customer                           (CUSTOMER, MPS member) */
#ifndef MPS_COMMON_ROLES_H
#define MPS_COMMON_ROLES_H

#include <stdbool.h>
#include <stddef.h>

enum principal_kind { PRINCIPAL_NONE = 0, PRINCIPAL_PLATFORM, PRINCIPAL_MERCHANT, PRINCIPAL_MEMBER };

enum role_bit {
  R_P_ADMIN = 1u << 0,
  R_P_FINANCE = 1u << 1,
  R_P_OPS = 1u << 2,
  R_P_SUPPORT = 1u << 3,
  R_P_VIEWER = 1u << 4,
  R_M_OWNER = 1u << 8,
  R_M_MANAGER = 1u << 9,
  R_M_CLERK = 1u << 10,
  R_M_FINANCE = 1u << 11,
  R_M_OPS = 1u << 12,
  R_M_VIEWER = 1u << 13,
  R_MEMBER = 1u << 16,
  R_PUBLIC = 1u << 31, /* no token needed */
};

#define R_PLATFORM_ALL (R_P_ADMIN | R_P_FINANCE | R_P_OPS | R_P_SUPPORT | R_P_VIEWER)
#define R_MERCHANT_ALL (R_M_OWNER | R_M_MANAGER | R_M_CLERK | R_M_FINANCE | R_M_OPS | R_M_VIEWER)
#define R_STAFF_ALL (R_PLATFORM_ALL | R_MERCHANT_ALL)
#define R_ANY_AUTH (R_STAFF_ALL | R_MEMBER)

struct role_info {
  unsigned bit;
  enum principal_kind kind;
  const char *name; /* as in tokens and the API: "admin", "owner", "member" */
};

/* The role of a kind by name, or NULL. */
const struct role_info *role_find(enum principal_kind kind, const char *name);
const struct role_info *role_by_bit(unsigned bit);
/* All roles, for docs and tests. */
const struct role_info *roles_all(size_t *count);
const char *principal_kind_name(enum principal_kind kind);
/* "admin,finance" style list of the roles in a mask (or "public"). */
void roles_describe(unsigned mask, char *out, size_t out_len);

#endif
