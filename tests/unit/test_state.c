/* Unit tests for state/: the in-process seen-once store (DPoP replay protection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "state/state.h"

#include <stdio.h>
#include <unistd.h>

static void first_use_then_replay(void **state)
{
    (void)state;
    struct gh_state *s = gh_state_new_memory(100);
    assert_int_equal(gh_state_once(s, GH_SLICE_LIT("dpop"), GH_SLICE_LIT("jti-1"), 60000), GH_OK);
    assert_int_equal(gh_state_once(s, GH_SLICE_LIT("dpop"), GH_SLICE_LIT("jti-1"), 60000),
                     GH_E_DECLINED);
    /* the same key in another namespace is another key */
    assert_int_equal(gh_state_once(s, GH_SLICE_LIT("other"), GH_SLICE_LIT("jti-1"), 60000), GH_OK);
    /* namespace and key cannot be shifted into each other */
    assert_int_equal(gh_state_once(s, GH_SLICE_LIT("dpopj"), GH_SLICE_LIT("ti-1"), 60000), GH_OK);
    assert_int_equal(gh_state_size(s), 3);
    gh_state_free(s);
}

static void expiry_makes_room(void **state)
{
    (void)state;
    struct gh_state *s = gh_state_new_memory(16);
    assert_int_equal(gh_state_once(s, GH_SLICE_LIT("n"), GH_SLICE_LIT("k"), 30), GH_OK);
    usleep(60 * 1000);
    assert_int_equal(gh_state_once(s, GH_SLICE_LIT("n"), GH_SLICE_LIT("k"), 30), GH_OK);
    gh_state_free(s);
}

static void full_store_fails_closed(void **state)
{
    (void)state;
    struct gh_state *s = gh_state_new_memory(32); /* a few per shard */
    char key[32];
    enum gh_rc last = GH_OK;
    int accepted = 0;
    for (int i = 0; i < 10000 && last == GH_OK; i++) {
        int n = snprintf(key, sizeof(key), "k%d", i);
        last = gh_state_once(s, GH_SLICE_LIT("n"), gh_slice(key, (size_t)n), 60000);
        accepted += last == GH_OK;
    }
    assert_int_equal(last, GH_E_LIMIT);
    assert_true(accepted >= 3 && accepted <= 64); /* per-shard caps: about max in all */
    gh_state_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_use_then_replay),
        cmocka_unit_test(expiry_makes_room),
        cmocka_unit_test(full_store_fails_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
