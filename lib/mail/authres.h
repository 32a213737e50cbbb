/*
 * Sender authentication results: what SPF, DKIM and DMARC found for a
 * message, the methods part of the Authentication-Results field that
 * reports them (RFC 8601), and what the policy does with them.
 */
#ifndef OSMS_AUTHRES_H
#define OSMS_AUTHRES_H

#include <stddef.h>

#define AR_MAX_DKIM	8		/* signatures reported */
#define AR_MAX_DOMAIN	254

enum ar_result {
	AR_NONE,		/* not checked, or nothing to check */
	AR_PASS,
	AR_FAIL,
	AR_SOFTFAIL,		/* SPF ~all */
	AR_NEUTRAL,		/* SPF ?all */
	AR_TEMPERROR,
	AR_PERMERROR,
	AR_POLICY,		/* DKIM: valid, but not acceptable */
};

struct ar_dkim {
	enum ar_result	 result;
	char		 domain[AR_MAX_DOMAIN];
	char		 selector[64];
	char		 why[64];	/* for the log and a comment */
};

struct authres {
	int		 spf_checked, dkim_checked, dmarc_checked;
	enum ar_result	 spf;		/* of MAIL FROM (postmaster@HELO for <>) */
	enum ar_result	 spf_helo;	/* of the HELO name */
	struct ar_dkim	 dkim[AR_MAX_DKIM];
	size_t		 ndkim;
	enum ar_result	 dmarc;
	char		 dmarc_policy;	/* 'n', 'q', 'r', or 0 without a record */
	char		 from_domain[AR_MAX_DOMAIN];
	int		 from_fields;	/* From fields in the header; -1:
					   too large to count them */
	int		 arc_checked;
	enum ar_result	 arc;		/* the ARC chain (RFC 8617) */
	int		 arc_sets;
	char		 arc_sealer[AR_MAX_DOMAIN];	/* the newest */
	int		 arc_trusted;	/* a passing chain a trusted
					   forwarder sealed last */
};

/* What becomes of a message, in rising order: the stronger wins. */
enum ar_action { AR_ACCEPT, AR_JUNK, AR_TEMPFAIL, AR_REJECT };

struct ar_policy {
	enum ar_action	 dmarc_reject;		/* p=reject fails */
	enum ar_action	 dmarc_quarantine;	/* p=quarantine fails */
	enum ar_action	 spf_fail;		/* -all fails, no DMARC pass */
};

const char	*authres_word(enum ar_result);
const char	*authres_action_name(enum ar_action);

/*
 * The methods of an Authentication-Results field (after "authserv-id;"),
 * one per line, folded ("spf=pass smtp.mailfrom=a@b.example;\r\n\t
 * dkim=..."), into out; sender and helo as the session gave them. "" if
 * nothing was checked. 0, or -1 if out is too small.
 */
int	 authres_methods(const struct authres *, const char *sender,
	    const char *helo, char *out, size_t size);

/* One line for the log: "spf=pass helo=none dkim=pass:d.example ..." */
void	 authres_summary(const struct authres *, char *out, size_t size);

/* What the policy does with the results; why says it for the reply.
 * A DMARC failure is forgiven when a trusted forwarder's ARC chain
 * passes (RFC 8617 7.2: the forwarder saw it pass). */
enum ar_action	 authres_decide(const struct authres *,
		    const struct ar_policy *, char *why, size_t size);

/* 1 if the From domain passed DMARC: an aligned DKIM signature or SPF
 * pass verified it. */
int	 authres_from_verified(const struct authres *);

#endif
