/* Unit tests for admin/prm.c: RFC 9728 Protected Resource Metadata documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "admin/admin.h"

static struct gh_config_auth *auth_example(enum gh_config_dpop_mode dpop)
{
    struct gh_config_auth *a = gh_config_auth_new();
    a->resource = gh_xstrdup("https://gw.example.com");
    a->n_issuers = 1;
    a->issuers = gh_xcalloc(1, sizeof(*a->issuers));
    a->issuers[0].issuer = gh_xstrdup("https://idp.example.com");
    a->issuers[0].algorithms = GH_ALG_ES256;
    a->issuers[0].dpop = dpop;
    a->dpop.algorithms = GH_ALG_ES256 | GH_ALG_EDDSA;
    a->scopes.n_required = 1;
    a->scopes.required = gh_xcalloc(1, sizeof(char *));
    a->scopes.required[0] = gh_xstrdup("mcp");
    a->scopes.n_methods = 1;
    a->scopes.methods = gh_xcalloc(1, sizeof(*a->scopes.methods));
    a->scopes.methods[0].name = gh_xstrdup("tools/call");
    a->scopes.methods[0].n_scopes = 2;
    a->scopes.methods[0].scopes = gh_xcalloc(2, sizeof(char *));
    a->scopes.methods[0].scopes[0] = gh_xstrdup("mcp:tools");
    a->scopes.methods[0].scopes[1] = gh_xstrdup("mcp"); /* listed once in the document */
    return a;
}

static void root_and_path_documents(void **state)
{
    (void)state;
    struct gh_config_auth *a = auth_example(GH_CONFIG_DPOP_OFF);
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    assert_int_equal(gh_admin_prm_document(a, GH_SLICE_LIT("/mcp"), &b), GH_OK);
    gh_buf_append(&b, "", 1);
    assert_string_equal(b.data,
                        "{\"resource\":\"https://gw.example.com/mcp\","
                        "\"authorization_servers\":[\"https://idp.example.com\"],"
                        "\"scopes_supported\":[\"mcp\",\"mcp:tools\"],"
                        "\"bearer_methods_supported\":[\"header\"],\"resource_name\":\"Gatehouse\"}");
    gh_buf_clear(&b);
    gh_admin_prm_document(a, gh_slice("", 0), &b);
    gh_buf_append(&b, "", 1);
    assert_non_null(strstr(b.data, "\"resource\":\"https://gw.example.com\","));
    gh_buf_release(&b);
    gh_config_auth_free(a);
}

static void dpop_algorithms_when_accepted(void **state)
{
    (void)state;
    struct gh_config_auth *a = auth_example(GH_CONFIG_DPOP_REQUIRED);
    struct gh_buf b;
    gh_buf_init(&b, 4096);
    gh_admin_prm_document(a, GH_SLICE_LIT("/mcp"), &b);
    gh_buf_append(&b, "", 1);
    assert_non_null(strstr(b.data, ",\"dpop_signing_alg_values_supported\":[\"ES256\",\"EdDSA\"],"
                                   "\"dpop_bound_access_tokens_required\":true}"));
    gh_buf_release(&b);
    gh_config_auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(root_and_path_documents),
        cmocka_unit_test(dpop_algorithms_when_accepted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
