/* roles.c — the role table behind roles.h. */
#include "common/roles.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const struct role_info roles[] = {
    {R_P_ADMIN, PRINCIPAL_PLATFORM, "admin"},     {R_P_FINANCE, PRINCIPAL_PLATFORM, "finance"},
    {R_P_OPS, PRINCIPAL_PLATFORM, "ops"},         {R_P_SUPPORT, PRINCIPAL_PLATFORM, "support"},
    {R_P_VIEWER, PRINCIPAL_PLATFORM, "viewer"},   {R_M_OWNER, PRINCIPAL_MERCHANT, "owner"},
    {R_M_MANAGER, PRINCIPAL_MERCHANT, "manager"}, {R_M_CLERK, PRINCIPAL_MERCHANT, "clerk"},
    {R_M_FINANCE, PRINCIPAL_MERCHANT, "finance"}, {R_M_OPS, PRINCIPAL_MERCHANT, "ops"},
    {R_M_VIEWER, PRINCIPAL_MERCHANT, "viewer"},   {R_MEMBER, PRINCIPAL_MEMBER, "member"},
};
#define ROLE_COUNT (sizeof roles / sizeof roles[0])

const struct role_info *role_find(enum principal_kind kind, const char *name) {
  for (size_t i = 0; i < ROLE_COUNT; i++) {
    if (roles[i].kind == kind && strcmp(roles[i].name, name) == 0) return &roles[i];
  }
  return NULL;
}

const struct role_info *role_by_bit(unsigned bit) {
  for (size_t i = 0; i < ROLE_COUNT; i++) {
    if (roles[i].bit == bit) return &roles[i];
  }
  return NULL;
}

const struct role_info *roles_all(size_t *count) {
  *count = ROLE_COUNT;
  return roles;
}

const char *principal_kind_name(enum principal_kind kind) {
  switch (kind) {
    case PRINCIPAL_PLATFORM: return "platform";
    case PRINCIPAL_MERCHANT: return "merchant";
    case PRINCIPAL_MEMBER: return "member";
    case PRINCIPAL_NONE: break;
  }
  return "none";
}

void roles_describe(unsigned mask, char *out, size_t out_len) {
  assert(out_len > 0);
  out[0] = '\0';
  if (mask & R_PUBLIC) {
    snprintf(out, out_len, "public");
    return;
  }
  size_t used = 0;
  for (size_t i = 0; i < ROLE_COUNT; i++) {
    if (!(mask & roles[i].bit)) continue;
    int n = snprintf(out + used, out_len - used, "%s%s:%s", used ? "," : "",
                     principal_kind_name(roles[i].kind), roles[i].name);
    if (n < 0 || (size_t)n >= out_len - used) break;
    used += (size_t)n;
  }
}
