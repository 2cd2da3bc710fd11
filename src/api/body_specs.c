/* body_specs.c — the list of published JSON body specs (see body_specs.h). */
#include "api/body_specs.h"

static const struct api_body_spec *const all[] = {
    &api_spec_payment,     &api_spec_refund,       &api_spec_topup,       &api_spec_grant,
    &api_spec_topup_rules, &api_spec_topup_rule,   &api_spec_callback,    &api_spec_login,
    &api_spec_member_code, &api_spec_member_login, &api_spec_onboard,
};

const struct api_body_spec *const *api_body_specs(size_t *count) {
  *count = sizeof all / sizeof all[0];
  return all;
}
