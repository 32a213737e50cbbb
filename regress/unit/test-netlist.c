/*
 * Lists of networks (netlist.c): what the config may say, and which
 * addresses a list holds.
 */
#include <string.h>

#include "netlist.h"
#include "test.h"

static void
test_check(void)
{
	test_begin("netlist: good and bad lists");
	test_assert(netlist_check("") == NULL);
	test_assert(netlist_check("192.0.2.0/24  2001:db8::/32 198.51.100.7")
	    == NULL);
	test_assert(netlist_check("::/0 0.0.0.0/0") == NULL);
	test_assert(netlist_check("192.0.2.0/33") != NULL);
	test_assert(netlist_check("2001:db8::/129") != NULL);
	test_assert(netlist_check("192.0.2.0/") != NULL);
	test_assert(netlist_check("192.0.2.0/-1") != NULL);
	test_assert(netlist_check("example.org") != NULL);
	test_assert(netlist_check("192.0.2.0/24,10.0.0.0/8") != NULL);
	test_end();
}

static void
test_match(void)
{
	const char	*l = "192.0.2.0/24 10.1.2.128/25 2001:db8::/32 "
			    "198.51.100.7";

	test_begin("netlist: membership");
	test_assert(netlist_match(l, "192.0.2.1"));
	test_assert(netlist_match(l, "192.0.2.255"));
	test_assert(!netlist_match(l, "192.0.3.0"));
	test_assert(netlist_match(l, "10.1.2.200"));
	test_assert(!netlist_match(l, "10.1.2.127"));
	test_assert(netlist_match(l, "2001:db8:ffff::1"));
	test_assert(!netlist_match(l, "2001:db9::1"));
	test_assert(netlist_match(l, "198.51.100.7"));
	test_assert(!netlist_match(l, "198.51.100.8"));
	test_assert(!netlist_match(l, "not an address"));
	test_assert(!netlist_match("", "192.0.2.1"));
	test_assert(netlist_match("0.0.0.0/0", "203.0.113.9"));
	/* An IPv4 network holds no IPv6 address. */
	test_assert(!netlist_match("0.0.0.0/0", "::1"));
	test_end();
}

int
main(void)
{
	test_check();
	test_match();
	return test_exit();
}
