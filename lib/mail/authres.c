/*
 * Sender authentication results (authres.h).
 */
#include <stdio.h>
#include <string.h>

#include "authres.h"
#include "util.h"

static const char *const words[] = {
	[AR_NONE] = "none",
	[AR_PASS] = "pass",
	[AR_FAIL] = "fail",
	[AR_SOFTFAIL] = "softfail",
	[AR_NEUTRAL] = "neutral",
	[AR_TEMPERROR] = "temperror",
	[AR_PERMERROR] = "permerror",
	[AR_POLICY] = "policy",
};

const char *
authres_word(enum ar_result r)
{
	if ((unsigned)r >= nitems(words))
		return "none";
	return words[r];
}

const char *
authres_action_name(enum ar_action a)
{
	switch (a) {
	case AR_JUNK:
		return "junk";
	case AR_REJECT:
		return "reject";
	case AR_TEMPFAIL:
		return "tempfail";
	default:
		return "accept";
	}
}

/* A name as it may stand in a field: letters, digits, '.', '-', '_'. */
static int
plain_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' ||
		    *s == '_'))
			return 0;
	return 1;
}

/*
 * The address as a pvalue (RFC 8601 2.3): local-part@domain when the
 * local part is a plain dot-atom, else the domain alone; "" if even
 * that is not plain.
 */
static void
pvalue_address(const char *addr, char *out, size_t size)
{
	const char	*at = strrchr(addr, '@');
	const char	*s;

	out[0] = '\0';
	if (at == NULL || !plain_name(at + 1))
		return;
	for (s = addr; s < at; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("!#$%&'*+-/=?^_`{|}~.",
		    *s) != NULL))
			break;
	if (s == at && at > addr)
		(void)osms_strlcpy(out, addr, size);
	else
		(void)osms_strlcpy(out, at + 1, size);
}

/* Append one method; 0, or -1 if it does not fit. */
static int
method(char *out, size_t size, size_t *len, const char *text)
{
	int	 n;

	n = snprintf(out + *len, size - *len, "%s%s", *len > 0 ?
	    ";\r\n\t" : "", text);
	if (n < 0 || (size_t)n >= size - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

int
authres_methods(const struct authres *ar, const char *sender,
    const char *helo, char *out, size_t size)
{
	char		 m[600], id[320];
	size_t		 len = 0, i;

	if (size == 0)
		return -1;
	out[0] = '\0';
	if (ar->spf_checked) {
		if (sender[0] != '\0') {
			pvalue_address(sender, id, sizeof(id));
			(void)snprintf(m, sizeof(m), "spf=%s%s%s",
			    authres_word(ar->spf), id[0] ? " smtp.mailfrom=" :
			    "", id);
			if (method(out, size, &len, m) == -1)
				return -1;
		}
		(void)snprintf(m, sizeof(m), "spf=%s%s%.253s",
		    authres_word(ar->spf_helo), plain_name(helo) ?
		    " smtp.helo=" : "", plain_name(helo) ? helo : "");
		if (method(out, size, &len, m) == -1)
			return -1;
	}
	if (ar->dkim_checked) {
		if (ar->ndkim == 0 && method(out, size, &len,
		    "dkim=none (no signature)") == -1)
			return -1;
		for (i = 0; i < ar->ndkim; i++) {
			const struct ar_dkim *d = &ar->dkim[i];

			(void)snprintf(m, sizeof(m), "dkim=%s%s%s%s%s%s%s%s",
			    authres_word(d->result), d->why[0] ? " (" : "",
			    d->why, d->why[0] ? ")" : "",
			    plain_name(d->domain) ? " header.d=" : "",
			    plain_name(d->domain) ? d->domain : "",
			    plain_name(d->selector) ? " header.s=" : "",
			    plain_name(d->selector) ? d->selector : "");
			if (method(out, size, &len, m) == -1)
				return -1;
		}
	}
	if (ar->arc_checked) {
		(void)snprintf(m, sizeof(m), "arc=%s", authres_word(ar->arc));
		if (ar->arc_sets > 0 && plain_name(ar->arc_sealer))
			(void)snprintf(m + strlen(m), sizeof(m) - strlen(m),
			    " (%d set%s, sealed by %s%s)", ar->arc_sets,
			    ar->arc_sets > 1 ? "s" : "", ar->arc_sealer,
			    ar->arc_trusted ? ", trusted" : "");
		if (method(out, size, &len, m) == -1)
			return -1;
	}
	if (ar->dmarc_checked) {
		(void)snprintf(m, sizeof(m), "dmarc=%s%s%s%s%s",
		    authres_word(ar->dmarc), ar->dmarc_policy == 'r' ?
		    " (p=reject)" : ar->dmarc_policy == 'q' ?
		    " (p=quarantine)" : ar->dmarc_policy == 'n' ?
		    " (p=none)" : "", plain_name(ar->from_domain) ?
		    " header.from=" : "", plain_name(ar->from_domain) ?
		    ar->from_domain : "", ar->from_fields > 1 ?
		    " (more than one From field)" : "");
		if (method(out, size, &len, m) == -1)
			return -1;
	}
	return 0;
}

void
authres_summary(const struct authres *ar, char *out, size_t size)
{
	size_t	 i, len;
	int	 n;

	(void)snprintf(out, size, "spf=%s helo=%s dmarc=%s%s%s",
	    ar->spf_checked ? authres_word(ar->spf) : "off",
	    ar->spf_checked ? authres_word(ar->spf_helo) : "off",
	    ar->dmarc_checked ? authres_word(ar->dmarc) : "off",
	    ar->from_domain[0] ? ":" : "", ar->from_domain);
	if (ar->arc_checked && ar->arc != AR_NONE) {
		len = strlen(out);
		(void)snprintf(out + len, size - len, " arc=%s%s%s",
		    authres_word(ar->arc), ar->arc == AR_PASS ? ":" : "",
		    ar->arc == AR_PASS ? ar->arc_sealer : "");
	}
	if (!ar->dkim_checked) {
		(void)osms_strlcat(out, " dkim=off", size);
		return;
	}
	if (ar->ndkim == 0)
		(void)osms_strlcat(out, " dkim=none", size);
	for (i = 0; i < ar->ndkim; i++) {
		len = strlen(out);
		n = snprintf(out + len, size - len, " dkim=%s:%s",
		    authres_word(ar->dkim[i].result), ar->dkim[i].domain);
		if (n < 0 || (size_t)n >= size - len)
			break;
	}
}

int
authres_from_verified(const struct authres *ar)
{
	return ar->dmarc_checked && ar->dmarc == AR_PASS;
}

enum ar_action
authres_decide(const struct authres *ar, const struct ar_policy *pol,
    char *why, size_t size)
{
	why[0] = '\0';
	if (ar->dmarc_checked && ar->from_fields > 1) {
		/* RFC 7489 6.6.1: which one would the reader see? */
		(void)osms_strlcpy(why, "the message has more than one From"
		    " field", size);
		return AR_REJECT;
	}
	if (ar->dmarc_checked && ar->from_fields < 0) {
		/* A From field hidden past the header's limits would pass
		 * as "none". */
		(void)osms_strlcpy(why, "the header is too large to find its"
		    " From field", size);
		return AR_REJECT;
	}
	if (ar->dmarc_checked && ar->dmarc == AR_FAIL &&
	    (ar->dmarc_policy == 'r' || ar->dmarc_policy == 'q') &&
	    !ar->arc_trusted) {
		(void)snprintf(why, size, "DMARC policy of %.253s: the From"
		    " domain is not verified", ar->from_domain);
		return ar->dmarc_policy == 'r' ? pol->dmarc_reject :
		    pol->dmarc_quarantine;
	}
	if (ar->spf_checked && ar->spf == AR_FAIL &&
	    !authres_from_verified(ar)) {
		(void)osms_strlcpy(why, "SPF: the sender's domain does not"
		    " allow this host to send its mail", size);
		return pol->spf_fail;
	}
	return AR_ACCEPT;
}
