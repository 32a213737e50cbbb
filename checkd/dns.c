/*
 * checkd's lookups (dns.h). Every answer is hostile: records are read
 * with dnsrr.c's bounds, and what does not parse counts as absent.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>
#include <unbound.h>

#include "dns.h"
#include "dnsrr.h"
#include "util.h"

#define DNS_MAX_TXT	4096	/* one record, strings joined */
#define DNS_MAX_RRS	64	/* records of one answer used */

enum dns_status
dns_query(struct ub_ctx *ctx, const char *name, int type,
    struct ub_result **res)
{
	*res = NULL;
	if (ctx == NULL || ub_resolve(ctx, name, type, 1, res) != 0 ||
	    *res == NULL)
		return DNS_TEMP;
	/* RFC 7208 2.6.7, RFC 6376 6.1.2: a server failure is temporary;
	 * so is an answer that fails DNSSEC validation. */
	if ((*res)->bogus || ((*res)->rcode != 0 && (*res)->rcode != 3)) {
		ub_resolve_free(*res);
		*res = NULL;
		return DNS_TEMP;
	}
	if (!(*res)->havedata) {
		ub_resolve_free(*res);
		*res = NULL;
		return DNS_NONE;
	}
	return DNS_FOUND;
}

enum dns_status
dns_txt(struct ub_ctx *ctx, const char *name, const char *prefix, char *out,
    size_t size, int *count)
{
	struct ub_result	*res;
	enum dns_status		 st;
	char			*txt;
	size_t			 plen = strlen(prefix);
	int			 i;

	*count = 0;
	if ((st = dns_query(ctx, name, DNS_T_TXT, &res)) != DNS_FOUND)
		return st;
	txt = xmalloc(DNS_MAX_TXT);
	for (i = 0; i < DNS_MAX_RRS && res->data[i] != NULL; i++) {
		if (res->len[i] < 0 || dnsrr_txt((unsigned char *)res->data[i],
		    (size_t)res->len[i], txt, DNS_MAX_TXT) == -1 ||
		    strncasecmp(txt, prefix, plen) != 0)
			continue;
		if ((*count)++ == 0)
			(void)osms_strlcpy(out, txt, size);
	}
	free(txt);
	ub_resolve_free(res);
	return *count > 0 ? DNS_FOUND : DNS_NONE;
}

/*
 * The libspf2 layer: the answer as libspf2's own resolver would build
 * it (A and AAAA as addresses, MX and PTR as names, TXT joined), and
 * h_errno's words for what went wrong.
 */
static SPF_dns_rr_t *
spf_lookup(SPF_dns_server_t *layer, const char *domain, ns_type type,
    int should_cache)
{
	struct ub_result	*res;
	SPF_dns_rr_t		*rr;
	enum dns_status		 st;
	char			 text[DNS_MAX_TXT];
	const unsigned char	*d;
	size_t			 len, need;
	uint16_t		 pref;
	int			 i, n = 0;

	(void)should_cache;
	st = dns_query(layer->hook, domain, (int)type, &res);
	if (st != DNS_FOUND)
		return SPF_dns_rr_new_init(layer, domain, type, 0,
		    st == DNS_TEMP ? TRY_AGAIN : HOST_NOT_FOUND);
	rr = SPF_dns_rr_new_init(layer, domain, type, res->ttl,
	    NETDB_SUCCESS);
	for (i = 0; rr != NULL && i < DNS_MAX_RRS && res->data[i] != NULL;
	    i++) {
		d = (const unsigned char *)res->data[i];
		len = res->len[i] < 0 ? 0 : (size_t)res->len[i];
		switch (type) {
		case ns_t_a:
			if (len != sizeof(struct in_addr))
				continue;
			need = len;
			break;
		case ns_t_aaaa:
			if (len != sizeof(struct in6_addr))
				continue;
			need = len;
			break;
		case ns_t_mx:
			if (dnsrr_mx(d, len, &pref, text, sizeof(text)) == -1)
				continue;
			need = strlen(text) + 1;
			break;
		case ns_t_ptr:
			if (dnsrr_ptr(d, len, text, sizeof(text)) == -1)
				continue;
			need = strlen(text) + 1;
			break;
		case ns_t_txt:
		case ns_t_spf:
			if (dnsrr_txt(d, len, text, sizeof(text)) == -1)
				continue;
			need = strlen(text) + 1;
			break;
		default:
			continue;
		}
		if (SPF_dns_rr_buf_realloc(rr, n, need) != SPF_E_SUCCESS)
			break;
		if (type == ns_t_a || type == ns_t_aaaa)
			memcpy(rr->rr[n], d, len);
		else
			memcpy(rr->rr[n], text, need);
		n++;
	}
	ub_resolve_free(res);
	if (rr != NULL) {
		rr->num_rr = n;
		if (n == 0)
			rr->herrno = NO_DATA;
	}
	return rr;
}

SPF_dns_server_t *
dns_spf_layer(struct ub_ctx *ctx)
{
	SPF_dns_server_t	*layer = xcalloc(1, sizeof(*layer));

	layer->lookup = spf_lookup;
	layer->name = "osms";
	layer->hook = ctx;
	return layer;
}
