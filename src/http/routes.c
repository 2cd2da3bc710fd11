/* routes.c — THE routing table and THE permission table, in one: method, path pattern,
 * handler, the file the handler lives in, the roles allowed (common/roles.h) and the rate
 * class. docs/openapi.yaml and docs/rbac.md are checked against it by tests
 * (`mpsd --routes` prints it). Keep it grouped by path. */
#include "api/api.h"
#include "common/roles.h"
#include "http/ratelimit.h"
#include "http/router.h"

#define PLATFORM_ADMIN R_P_ADMIN
#define PLATFORM_ALL R_PLATFORM_ALL
#define MERCHANT_READ (R_PLATFORM_ALL | R_MERCHANT_ALL)
#define W RATE_ADMIN_WRITE
/* money: members act for themselves, till staff for a member */
#define TILL (R_MEMBER | R_M_OWNER | R_M_MANAGER | R_M_CLERK)
#define WALLET_READ (TILL | R_M_FINANCE | R_M_OPS | R_M_VIEWER | R_P_ADMIN | R_P_FINANCE | R_P_SUPPORT | R_P_VIEWER)
#define STORE_WRITE (R_P_ADMIN | R_P_OPS | R_M_OWNER | R_M_MANAGER)
#define TERMINAL_WRITE (STORE_WRITE | R_M_OPS)
#define MEMBER_READ (R_P_ADMIN | R_P_SUPPORT | R_P_VIEWER | R_M_OWNER | R_M_MANAGER | R_M_CLERK)

static const struct route table[] = {
    /* operations */
    {"GET", "/health", api_health, "src/api/health.c", R_PUBLIC, 0},
    {"GET", "/health/deep", api_health_deep, "src/api/health.c", R_PUBLIC, 0},
    {"GET", "/metrics", api_metrics, "src/api/metrics.c", R_PUBLIC, 0},

    /* authentication */
    {"POST", "/api/auth/mock-login", api_auth_mock_login, "src/api/auth_mock.c", R_PUBLIC, RATE_LOGIN},
    {"POST", "/admin/login", api_admin_login, "src/api/auth_login.c", R_PUBLIC, RATE_LOGIN},
    {"POST", "/merchant/login", api_merchant_login, "src/api/auth_login.c", R_PUBLIC, RATE_LOGIN},
    {"GET", "/api/me", api_me, "src/api/auth_login.c", R_ANY_AUTH, 0},
    {"POST", "/api/auth/member/request-code", api_member_request_code, "src/api/auth_member.c", R_PUBLIC, RATE_LOGIN},
    {"POST", "/api/auth/member/login", api_member_login, "src/api/auth_member.c", R_PUBLIC, RATE_LOGIN},

    /* merchants (platform) */
    {"GET", "/admin/merchants", api_admin_merchants_list, "src/api/merchants.c", PLATFORM_ALL, 0},
    {"POST", "/admin/merchants", api_admin_merchants_create, "src/api/merchants.c", PLATFORM_ADMIN, W},
    {"GET", "/admin/merchants/{id}", api_admin_merchants_get, "src/api/merchants.c", PLATFORM_ALL, 0},
    {"PATCH", "/admin/merchants/{id}", api_admin_merchants_patch, "src/api/merchants.c", R_P_ADMIN | R_P_OPS, W},
    {"POST", "/admin/merchants/{id}/approve", api_admin_merchants_approve, "src/api/merchants.c", PLATFORM_ADMIN, W},
    {"POST", "/admin/merchants/{id}/reject", api_admin_merchants_reject, "src/api/merchants.c", PLATFORM_ADMIN, W},
    {"POST", "/admin/merchants/{id}/suspend", api_admin_merchants_suspend, "src/api/merchants.c", PLATFORM_ADMIN, W},
    {"POST", "/admin/merchants/{id}/reactivate", api_admin_merchants_reactivate, "src/api/merchants.c", PLATFORM_ADMIN, W},

    {"POST", "/api/merchant/onboard", api_merchant_onboard, "src/api/merchant_onboard.c", R_PUBLIC, RATE_CALLBACK},

    /* platform users */
    {"GET", "/admin/users", api_users_list, "src/api/users.c", R_P_ADMIN | R_P_SUPPORT | R_P_VIEWER, 0},
    {"POST", "/admin/users", api_users_create, "src/api/users.c", R_P_ADMIN, W},
    {"GET", "/admin/users/{id}", api_users_get, "src/api/users.c", R_P_ADMIN | R_P_SUPPORT | R_P_VIEWER, 0},
    {"PATCH", "/admin/users/{id}", api_users_patch, "src/api/users.c", R_P_ADMIN, W},

    /* a merchant's own data (merchant staff: their merchant only; platform staff: any) */
    {"GET", "/api/merchants/{merchantId}", api_merchant_profile_get, "src/api/merchants.c", MERCHANT_READ, 0},
    {"GET", "/api/merchants/{merchantId}/users", api_users_list, "src/api/users.c", R_P_ADMIN | R_P_SUPPORT | R_P_VIEWER | R_M_OWNER | R_M_MANAGER, 0},
    {"POST", "/api/merchants/{merchantId}/users", api_users_create, "src/api/users.c", R_P_ADMIN | R_M_OWNER, W},
    {"GET", "/api/merchants/{merchantId}/users/{userId}", api_users_get, "src/api/users.c", R_P_ADMIN | R_P_SUPPORT | R_P_VIEWER | R_M_OWNER | R_M_MANAGER, 0},
    {"PATCH", "/api/merchants/{merchantId}/users/{userId}", api_users_patch, "src/api/users.c", R_P_ADMIN | R_M_OWNER, W},

    /* stores, terminals, members of a merchant (its staff: their merchant only; platform: any) */
    {"GET", "/api/merchants/{merchantId}/stores", api_stores_list, "src/api/stores.c", MERCHANT_READ, 0},
    {"POST", "/api/merchants/{merchantId}/stores", api_stores_create, "src/api/stores.c", STORE_WRITE, W},
    {"GET", "/api/merchants/{merchantId}/stores/{storeId}", api_stores_get, "src/api/stores.c", MERCHANT_READ, 0},
    {"PATCH", "/api/merchants/{merchantId}/stores/{storeId}", api_stores_patch, "src/api/stores.c", STORE_WRITE, W},
    {"GET", "/api/merchants/{merchantId}/terminals", api_terminals_list, "src/api/terminals.c", MERCHANT_READ, 0},
    {"POST", "/api/merchants/{merchantId}/terminals", api_terminals_create, "src/api/terminals.c", TERMINAL_WRITE, W},
    {"GET", "/api/merchants/{merchantId}/terminals/{terminalId}", api_terminals_get, "src/api/terminals.c", MERCHANT_READ, 0},
    {"PATCH", "/api/merchants/{merchantId}/terminals/{terminalId}", api_terminals_patch, "src/api/terminals.c", TERMINAL_WRITE, W},
    {"GET", "/api/merchants/{merchantId}/members", api_members_list, "src/api/members.c", MEMBER_READ, 0},
    {"POST", "/api/merchants/{merchantId}/members", api_members_create, "src/api/members.c", R_P_ADMIN | R_M_OWNER | R_M_MANAGER | R_M_CLERK, W},
    {"GET", "/api/merchants/{merchantId}/members/{memberId}", api_members_get, "src/api/members.c", MEMBER_READ, 0},
    {"PATCH", "/api/merchants/{merchantId}/members/{memberId}", api_members_patch, "src/api/members.c", R_P_ADMIN | R_P_SUPPORT | R_M_OWNER | R_M_MANAGER, W},

    /* audit log (platform: all or one merchant, decisions.md D16; merchant: its own) */
    {"GET", "/admin/audit-logs", api_admin_audit_logs, "src/api/audit_logs.c", R_P_ADMIN | R_P_OPS | R_P_SUPPORT | R_P_VIEWER, 0},
    {"GET", "/api/audit/logs", api_audit_logs, "src/api/audit_logs.c", R_PLATFORM_ALL | R_M_OWNER | R_M_MANAGER | R_M_CLERK, 0},

    /* money: wallets and payments */
    {"GET", "/api/wallet", api_wallet_get, "src/api/payments.c", WALLET_READ, 0},
    {"POST", "/api/payment/quote", api_payment_quote, "src/api/payments.c", TILL, 0},
    {"POST", "/api/payment/verify", api_payment_verify, "src/api/payments.c", TILL, 0},
    {"POST", "/api/payment/refund", api_payment_refund, "src/api/refunds.c", R_M_OWNER | R_M_MANAGER | R_M_FINANCE, 0},
    {"POST", "/api/wallet/topup", api_topup_create, "src/api/wallet_ops.c", TILL, 0},
    {"POST", "/api/merchant/grants", api_grants_create, "src/api/wallet_ops.c", R_M_OWNER | R_M_MANAGER | R_P_ADMIN, W},
    {"GET", "/api/merchants/{merchantId}/topup-bonus-rules", api_topup_rules_get, "src/api/wallet_ops.c", MERCHANT_READ, 0},
    {"PUT", "/api/merchants/{merchantId}/topup-bonus-rules", api_topup_rules_put, "src/api/wallet_ops.c", R_M_OWNER | R_M_MANAGER | R_P_ADMIN, W},

    /* money: gateway callbacks (signed, decisions.md D27) and expiry of pending payments */
    {"POST", "/api/payment/callback", api_payment_callback, "src/api/payment_callback.c", R_PUBLIC, RATE_CALLBACK},
    {"POST", "/admin/transactions/expire-due", api_admin_expire_due, "src/api/expiry.c", R_P_ADMIN | R_P_OPS, W},

    /* money: transactions (members: only their own) and the ledger, read-only */
    {"GET", "/api/merchants/{merchantId}/transactions", api_transactions_list, "src/api/transactions.c", R_MERCHANT_ALL | R_P_ADMIN | R_P_FINANCE | R_P_SUPPORT | R_P_VIEWER | R_MEMBER, 0},
    {"GET", "/api/merchants/{merchantId}/transactions/{paymentTxnId}", api_transactions_get, "src/api/transactions.c", R_MERCHANT_ALL | R_P_ADMIN | R_P_FINANCE | R_P_SUPPORT | R_P_VIEWER | R_MEMBER, 0},
    {"GET", "/admin/transactions", api_admin_transactions_list, "src/api/transactions.c", R_PLATFORM_ALL, 0},
    {"GET", "/admin/transactions/{paymentTxnId}", api_admin_transactions_get, "src/api/transactions.c", R_PLATFORM_ALL, 0},
    {"GET", "/admin/ledger-entries", api_admin_ledger_entries, "src/api/ledger_entries.c", R_P_ADMIN | R_P_FINANCE | R_P_VIEWER, 0},
    {"GET", "/api/merchants/{merchantId}/ledger-entries", api_ledger_entries, "src/api/ledger_entries.c", R_M_OWNER | R_M_FINANCE | R_P_ADMIN | R_P_FINANCE, 0},
};

const struct route *routes_table(size_t *count) {
  *count = sizeof table / sizeof table[0];
  return table;
}
