/*
 * Lists of networks as the config writes them: words separated by
 * spaces, each an IPv4 or IPv6 address with an optional prefix length
 * ("192.0.2.0/24 2001:db8::/32 198.51.100.7").
 */
#ifndef OSMS_NETLIST_H
#define OSMS_NETLIST_H

#define NETLIST_MAX	1024	/* bytes of a list */

/* NULL if list is a good list (or empty), else why not. */
const char	*netlist_check(const char *list);

/* 1 if the address ip is in one of list's networks, else 0. */
int		 netlist_match(const char *list, const char *ip);

#endif
