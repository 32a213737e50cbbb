/*
 * A libunbound context as osms sets it up for every role that resolves
 * names (the mta, checkd): forwarding to the configured resolver or to
 * the nameservers of resolv.conf (read by the parent, handed over as
 * text), validating with the trust anchors given, and answering names
 * under "test." from a named resolver (RFC 6761 6.2) so that a lab or
 * the test suite can serve such zones.
 */
#ifndef OSMS_RESOLVER_H
#define OSMS_RESOLVER_H

struct ub_ctx;

/*
 * A new context: resolver "" means resolv_conf's nameservers (NULL or
 * none: the root servers); trust_anchor (NULL: none) holds DS or DNSKEY
 * lines. async: answers come through ub_fd() on this process's threads.
 * NULL on error, logged with who ("mta").
 */
struct ub_ctx	*resolver_new(const char *resolver, const char *resolv_conf,
		    const char *trust_anchor, int async, const char *who);

#endif
