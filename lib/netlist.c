/*
 * Lists of networks (netlist.h).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "netlist.h"
#include "util.h"

struct net {
	int		 family;
	unsigned char	 addr[16];
	int		 bits;
};

/* One word (changed): 0, or -1. */
static int
net_parse(char *buf, struct net *n)
{
	char		*slash, *end;
	long		 bits;
	size_t		 alen;

	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		alen = 4;
	} else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		alen = 16;
	} else
		return -1;
	n->bits = (int)alen * 8;
	if (slash != NULL) {
		bits = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || bits < 0 ||
		    bits > n->bits)
			return -1;
		n->bits = (int)bits;
	}
	return 0;
}

static int
net_has(const struct net *n, int family, const unsigned char *a)
{
	int	 full = n->bits / 8, rest = n->bits % 8;

	if (family != n->family || memcmp(n->addr, a, (size_t)full) != 0)
		return 0;
	return rest == 0 || ((n->addr[full] ^ a[full]) &
	    (0xff << (8 - rest))) == 0;
}

const char *
netlist_check(const char *list)
{
	struct net	 n;
	char		 w[64];
	int		 r;

	if (strlen(list) >= NETLIST_MAX)
		return "the list is too long";
	while ((r = list_next(&list, w, sizeof(w))) != 0)
		if (r == -1 || net_parse(w, &n) == -1)
			return "expected addresses or networks (ADDRESS/BITS)"
			    " separated by spaces";
	return NULL;
}

int
netlist_match(const char *list, const char *ip)
{
	unsigned char	 a[16];
	struct net	 n;
	char		 w[64];
	int		 family, r;

	if (inet_pton(AF_INET, ip, a) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, ip, a) == 1)
		family = AF_INET6;
	else
		return 0;
	while ((r = list_next(&list, w, sizeof(w))) != 0)
		if (r == 1 && net_parse(w, &n) == 0 && net_has(&n, family, a))
			return 1;
	return 0;
}
