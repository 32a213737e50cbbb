/*
 * MTA-STS (RFC 8461): the TXT record that announces a domain's policy,
 * the policy file itself, and the match of an MX host against it. The
 * parsers take what a remote server sent: bounded, strict where the RFC
 * is, and any error means "no policy" to the caller.
 */
#ifndef OSMS_MTASTS_H
#define OSMS_MTASTS_H

#include <stddef.h>
#include <stdint.h>

#define STS_MAX_POLICY		65536	/* bytes of a policy file (RFC 8461 3.3) */
#define STS_MAX_MX		16	/* mx lines kept */
#define STS_MAX_NAME		254
#define STS_MAX_ID		32	/* 1*32(ALPHA / DIGIT) */
#define STS_MAX_AGE		31557600	/* a year, in seconds */

enum sts_mode { STS_MODE_NONE, STS_MODE_TESTING, STS_MODE_ENFORCE };

struct sts_policy {
	enum sts_mode	 mode;
	uint32_t	 max_age;		/* seconds */
	size_t		 nmx;
	char		 mx[STS_MAX_MX][STS_MAX_NAME];	/* lower case */
};

/*
 * The id of a "v=STSv1; id=..." TXT record (RFC 8461 3.1) into id:
 * 0, or -1 if the text is no valid record.
 */
int	 sts_txt_id(const char *txt, size_t len, char *id, size_t size);

/* Parse a policy file (RFC 8461 3.2): 0, or -1 and errstr. */
int	 sts_parse(const char *text, size_t len, struct sts_policy *,
	    const char **errstr);

/* 1 if host (a name, any case, no trailing dot) matches an mx line:
 * equal, or "*.rest" with exactly one more label in front. */
int	 sts_mx_match(const struct sts_policy *, const char *host);

#endif
