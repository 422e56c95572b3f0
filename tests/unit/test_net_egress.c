/* Unit tests for net/egress.c: the SSRF guard's address classes and verdicts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "core/core.h"
#include "net/net.h"

static enum gh_net_addr_class cls(const char *hp)
{
    struct gh_net_addr a;
    assert_int_equal(gh_net_addr_parse(hp, &a), GH_OK);
    return gh_net_addr_classify(&a);
}

static void classes(void **state)
{
    (void)state;
    assert_int_equal(cls("8.8.8.8:443"), GH_NET_ADDR_PUBLIC);
    assert_int_equal(cls("127.0.0.1:80"), GH_NET_ADDR_LOOPBACK);
    assert_int_equal(cls("127.255.0.9:80"), GH_NET_ADDR_LOOPBACK);
    assert_int_equal(cls("10.1.2.3:80"), GH_NET_ADDR_PRIVATE);
    assert_int_equal(cls("172.16.0.1:80"), GH_NET_ADDR_PRIVATE);
    assert_int_equal(cls("172.31.255.1:80"), GH_NET_ADDR_PRIVATE);
    assert_int_equal(cls("172.32.0.1:80"), GH_NET_ADDR_PUBLIC);
    assert_int_equal(cls("192.168.1.1:80"), GH_NET_ADDR_PRIVATE);
    assert_int_equal(cls("100.64.0.1:80"), GH_NET_ADDR_PRIVATE);
    assert_int_equal(cls("169.254.169.254:80"), GH_NET_ADDR_LINKLOCAL); /* cloud metadata */
    assert_int_equal(cls("0.0.0.0:80"), GH_NET_ADDR_RESERVED);
    assert_int_equal(cls("224.0.0.1:80"), GH_NET_ADDR_RESERVED);
    assert_int_equal(cls("255.255.255.255:80"), GH_NET_ADDR_RESERVED);
    assert_int_equal(cls("[::1]:80"), GH_NET_ADDR_LOOPBACK);
    assert_int_equal(cls("[fd00::1]:80"), GH_NET_ADDR_PRIVATE);
    assert_int_equal(cls("[fe80::1]:80"), GH_NET_ADDR_LINKLOCAL);
    assert_int_equal(cls("[::]:80"), GH_NET_ADDR_RESERVED);
    assert_int_equal(cls("[ff02::1]:80"), GH_NET_ADDR_RESERVED);
    assert_int_equal(cls("[2606:4700::1111]:80"), GH_NET_ADDR_PUBLIC);
    /* IPv4 inside IPv6 is judged as the IPv4 it names */
    assert_int_equal(cls("[::ffff:169.254.169.254]:80"), GH_NET_ADDR_LINKLOCAL);
    assert_int_equal(cls("[::ffff:127.0.0.1]:80"), GH_NET_ADDR_LOOPBACK);
    assert_int_equal(cls("[64:ff9b::10.0.0.1]:80"), GH_NET_ADDR_PRIVATE);
    assert_int_equal(cls("[::127.0.0.1]:80"), GH_NET_ADDR_RESERVED);
}

static void verdicts(void **state)
{
    (void)state;
    struct gh_net_addr a;
    gh_net_addr_parse("169.254.169.254:80", &a);
    assert_int_equal(gh_net_egress_allowed(&a, true, false), GH_DENY);
    assert_int_equal(gh_net_egress_allowed(&a, false, true), GH_ALLOW);
    gh_net_addr_parse("127.0.0.1:80", &a);
    assert_int_equal(gh_net_egress_allowed(&a, false, true), GH_DENY);
    assert_int_equal(gh_net_egress_allowed(&a, true, false), GH_ALLOW);
    gh_net_addr_parse("0.0.0.0:80", &a);
    assert_int_equal(gh_net_egress_allowed(&a, true, true), GH_DENY);
    gh_net_addr_parse("1.1.1.1:443", &a);
    assert_int_equal(gh_net_egress_allowed(&a, false, false), GH_ALLOW);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classes),
        cmocka_unit_test(verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
