/*
 * fuzz/fuzz_config.c feeds arbitrary bytes to gh_config_load_string(): the YAML reader, the tree
 * builder (aliases, anchors, depth and size caps), the schema walk, the URL and address parsers
 * and validation, then the policy: compiler (rules, argument constraints and their regular
 * expressions, pinning, PDP). Every outcome must be a clean result or a formatted error; on
 * success the generation must validate again and free cleanly.
 */
#include "core/core.h"
#include "config/config.h"
#include "policy/policy.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void lint_sink(void *arg, const struct gh_policy_finding *f)
{
    (void)arg;
    GH_BUG_ON(f->msg[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_config *c = NULL;
    struct gh_config_error e;
    char msg[1024];
    enum gh_rc rc = gh_config_load_string("fuzz.yaml", (const char *)data, size, &c, &e);
    if (rc == GH_OK) {
        GH_BUG_ON(c == NULL);
        GH_BUG_ON(gh_config_validate(c, NULL) != GH_OK);
        /* include: reads files (a FIFO would block the fuzzer): compiled only without it */
        if (!memmem(data, size, "include", 7)) {
            struct gh_policy *p = NULL;
            struct gh_config_error pe = {0};
            if (gh_policy_compile(c, c->policy, &p, &pe) == GH_OK)
                gh_policy_lint(p, lint_sink, NULL);
            else
                GH_BUG_ON(p != NULL || pe.msg[0] == '\0');
            gh_policy_unref(p);
        }
        gh_config_unref(gh_config_ref(c));
        gh_config_unref(c);
    } else {
        GH_BUG_ON(c != NULL);
        gh_config_error_format(&e, msg, sizeof(msg));
        GH_BUG_ON(strlen(msg) == 0);
    }
    return 0;
}
