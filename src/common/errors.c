/* errors.c — lookup into the error registry declared in errors.h. */
#include "common/errors.h"

#include <assert.h>

static const struct mps_error_info registry[MPS_E_COUNT_] = {
#define MPS_ERR_ROW(name, status, text) [MPS_E_##name] = {#name, status, text},
    MPS_ERRORS(MPS_ERR_ROW)
#undef MPS_ERR_ROW
};

const struct mps_error_info *mps_error(enum mps_err e) {
  assert(e >= 0 && e < MPS_E_COUNT_);
  const struct mps_error_info *info = &registry[e];
  assert(info->http_status >= 400 && info->http_status <= 599);
  return info;
}
