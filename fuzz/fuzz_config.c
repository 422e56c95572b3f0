/*
 * fuzz/fuzz_config.c feeds arbitrary bytes to gh_config_load_string(): the YAML reader, the tree
 * builder (aliases, anchors, depth and size caps), the schema walk, the URL and address parsers
 * and validation. Every outcome must be a clean result or a formatted error; on success the
 * generation must validate again and free cleanly.
 */
#include "core/core.h"
#include "config/config.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gh_config *c = NULL;
    struct gh_config_error e;
    char msg[1024];
    enum gh_rc rc = gh_config_load_string("fuzz.yaml", (const char *)data, size, &c, &e);
    if (rc == GH_OK) {
        GH_BUG_ON(c == NULL);
        GH_BUG_ON(gh_config_validate(c, NULL) != GH_OK);
        gh_config_unref(gh_config_ref(c));
        gh_config_unref(c);
    } else {
        GH_BUG_ON(c != NULL);
        gh_config_error_format(&e, msg, sizeof(msg));
        GH_BUG_ON(strlen(msg) == 0);
    }
    return 0;
}
