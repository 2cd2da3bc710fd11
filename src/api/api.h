/* api.h — every route handler, one group per file (named after the URL it serves).
 * The routing table in http/routes.c points at these. */
#ifndef MPS_API_API_H
#define MPS_API_API_H

#include "http/http.h"

/* api/health.c — GET /health, GET /health/deep */
void api_health(struct http_req *req);
void api_health_deep(struct http_req *req);
/* api/metrics.c — GET /metrics */
void api_metrics(struct http_req *req);

/* api/merchants.c — /admin/merchants*, GET /api/merchants/{merchantId} */
struct merchant;
json_t *merchant_json(const struct merchant *m);
void api_admin_merchants_create(struct http_req *req);
void api_admin_merchants_list(struct http_req *req);
void api_admin_merchants_get(struct http_req *req);
void api_admin_merchants_patch(struct http_req *req);
void api_admin_merchants_approve(struct http_req *req);
void api_admin_merchants_reject(struct http_req *req);
void api_admin_merchants_suspend(struct http_req *req);
void api_admin_merchants_reactivate(struct http_req *req);
void api_merchant_profile_get(struct http_req *req);

/* api/auth_mock.c — POST /api/auth/mock-login (MPS_DEV_MODE=1 only) */
json_t *principal_json(const struct principal *p);
void api_auth_mock_login(struct http_req *req);

/* api/auth_member.c — POST /api/auth/member/request-code, POST /api/auth/member/login */
void api_member_request_code(struct http_req *req);
void api_member_login(struct http_req *req);
/* api/merchant_onboard.c — POST /api/merchant/onboard */
void api_merchant_onboard(struct http_req *req);
/* api/users.c — /admin/users[/{id}], /api/merchants/{merchantId}/users[/{userId}] */
void api_users_list(struct http_req *req);
void api_users_create(struct http_req *req);
void api_users_get(struct http_req *req);
void api_users_patch(struct http_req *req);
/* api/payments.c — GET /api/wallet, POST /api/payment/quote, POST /api/payment/verify */
void api_wallet_get(struct http_req *req);
/* The checked merchant/member context of a money request: 0, or -1 with the reply set and
 * *result the job result to return. */
struct money_ctx;
int api_money_ctx(db_conn *c, struct http_req *req, const char *merchant_id, const char *user_id,
                  struct money_ctx *m, int *result);
void api_payment_quote(struct http_req *req);
void api_payment_verify(struct http_req *req);
/* The reply body of a created payment: the payment, its quote and, when a part is left to
 * pay outside the wallet, the payment intent (malloc'd JSON text, NULL when out of memory). */
struct payment;
char *api_payment_verify_reply(const struct payment *p, size_t *len);
/* api/refunds.c — POST /api/payment/refund */
void api_payment_refund(struct http_req *req);
/* api/wallet_ops.c — POST /api/merchant/grants, POST /api/wallet/topup,
 * GET|PUT /api/merchants/{merchantId}/topup-bonus-rules */
void api_grants_create(struct http_req *req);
void api_topup_create(struct http_req *req);
void api_topup_rules_get(struct http_req *req);
void api_topup_rules_put(struct http_req *req);
/* api/payment_callback.c — POST /api/payment/callback (public, signed) */
void api_payment_callback(struct http_req *req);
/* api/expiry.c — POST /admin/transactions/expire-due */
void api_admin_expire_due(struct http_req *req);
/* api/auth_login.c — POST /admin/login, POST /merchant/login, GET /api/me */
void api_admin_login(struct http_req *req);
void api_merchant_login(struct http_req *req);
void api_me(struct http_req *req);

/* api/stores.c, api/terminals.c, api/members.c — /api/merchants/{merchantId}/stores*,
 * /terminals*, /members* */
void api_stores_list(struct http_req *req);
void api_stores_create(struct http_req *req);
void api_stores_get(struct http_req *req);
void api_stores_patch(struct http_req *req);
void api_terminals_list(struct http_req *req);
void api_terminals_create(struct http_req *req);
void api_terminals_get(struct http_req *req);
void api_terminals_patch(struct http_req *req);
void api_members_list(struct http_req *req);
void api_members_create(struct http_req *req);
void api_members_get(struct http_req *req);
void api_members_patch(struct http_req *req);

/* api/audit_logs.c — GET /admin/audit-logs, GET /api/audit/logs */
void api_admin_audit_logs(struct http_req *req);
void api_audit_logs(struct http_req *req);

/* api/transactions.c — GET /api/merchants/{merchantId}/transactions[/{paymentTxnId}],
 * GET /admin/transactions[/{paymentTxnId}] */
void api_transactions_list(struct http_req *req);
void api_transactions_get(struct http_req *req);
void api_admin_transactions_list(struct http_req *req);
void api_admin_transactions_get(struct http_req *req);
/* api/ledger_entries.c — GET /admin/ledger-entries, GET /api/merchants/{merchantId}/ledger-entries */
void api_admin_ledger_entries(struct http_req *req);
void api_ledger_entries(struct http_req *req);

#endif
