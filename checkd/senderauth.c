/*
 * Sender authentication (senderauth.h). The libraries never resolve on
 * their own: libspf2 asks through dns.c's layer, libopendkim through
 * the key lookup below, and the DMARC record is fetched here and handed
 * to libopendmarc, so every answer comes from the configured resolver.
 */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendkim/dkim.h>
#include <opendmarc/dmarc.h>
#include <spf2/spf.h>
#include <unbound.h>

#include "dns.h"
#include "log.h"
#include "senderauth.h"
#include "util.h"

#define SA_MAX_RECORD	4096	/* a DKIM key or DMARC record */

/* Not in dmarc.h, but exported: the organizational domain (RFC 7489
 * 3.2) by the public suffix list read with opendmarc_tld_read_file. */
int	 opendmarc_get_tld(u_char *, u_char *, size_t);

static DKIM_LIB		*dkim_lib;
static OPENDMARC_LIB_T	 dmarc_lib;

/*
 * libspf2 reports through these; an "error" is an internal assertion
 * that it never returns from.
 */
static _Noreturn void
spf_error(const char *file, int line, const char *msg)
{
	fatalx("libspf2: %s:%d: %s", file, line, msg);
}

static void
spf_debug(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	log_debug("libspf2: %s", msg);
}

/*
 * The key of a signature: the TXT record at SELECTOR._domainkey.DOMAIN
 * (RFC 6376 3.6.2.2), through our resolver.
 */
static DKIM_CBSTAT
dkim_key(DKIM *dkim, DKIM_SIGINFO *sig, u_char *buf, size_t buflen)
{
	struct ub_ctx	*ctx = dkim_get_user_context(dkim);
	const char	*sel = (const char *)dkim_sig_getselector(sig);
	const char	*dom = (const char *)dkim_sig_getdomain(sig);
	char		 name[320];
	int		 n, count;

	if (sel == NULL || dom == NULL)
		return DKIM_CBSTAT_ERROR;
	n = snprintf(name, sizeof(name), "%s._domainkey.%s", sel, dom);
	if (n < 0 || (size_t)n >= sizeof(name))
		return DKIM_CBSTAT_NOTFOUND;
	switch (dns_txt(ctx, name, "", (char *)buf, buflen, &count)) {
	case DNS_FOUND:
		return DKIM_CBSTAT_CONTINUE;
	case DNS_NONE:
		return DKIM_CBSTAT_NOTFOUND;
	default:
		return DKIM_CBSTAT_TRYAGAIN;
	}
}

int
sa_init(const char *psl, char *err, size_t errsize)
{
	unsigned int	 flags = DKIM_LIBFLAGS_FIXCRLF;

	SPF_error_handler = spf_error;
	SPF_warning_handler = spf_debug;
	SPF_info_handler = spf_debug;
	SPF_debug_handler = spf_debug;
	if ((dkim_lib = dkim_init(NULL, NULL)) == NULL ||
	    dkim_options(dkim_lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
	    sizeof(flags)) != DKIM_STAT_OK ||
	    dkim_set_key_lookup(dkim_lib, dkim_key) != DKIM_STAT_OK) {
		(void)snprintf(err, errsize, "libopendkim does not start");
		return -1;
	}
	memset(&dmarc_lib, 0, sizeof(dmarc_lib));
	dmarc_lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	(void)osms_strlcpy((char *)dmarc_lib.tld_source_file, psl,
	    sizeof(dmarc_lib.tld_source_file));
	if (opendmarc_policy_library_init(&dmarc_lib) != DMARC_PARSE_OKAY) {
		(void)snprintf(err, errsize, "libopendmarc does not start with"
		    " the public suffix list %s", psl);
		return -1;
	}
	return 0;
}

/*
 * SPF.
 */

static enum ar_result
spf_word(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_PASS:
		return AR_PASS;
	case SPF_RESULT_FAIL:
		return AR_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return AR_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return AR_NEUTRAL;
	case SPF_RESULT_TEMPERROR:
		return AR_TEMPERROR;
	case SPF_RESULT_PERMERROR:
		return AR_PERMERROR;
	default:
		return AR_NONE;
	}
}

/* A domain that SPF can check: a dotted name, not an address literal. */
static int
spf_domain_ok(const char *d)
{
	size_t	 n = strlen(d);

	return n > 0 && n < AR_MAX_DOMAIN && d[0] != '[' &&
	    strchr(d, '.') != NULL && strspn(d, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

/* check_host() for sender (an address with a domain) from ip. */
static enum ar_result
spf_query(SPF_server_t *srv, const char *ip, const char *helo,
    const char *sender)
{
	SPF_request_t	*req;
	SPF_response_t	*resp = NULL;
	SPF_errcode_t	 err;
	enum ar_result	 r = AR_NONE;
	const char	*at = strrchr(sender, '@');

	if (at == NULL || !spf_domain_ok(at + 1) ||
	    (req = SPF_request_new(srv)) == NULL)
		return AR_NONE;
	if ((strchr(ip, ':') != NULL ? SPF_request_set_ipv6_str(req, ip) :
	    SPF_request_set_ipv4_str(req, ip)) != SPF_E_SUCCESS ||
	    SPF_request_set_helo_dom(req, helo) != SPF_E_SUCCESS ||
	    SPF_request_set_env_from(req, sender) != 0)
		goto done;
	err = SPF_request_query_mailfrom(req, &resp);
	if (resp != NULL)
		r = spf_word(SPF_response_result(resp));
	/* A record that does not compile gives no result, only an error. */
	if (resp == NULL || SPF_response_result(resp) == SPF_RESULT_INVALID)
		r = AR_PERMERROR;
	log_debug("checkd: spf %s from %s: %s (%d)", sender, ip,
	    authres_word(r), (int)err);
done:
	if (resp != NULL)
		SPF_response_free(resp);
	SPF_request_free(req);
	return r;
}

static void
check_spf(struct ub_ctx *ctx, const struct sa_input *in, struct authres *ar)
{
	SPF_server_t	*srv;
	SPF_dns_server_t *layer = dns_spf_layer(ctx);
	char		 helo_id[AR_MAX_DOMAIN + 16];

	ar->spf_checked = 1;
	if ((srv = SPF_server_new_dns(layer, 0)) == NULL) {
		ar->spf = ar->spf_helo = AR_TEMPERROR;
		free(layer);
		return;
	}
	(void)SPF_server_set_rec_dom(srv, in->hostname);
	/* RFC 7208 2.3: the HELO identity is postmaster@HELO; it stands
	 * for the sender too when the reverse path is null (2.4). */
	(void)snprintf(helo_id, sizeof(helo_id), "postmaster@%s", in->helo);
	ar->spf_helo = spf_domain_ok(in->helo) ? spf_query(srv, in->ip,
	    in->helo, helo_id) : AR_NONE;
	ar->spf = in->sender[0] != '\0' ? spf_query(srv, in->ip, in->helo,
	    in->sender) : ar->spf_helo;
	SPF_server_free(srv);
	free(layer);
}

/*
 * DKIM: every signature, each with its own result.
 */

static void
dkim_result(DKIM_SIGINFO *sig, struct ar_dkim *d)
{
	const char	*dom = (const char *)dkim_sig_getdomain(sig);
	const char	*sel = (const char *)dkim_sig_getselector(sig);
	int		 err = dkim_sig_geterror(sig);

	(void)osms_strlcpy(d->domain, dom != NULL ? dom : "",
	    sizeof(d->domain));
	(void)osms_strlcpy(d->selector, sel != NULL ? sel : "",
	    sizeof(d->selector));
	if (DKIM_SIG_CHECK(sig)) {
		d->result = AR_PASS;
		return;
	}
	switch (err) {
	case DKIM_SIGERROR_KEYFAIL:
		d->result = AR_TEMPERROR;
		(void)osms_strlcpy(d->why, "key not available", sizeof(d->why));
		return;
	case DKIM_SIGERROR_OK:
	case DKIM_SIGERROR_BADSIG:
	case DKIM_SIGERROR_CORRUPT_BH:
		d->result = AR_FAIL;
		(void)osms_strlcpy(d->why, err == DKIM_SIGERROR_OK ||
		    dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH ?
		    "body hash did not verify" : "signature did not verify",
		    sizeof(d->why));
		if (err == DKIM_SIGERROR_BADSIG)
			(void)osms_strlcpy(d->why, "signature did not verify",
			    sizeof(d->why));
		return;
	case DKIM_SIGERROR_EXPIRED:
	case DKIM_SIGERROR_FUTURE:
	case DKIM_SIGERROR_KEYTOOSMALL:
	case DKIM_SIGERROR_SUBDOMAIN:
	case DKIM_SIGERROR_KEYREVOKED:
		d->result = AR_POLICY;
		break;
	default:
		d->result = AR_PERMERROR;
		break;
	}
	(void)osms_strlcpy(d->why, dkim_sig_geterrorstr(err) != NULL ?
	    dkim_sig_geterrorstr(err) : "error", sizeof(d->why));
}

static void
check_dkim(struct ub_ctx *ctx, const struct sa_input *in, struct authres *ar)
{
	DKIM		*dkim;
	DKIM_SIGINFO	**sigs;
	DKIM_STAT	 st;
	int		 nsigs = 0, i;

	ar->dkim_checked = 1;
	if ((dkim = dkim_verify(dkim_lib, (const u_char *)"osms", NULL,
	    &st)) == NULL)
		return;
	(void)dkim_set_user_context(dkim, ctx);
	st = dkim_chunk(dkim, (u_char *)(uintptr_t)in->msg, in->len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(dkim, NULL, 0);
	if (st == DKIM_STAT_OK || st == DKIM_STAT_NOSIG)
		st = dkim_eom(dkim, NULL);
	log_debug("checkd: dkim: %s", dkim_getresultstr(st));
	if (dkim_getsiglist(dkim, &sigs, &nsigs) == DKIM_STAT_OK)
		for (i = 0; i < nsigs && ar->ndkim < AR_MAX_DKIM; i++) {
			if (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE)
				continue;
			dkim_result(sigs[i], &ar->dkim[ar->ndkim++]);
		}
	(void)dkim_free(dkim);
}

/*
 * DMARC.
 */

/*
 * The organizational domain (RFC 7489 3.2) by the public suffix list;
 * a name under no listed suffix has the implicit rule "*": its last
 * two labels.
 */
static void
org_domain(const char *from, char *org, size_t size)
{
	const char	*p;

	/* It leaves the buffer alone for a name under no listed suffix. */
	org[0] = '\0';
	if (opendmarc_get_tld((u_char *)(uintptr_t)from, (u_char *)org,
	    size) == 0 && org[0] != '\0')
		return;
	if ((p = strrchr(from, '.')) == NULL || p == from) {
		(void)osms_strlcpy(org, from, size);
		return;
	}
	for (p--; p > from && p[-1] != '.'; p--)
		;
	(void)osms_strlcpy(org, p, size);
}

/* The policy record of domain, else of its organizational domain. */
static enum dns_status
dmarc_record(struct ub_ctx *ctx, const char *from, char *org, size_t orgsize,
    char *rec, size_t size)
{
	enum dns_status	 st;
	char		 name[AR_MAX_DOMAIN + 8];
	int		 count;

	(void)snprintf(name, sizeof(name), "_dmarc.%s", from);
	st = dns_txt(ctx, name, "v=DMARC1", rec, size, &count);
	if (st == DNS_FOUND && count > 1)
		return DNS_NONE;	/* RFC 7489 6.6.3: not one: none */
	org_domain(from, org, orgsize);
	if (st != DNS_NONE || strcasecmp(org, from) == 0)
		return st;
	(void)snprintf(name, sizeof(name), "_dmarc.%s", org);
	st = dns_txt(ctx, name, "v=DMARC1", rec, size, &count);
	return st == DNS_FOUND && count > 1 ? DNS_NONE : st;
}

static int
dkim_outcome(enum ar_result r)
{
	return r == AR_PASS ? DMARC_POLICY_DKIM_OUTCOME_PASS :
	    r == AR_TEMPERROR ? DMARC_POLICY_DKIM_OUTCOME_TMPFAIL :
	    DMARC_POLICY_DKIM_OUTCOME_FAIL;
}

static void
check_dmarc(struct ub_ctx *ctx, const struct sa_input *in,
    struct authres *ar)
{
	DMARC_POLICY_T	*pctx;
	struct in6_addr	 a6;
	enum dns_status	 st;
	char		 org[AR_MAX_DOMAIN], *rec, spfdom[AR_MAX_DOMAIN];
	const char	*at;
	int		 v6, pol, p = 0;
	int		 origin = DMARC_POLICY_SPF_ORIGIN_MAILFROM;
	size_t		 i;

	ar->dmarc_checked = 1;
	ar->from_fields = in->from_fields;
	(void)osms_strlcpy(ar->from_domain, in->from_domain,
	    sizeof(ar->from_domain));
	if (ar->from_fields != 1 || ar->from_domain[0] == '\0') {
		ar->dmarc = ar->from_fields != 0 ? AR_PERMERROR : AR_NONE;
		return;
	}
	rec = xmalloc(SA_MAX_RECORD);
	st = dmarc_record(ctx, ar->from_domain, org, sizeof(org), rec,
	    SA_MAX_RECORD);
	if (st != DNS_FOUND) {
		log_debug("checkd: dmarc: %s: %s", ar->from_domain, st ==
		    DNS_TEMP ? "no answer now" : "no record");
		ar->dmarc = st == DNS_TEMP ? AR_TEMPERROR : AR_NONE;
		free(rec);
		return;
	}
	v6 = inet_pton(AF_INET6, in->ip, &a6) == 1;
	if ((pctx = opendmarc_policy_connect_init((u_char *)(uintptr_t)in->ip,
	    v6 ? DMARC_POLICY_IP_TYPE_IPV6 : DMARC_POLICY_IP_TYPE_IPV4)) ==
	    NULL) {
		log_debug("checkd: dmarc: no context for %s", in->ip);
		ar->dmarc = AR_TEMPERROR;
		free(rec);
		return;
	}
	if (opendmarc_policy_store_from_domain(pctx,
	    (u_char *)ar->from_domain) != DMARC_PARSE_OKAY ||
	    opendmarc_policy_store_dmarc(pctx, (u_char *)rec,
	    (u_char *)ar->from_domain, (u_char *)org) != DMARC_PARSE_OKAY) {
		ar->dmarc = AR_PERMERROR;
		goto done;
	}
	for (i = 0; i < ar->ndkim; i++)
		(void)opendmarc_policy_store_dkim(pctx,
		    (u_char *)ar->dkim[i].domain,
		    (u_char *)ar->dkim[i].selector,
		    dkim_outcome(ar->dkim[i].result), NULL);
	/* The SPF identity: MAIL FROM's domain, else HELO's (RFC 7489 4.1
	 * wants the former; for <> RFC 7208 checks HELO). */
	if ((at = strrchr(in->sender, '@')) != NULL)
		(void)osms_strlcpy(spfdom, at + 1, sizeof(spfdom));
	else {
		(void)osms_strlcpy(spfdom, in->helo, sizeof(spfdom));
		origin = DMARC_POLICY_SPF_ORIGIN_HELO;
	}
	if (ar->spf_checked)
		(void)opendmarc_policy_store_spf(pctx, (u_char *)spfdom,
		    ar->spf == AR_PASS ? DMARC_POLICY_SPF_OUTCOME_PASS :
		    ar->spf == AR_TEMPERROR ? DMARC_POLICY_SPF_OUTCOME_TMPFAIL :
		    ar->spf == AR_NONE ? DMARC_POLICY_SPF_OUTCOME_NONE :
		    DMARC_POLICY_SPF_OUTCOME_FAIL, origin, NULL);
	pol = opendmarc_get_policy_to_enforce(pctx);
	if (opendmarc_get_policy_token_used(pctx) == DMARC_USED_POLICY_IS_SP)
		(void)opendmarc_policy_fetch_sp(pctx, &p);
	else
		(void)opendmarc_policy_fetch_p(pctx, &p);
	ar->dmarc_policy = p == DMARC_RECORD_P_REJECT ? 'r' :
	    p == DMARC_RECORD_P_QUARANTINE ? 'q' : 'n';
	switch (pol) {
	case DMARC_POLICY_PASS:
		ar->dmarc = AR_PASS;
		break;
	case DMARC_POLICY_REJECT:
	case DMARC_POLICY_QUARANTINE:
	case DMARC_POLICY_NONE:
		ar->dmarc = AR_FAIL;
		break;
	case DMARC_POLICY_ABSENT:
		ar->dmarc = AR_NONE;
		ar->dmarc_policy = 0;
		break;
	default:
		ar->dmarc = AR_PERMERROR;
		break;
	}
done:
	(void)opendmarc_policy_connect_shutdown(pctx);
	free(rec);
}

void
sa_check(struct ub_ctx *ctx, const struct sa_input *in, struct authres *ar)
{
	memset(ar, 0, sizeof(*ar));
	if (in->spf)
		check_spf(ctx, in, ar);
	if (in->dkim)
		check_dkim(ctx, in, ar);
	if (in->dmarc)
		check_dmarc(ctx, in, ar);
}
