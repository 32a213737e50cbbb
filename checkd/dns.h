/*
 * checkd's name lookups: blocking queries through libunbound, made on
 * the worker threads (ub_resolve is thread-safe), and the DNS layer
 * that libspf2 asks through them.
 */
#ifndef OSMS_CHECKD_DNS_H
#define OSMS_CHECKD_DNS_H

#include <stddef.h>

struct ub_ctx;
struct ub_result;
struct SPF_dns_server_struct;

#define DNS_T_A		1
#define DNS_T_MX	15
#define DNS_T_PTR	12
#define DNS_T_TXT	16
#define DNS_T_AAAA	28

enum dns_status {
	DNS_FOUND,		/* records of that type */
	DNS_NONE,		/* no such name, or no such records */
	DNS_TEMP,		/* no answer now (timeout, SERVFAIL, bogus) */
};

/* One query: the answer in *res (ub_resolve_free() it) if found. */
enum dns_status	 dns_query(struct ub_ctx *, const char *name, int type,
		    struct ub_result **res);

/*
 * The first TXT record of name that starts with prefix (case ignored,
 * "" for any) into out: DNS_FOUND, DNS_NONE (also when none matches or
 * all are malformed) or DNS_TEMP. *count is set to how many matched.
 */
enum dns_status	 dns_txt(struct ub_ctx *, const char *name,
		    const char *prefix, char *out, size_t size, int *count);

/* A libspf2 DNS layer that asks ctx; the SPF server does not free a
 * layer it was given: free() it after SPF_server_free(). */
struct SPF_dns_server_struct *dns_spf_layer(struct ub_ctx *ctx);

#endif
