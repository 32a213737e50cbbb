/*
 * SMTP command lines (RFC 5321 4.1.1-4.1.4) and the ESMTP parameters
 * osms knows (RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 3030 BINARYMIME and
 * BDAT, RFC 6531 SMTPUTF8, RFC 8689 REQUIRETLS, RFC 3461 DSN, RFC 4954
 * AUTH), parsed without side effects.
 *
 * Hostile input: every line comes straight from a client. Nothing is
 * allocated, every copy is bounded, nothing reads past the line's NUL,
 * and no stored string can hold a control byte. A failure carries the
 * reply for the session to send.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "util.h"
#include "smtp_cmd.h"

#define KEYWORD_MAX	32	/* longer keywords are unknown anyway */
#define VALUE_MAX	SMTP_ORCPT_MAX	/* the longest value kept */
#define HELO_MAX	255
#define SIZE_DIGITS	20	/* RFC 1870: size-value = 1*20DIGIT */
#define MECH_MAX	20	/* RFC 4422: sasl-mech = 1*20mech-char */

static const struct {
	const char	*name;
	enum smtp_verb	 verb;
} verbs[] = {
	{ "HELO",	SMTP_CMD_HELO },
	{ "EHLO",	SMTP_CMD_EHLO },
	{ "MAIL",	SMTP_CMD_MAIL },
	{ "RCPT",	SMTP_CMD_RCPT },
	{ "DATA",	SMTP_CMD_DATA },
	{ "BDAT",	SMTP_CMD_BDAT },
	{ "RSET",	SMTP_CMD_RSET },
	{ "NOOP",	SMTP_CMD_NOOP },
	{ "QUIT",	SMTP_CMD_QUIT },
	{ "VRFY",	SMTP_CMD_VRFY },
	{ "EXPN",	SMTP_CMD_EXPN },
	{ "HELP",	SMTP_CMD_HELP },
	{ "STARTTLS",	SMTP_CMD_STARTTLS },
	{ "AUTH",	SMTP_CMD_AUTH },
};

enum param_id {
	P_SIZE,
	P_BODY,
	P_SMTPUTF8,
	P_REQUIRETLS,
	P_RET,
	P_ENVID,
	P_AUTH,
	P_NOTIFY,
	P_ORCPT,
};

struct param_def {
	const char	*name;
	enum param_id	 id;
	int		 has_value;
	const char	*dup;		/* reply text when given twice */
	const char	*value;		/* value missing or not wanted */
};

#define PARAM_V(n, id)	{ n, id, 1, n " given twice", n " needs a value" }
#define PARAM_N(n, id)	{ n, id, 0, n " given twice", n " takes no value" }

static const struct param_def mail_params[] = {
	PARAM_V("SIZE", P_SIZE),
	PARAM_V("BODY", P_BODY),
	PARAM_N("SMTPUTF8", P_SMTPUTF8),
	PARAM_N("REQUIRETLS", P_REQUIRETLS),
	PARAM_V("RET", P_RET),
	PARAM_V("ENVID", P_ENVID),
	PARAM_V("AUTH", P_AUTH),
};

static const struct param_def rcpt_params[] = {
	PARAM_V("NOTIFY", P_NOTIFY),
	PARAM_V("ORCPT", P_ORCPT),
};

/*
 * "Bad sender address syntax: <why>": the text of the last address
 * error, valid until the next call of smtp_parse_mail/rcpt.
 */
static char	 addr_text[128];

static int	 fail(struct smtp_err *, int, const char *, const char *);
static int	 is_alpha(unsigned char);
static int	 is_digit(unsigned char);
static int	 is_alnum(unsigned char);
static unsigned char upper(unsigned char);
static int	 ascii_ncaseeq(const char *, const char *, size_t);
static int	 utf8_text(const char *);
static int	 printable(const char *);
static int	 hexval(unsigned char);
static int	 xtext_decode_utf8(const char *, char *, size_t, int);
static int	 base64_ok(const char *);
static int	 path_start(const char *, const char *, const char **);
static int	 addr_fail(struct smtp_err *, int, const char *, const char *,
		    const char *);
static int	 param_size(const char *, uint64_t *, struct smtp_err *);
static int	 param_notify(const char *, int *, struct smtp_err *);
static int	 param_orcpt(const char *, int, char *, size_t,
		    struct smtp_err *);
static int	 param_apply_mail(const struct param_def *, const char *,
		    struct smtp_mail_params *, struct smtp_err *);
static int	 param_apply_rcpt(const struct param_def *, const char *, int,
		    struct smtp_rcpt_params *, struct smtp_err *);
static int	 parse_params(const char *, int, int, const struct param_def *,
		    size_t, struct smtp_mail_params *,
		    struct smtp_rcpt_params *, const char *, struct smtp_err *);

static int
fail(struct smtp_err *err, int code, const char *status, const char *text)
{
	err->code = code;
	err->status = status;
	err->text = text;
	return -1;
}

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

static unsigned char
upper(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

/* Compare n bytes of s, ASCII case-insensitively, to the upper case w. */
static int
ascii_ncaseeq(const char *s, const char *w, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] == '\0' ||
		    upper((unsigned char)s[i]) != (unsigned char)w[i])
			return 0;
	return 1;
}


/* 1 if s is well-formed UTF-8 without control bytes. */
static int
utf8_text(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 len;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		if (*p < 0x80)
			len = 1;
		else if ((len = utf8_seq(p)) == 0)
			return 0;
		p += len;
	}
	return 1;
}

/* 1 if s is printable ASCII (RFC 3461 4.4: ENVID). */
static int
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * RFC 3461 4: xtext = *( xchar / hexchar ), xchar is %d33-126 except
 * "+" and "=", hexchar is "+" and two hex digits (lower case is
 * accepted too). With utf8, raw well-formed UTF-8 is allowed as well
 * (RFC 6533 utf-8-addr-unitext). A decoded NUL is refused: it cannot
 * be kept in a C string. Returns the decoded length, or -1.
 */
static int
xtext_decode_utf8(const char *s, char *buf, size_t size, int utf8)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = 0, len;
	int			 hi, lo;

	if (size == 0)
		return -1;
	buf[0] = '\0';
	while (*p != '\0') {
		if (*p == '+') {
			if ((hi = hexval(p[1])) == -1 ||
			    (lo = hexval(p[2])) == -1 || (hi | lo) == 0)
				goto bad;
			if (n + 1 >= size)
				goto bad;
			buf[n++] = (char)(hi << 4 | lo);
			p += 3;
			continue;
		}
		if (*p >= 33 && *p <= 126 && *p != '=')
			len = 1;
		else if (*p >= 0x80 && utf8 && (len = utf8_seq(p)) > 0)
			;
		else
			goto bad;
		if (n + len >= size)
			goto bad;
		memcpy(buf + n, p, len);
		n += len;
		p += len;
	}
	buf[n] = '\0';
	return (int)n;
 bad:
	buf[0] = '\0';
	return -1;
}

int
xtext_decode(const char *s, char *buf, size_t size)
{
	return xtext_decode_utf8(s, buf, size, 0);
}

int
xtext_encode(const char *s, char *buf, size_t size)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = 0;

	if (size == 0)
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < 33 || *p > 126 || *p == '+' || *p == '=') {
			if (n + 3 >= size)
				goto toolong;
			buf[n++] = '+';
			buf[n++] = hex[*p >> 4];
			buf[n++] = hex[*p & 0x0f];
		} else {
			if (n + 1 >= size)
				goto toolong;
			buf[n++] = (char)*p;
		}
	}
	buf[n] = '\0';
	return (int)n;
 toolong:
	buf[0] = '\0';
	return -1;
}

/*
 * RFC 4954 4: initial-response = base64 / "=", where base64 is groups
 * of four characters with "=" padding only at the very end.
 */
static int
base64_ok(const char *s)
{
	size_t	 len = strlen(s), i, pad = 0;

	if (strcmp(s, "=") == 0)
		return 1;
	if (len == 0 || len % 4 != 0)
		return 0;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '+' &&
		    s[i] != '/')
			return 0;
	return 1;
}

int
smtp_cmd_parse(const char *line, struct smtp_cmd *cmd, struct smtp_err *err)
{
	const unsigned char	*p;
	size_t			 len, i;

	cmd->verb = SMTP_CMD_UNKNOWN;
	cmd->arg = "";
	for (p = (const unsigned char *)line; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return fail(err, 500, "5.5.2",
			    "Control character in command line");
	for (len = 0; is_alpha((unsigned char)line[len]); len++)
		;
	if (len == 0)
		return fail(err, 500, "5.5.2", line[0] == '\0' ?
		    "Empty command line" : "Command must start with a verb");
	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strlen(verbs[i].name) == len &&
		    ascii_ncaseeq(line, verbs[i].name, len)) {
			cmd->verb = verbs[i].verb;
			break;
		}
	if (line[len] != ' ' && line[len] != '\0') {
		cmd->verb = SMTP_CMD_UNKNOWN;
		return fail(err, 500, "5.5.2",
		    "Command must be followed by a space");
	}
	cmd->arg = line + len + (line[len] == ' ');
	if (cmd->verb == SMTP_CMD_UNKNOWN)
		return fail(err, 500, "5.5.1", "Command unrecognized");
	return 0;
}

int
smtp_parse_helo(const char *arg, char *buf, size_t size, struct smtp_err *err)
{
	const unsigned char	*p = (const unsigned char *)arg;
	size_t			 n;

	if (size > 0)
		buf[0] = '\0';
	if (*p == '\0')
		return fail(err, 501, "5.5.4", "HELO/EHLO needs a host name");
	for (n = 0; p[n] != '\0'; n++) {
		if (n == HELO_MAX)
			return fail(err, 501, "5.5.4",
			    "Host name longer than 255 bytes");
		if (p[n] == ' ')
			return fail(err, 501, "5.5.4",
			    "Host name must be one word");
		if (p[n] < 0x20 || p[n] == 0x7f)
			return fail(err, 501, "5.5.2",
			    "Control character in host name");
		if (p[n] >= 0x80)
			return fail(err, 501, "5.5.4",
			    "Host name must be ASCII");
	}
	if (n >= size)
		return fail(err, 501, "5.5.4", "Host name too long");
	memcpy(buf, arg, n + 1);
	return 0;
}

/*
 * "FROM:" or "TO:" (any case), then at most one space before the '<'
 * (RFC 5321 has none; many clients send one).
 */
static int
path_start(const char *arg, const char *kw, const char **path)
{
	size_t	 len = strlen(kw);

	if (!ascii_ncaseeq(arg, kw, len))
		return -1;
	arg += len;
	if (*arg == ' ')
		arg++;
	if (*arg != '<')
		return -1;
	*path = arg;
	return 0;
}

static int
addr_fail(struct smtp_err *err, int code, const char *status,
    const char *what, const char *why)
{
	if (snprintf(addr_text, sizeof(addr_text), "%s: %s", what, why) < 0)
		(void)snprintf(addr_text, sizeof(addr_text), "%s", what);
	return fail(err, code, status, addr_text);
}

/* RFC 1870: 1*20DIGIT. More than 2^64-1 cannot fit anywhere: 552. */
static int
param_size(const char *v, uint64_t *size, struct smtp_err *err)
{
	uint64_t	 n = 0;
	size_t		 i;
	unsigned int	 d;

	for (i = 0; v[i] != '\0'; i++) {
		if (!is_digit((unsigned char)v[i]) || i == SIZE_DIGITS)
			return fail(err, 501, "5.5.4", "Bad SIZE value");
		d = (unsigned int)(v[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			return fail(err, 552, "5.3.4",
			    "Declared SIZE exceeds any limit");
		n = n * 10 + d;
	}
	*size = n;
	return 0;
}

/* RFC 3461 4.1: "NEVER" or a list of SUCCESS, FAILURE, DELAY. */
static int
param_notify(const char *v, int *notify, struct smtp_err *err)
{
	const char	*end;
	size_t		 len;
	int		 bit;

	*notify = 0;
	for (;;) {
		if ((end = strchr(v, ',')) == NULL)
			end = v + strlen(v);
		len = (size_t)(end - v);
		if (len == 5 && ascii_ncaseeq(v, "NEVER", len))
			bit = SMTP_NOTIFY_NEVER;
		else if (len == 7 && ascii_ncaseeq(v, "SUCCESS", len))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (len == 7 && ascii_ncaseeq(v, "FAILURE", len))
			bit = SMTP_NOTIFY_FAILURE;
		else if (len == 5 && ascii_ncaseeq(v, "DELAY", len))
			bit = SMTP_NOTIFY_DELAY;
		else
			return fail(err, 501, "5.5.4", "NOTIFY takes NEVER "
			    "or a list of SUCCESS, FAILURE, DELAY");
		if (*notify & bit)
			return fail(err, 501, "5.5.4",
			    "NOTIFY lists a value twice");
		*notify |= bit;
		if (*end == '\0')
			break;
		v = end + 1;
	}
	if ((*notify & SMTP_NOTIFY_NEVER) && *notify != SMTP_NOTIFY_NEVER)
		return fail(err, 501, "5.5.4",
		    "NOTIFY=NEVER cannot be combined with other values");
	return 0;
}

/*
 * RFC 3461 4.2: ORCPT=addr-type ";" xtext, addr-type "rfc822" or
 * (RFC 6533) "utf-8", which may carry raw UTF-8 when the transaction
 * has SMTPUTF8. Kept as received; the address must decode to text.
 */
static int
param_orcpt(const char *v, int utf8, char *out, size_t size,
    struct smtp_err *err)
{
	char		 dec[VALUE_MAX + 1];
	const char	*semi;
	int		 is_utf8;

	if ((semi = strchr(v, ';')) == NULL)
		return fail(err, 501, "5.5.4",
		    "ORCPT needs an address type, as in rfc822;");
	if (semi - v == 6 && ascii_ncaseeq(v, "RFC822", 6))
		is_utf8 = 0;
	else if (semi - v == 5 && ascii_ncaseeq(v, "UTF-8", 5))
		is_utf8 = 1;
	else
		return fail(err, 501, "5.5.4",
		    "Unsupported ORCPT address type");
	if (semi[1] == '\0')
		return fail(err, 501, "5.5.4", "ORCPT has no address");
	if (xtext_decode_utf8(semi + 1, dec, sizeof(dec),
	    is_utf8 && utf8) == -1)
		return fail(err, 501, "5.5.4", "Bad xtext in ORCPT");
	if (is_utf8 ? !utf8_text(dec) : !printable(dec))
		return fail(err, 501, "5.5.4", "Bad characters in ORCPT");
	if (strlen(v) >= size)
		return fail(err, 501, "5.5.4", "ORCPT too long");
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/* A MAIL FROM parameter into mp. */
static int
param_apply_mail(const struct param_def *def, const char *v,
    struct smtp_mail_params *mp, struct smtp_err *err)
{
	char	 dec[VALUE_MAX + 1];
	int	 n;

	switch (def->id) {
	case P_SIZE:
		return param_size(v, &mp->size, err);
	case P_BODY:
		if (strlen(v) == 4 && ascii_ncaseeq(v, "7BIT", 4))
			mp->body = SMTP_BODY_7BIT;
		else if (strlen(v) == 8 && ascii_ncaseeq(v, "8BITMIME", 8))
			mp->body = SMTP_BODY_8BITMIME;
		else if (strlen(v) == 10 && ascii_ncaseeq(v, "BINARYMIME", 10))
			mp->body = SMTP_BODY_BINARYMIME;
		else
			return fail(err, 501, "5.5.4",
			    "BODY takes 7BIT, 8BITMIME or BINARYMIME");
		return 0;
	case P_SMTPUTF8:
		mp->smtputf8 = 1;
		return 0;
	case P_REQUIRETLS:
		mp->requiretls = 1;
		return 0;
	case P_RET:
		if (strlen(v) == 4 && ascii_ncaseeq(v, "FULL", 4))
			mp->ret = SMTP_RET_FULL;
		else if (strlen(v) == 4 && ascii_ncaseeq(v, "HDRS", 4))
			mp->ret = SMTP_RET_HDRS;
		else
			return fail(err, 501, "5.5.4",
			    "RET takes FULL or HDRS");
		return 0;
	case P_ENVID:
		if ((n = xtext_decode(v, dec, sizeof(dec))) == -1)
			return fail(err, 501, "5.5.4", "Bad xtext in ENVID");
		if (n > SMTP_ENVID_MAX)
			return fail(err, 501, "5.5.4",
			    "ENVID longer than 100 bytes");
		if (!printable(dec))
			return fail(err, 501, "5.5.4",
			    "ENVID must be printable ASCII");
		memcpy(mp->envid, dec, (size_t)n + 1);
		return 0;
	case P_AUTH:
		/* RFC 4954 5: AUTH=<> or an xtext-encoded mailbox. */
		if (strcmp(v, "<>") != 0) {
			if (xtext_decode(v, dec, sizeof(dec)) == -1)
				return fail(err, 501, "5.5.4",
				    "Bad xtext in AUTH");
			if (!utf8_text(dec))
				return fail(err, 501, "5.5.4",
				    "Bad characters in AUTH");
		}
		if (strlen(v) > SMTP_AUTH_MAX)
			return fail(err, 501, "5.5.4", "AUTH value too long");
		memcpy(mp->auth, v, strlen(v) + 1);
		return 0;
	default:
		break;
	}
	return fail(err, 555, "5.5.4", "Unknown parameter");
}

/* A RCPT TO parameter into rp. */
static int
param_apply_rcpt(const struct param_def *def, const char *v, int utf8,
    struct smtp_rcpt_params *rp, struct smtp_err *err)
{
	switch (def->id) {
	case P_NOTIFY:
		return param_notify(v, &rp->notify, err);
	case P_ORCPT:
		return param_orcpt(v, utf8, rp->orcpt, sizeof(rp->orcpt), err);
	default:
		break;
	}
	return fail(err, 555, "5.5.4", "Unknown parameter");
}

/*
 * Mail-parameters = esmtp-param *(SP esmtp-param) after the path, with
 * runs of spaces tolerated. esmtp-keyword = (ALPHA / DIGIT) *(ALPHA /
 * DIGIT / "-"); esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 with
 * utf8 (RFC 6531 3.3).
 */
static int
parse_params(const char *s, int ehlo, int utf8, const struct param_def *defs,
    size_t ndefs, struct smtp_mail_params *mp, struct smtp_rcpt_params *rp,
    const char *unknown, struct smtp_err *err)
{
	const unsigned char	*p = (const unsigned char *)s;
	const struct param_def	*def;
	char			 kw[KEYWORD_MAX + 1], val[VALUE_MAX + 1];
	size_t			 klen, vlen, i;
	unsigned int		 seen = 0;
	int			 has_value;

	if (*p == '\0')
		return 0;
	if (*p != ' ')
		return fail(err, 501, "5.5.4", "Space expected after address");
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	if (!ehlo)
		return fail(err, 555, "5.5.4",
		    "Parameters need EHLO, not HELO");
	while (*p != '\0') {
		if (!is_alnum(*p))
			return fail(err, 501, "5.5.4", "Bad parameter syntax");
		for (klen = 0; is_alnum(*p) || *p == '-'; klen++, p++)
			if (klen < KEYWORD_MAX)
				kw[klen] = (char)upper(*p);
		kw[klen < KEYWORD_MAX ? klen : KEYWORD_MAX] = '\0';
		vlen = 0;
		has_value = (*p == '=');
		if (has_value) {
			for (p++; *p != ' ' && *p != '\0'; p++) {
				if ((*p < 33 || *p > 126 || *p == '=') &&
				    !(*p >= 0x80 && utf8))
					return fail(err, 501, "5.5.4",
					    "Bad character in parameter value");
				if (vlen == VALUE_MAX)
					return fail(err, 501, "5.5.4",
					    "Parameter value too long");
				val[vlen++] = (char)*p;
			}
		}
		val[vlen] = '\0';
		if (*p != ' ' && *p != '\0')
			return fail(err, 501, "5.5.4", "Bad parameter syntax");

		def = NULL;
		for (i = 0; klen <= KEYWORD_MAX && i < ndefs; i++)
			if (strcmp(kw, defs[i].name) == 0)
				def = &defs[i];
		if (def == NULL)
			return fail(err, 555, "5.5.4", unknown);
		if (seen & (1U << def->id))
			return fail(err, 555, "5.5.4", def->dup);
		seen |= 1U << def->id;
		if (def->has_value != has_value || (has_value && vlen == 0))
			return fail(err, 501, "5.5.4", def->value);
		/* Exactly one of mp and rp is given. */
		if ((mp != NULL ? param_apply_mail(def, val, mp, err) :
		    param_apply_rcpt(def, val, utf8, rp, err)) == -1)
			return -1;
		while (*p == ' ')
			p++;
	}
	return 0;
}

int
smtp_parse_mail(const char *arg, int ehlo, struct mailaddr *addr,
    struct smtp_mail_params *params, struct smtp_err *err)
{
	const char	*path, *end, *why;

	memset(addr, 0, sizeof(*addr));
	memset(params, 0, sizeof(*params));
	if (path_start(arg, "FROM:", &path) == -1)
		return fail(err, 501, "5.5.4", "Syntax: MAIL FROM:<address>");
	/* UTF-8 is checked against SMTPUTF8 once the parameters are read. */
	if (addr_parse_path(path, ADDR_NULL_OK | ADDR_UTF8, addr, &end,
	    &why) == -1)
		return addr_fail(err, 553, "5.1.7",
		    "Bad sender address syntax", why);
	if (parse_params(end, ehlo, 0, mail_params, sizeof(mail_params) /
	    sizeof(mail_params[0]), params, NULL, "Unknown MAIL parameter",
	    err) == -1)
		goto fail;
	/* RFC 6531: X.6.7, non-ASCII address not permitted. */
	if (!params->smtputf8 && addr_is_utf8(addr)) {
		(void)fail(err, 553, "5.6.7",
		    "Non-ASCII sender address needs SMTPUTF8");
		goto fail;
	}
	return 0;
 fail:
	memset(addr, 0, sizeof(*addr));
	memset(params, 0, sizeof(*params));
	return -1;
}

int
smtp_parse_rcpt(const char *arg, int ehlo, int utf8, struct mailaddr *addr,
    struct smtp_rcpt_params *params, struct smtp_err *err)
{
	const char	*path, *end, *why;

	memset(addr, 0, sizeof(*addr));
	memset(params, 0, sizeof(*params));
	if (path_start(arg, "TO:", &path) == -1)
		return fail(err, 501, "5.5.4", "Syntax: RCPT TO:<address>");
	if (addr_parse_path(path, ADDR_POSTMASTER | ADDR_UTF8, addr, &end,
	    &why) == -1)
		return addr_fail(err, 553, "5.1.3",
		    "Bad recipient address syntax", why);
	if (!utf8 && addr_is_utf8(addr)) {
		(void)fail(err, 553, "5.6.7",
		    "Non-ASCII recipient address needs SMTPUTF8");
		goto fail;
	}
	if (parse_params(end, ehlo, utf8, rcpt_params, sizeof(rcpt_params) /
	    sizeof(rcpt_params[0]), NULL, params, "Unknown RCPT parameter",
	    err) == -1)
		goto fail;
	return 0;
 fail:
	memset(addr, 0, sizeof(*addr));
	memset(params, 0, sizeof(*params));
	return -1;
}

int
smtp_parse_bdat(const char *arg, uint64_t max, uint64_t *size, int *last,
    struct smtp_err *err)
{
	const char	*p = arg;
	uint64_t	 n = 0;
	size_t		 i;
	unsigned int	 d;
	int		 over = 0;

	*size = 0;
	*last = 0;
	for (i = 0; is_digit((unsigned char)p[i]); i++) {
		if (i == SIZE_DIGITS)
			return fail(err, 501, "5.5.4",
			    "BDAT size has more than 20 digits");
		d = (unsigned int)(p[i] - '0');
		if (n > (UINT64_MAX - d) / 10)
			over = 1;
		else
			n = n * 10 + d;
	}
	if (i == 0)
		return fail(err, 501, "5.5.4", "Syntax: BDAT size [LAST]");
	p += i;
	if (*p == ' ') {
		while (*p == ' ')
			p++;
		if (ascii_ncaseeq(p, "LAST", 4)) {
			*last = 1;
			p += 4;
		}
		while (*p == ' ')
			p++;
	}
	if (*p != '\0') {
		*last = 0;
		return fail(err, 501, "5.5.4", "Syntax: BDAT size [LAST]");
	}
	/* Set even when refused, so the session can skip the chunk. */
	*size = over ? UINT64_MAX : n;
	if (over || n > max)
		return fail(err, 552, "5.3.4",
		    "Chunk exceeds the maximum message size");
	return 0;
}

int
smtp_parse_auth(const char *arg, char *buf, size_t size, const char **mech,
    const char **initial, struct smtp_err *err)
{
	const char	*ir = NULL;
	size_t		 n, len;

	*mech = NULL;
	*initial = NULL;
	/* Check before copying: a refused line leaves no secret in buf. */
	for (n = 0; is_alnum((unsigned char)arg[n]) || arg[n] == '-' ||
	    arg[n] == '_'; n++)
		;
	if (n == 0 && arg[0] == '\0')
		return fail(err, 501, "5.5.4",
		    "Syntax: AUTH mechanism [initial-response]");
	if (n == 0 || (arg[n] != ' ' && arg[n] != '\0'))
		return fail(err, 501, "5.5.4", "Bad SASL mechanism name");
	if (n > MECH_MAX)
		return fail(err, 501, "5.5.4",
		    "SASL mechanism name longer than 20 characters");
	if (arg[n] == ' ') {
		ir = arg + n + 1;
		if (!base64_ok(ir))
			return fail(err, 501, "5.5.2",
			    "Initial response is not valid base64");
	}
	len = strlen(arg);
	if (len >= size)
		return fail(err, 500, "5.5.6", "Authentication line too long");
	memcpy(buf, arg, len + 1);
	for (len = 0; len < n; len++)
		buf[len] = (char)upper((unsigned char)buf[len]);
	buf[n] = '\0';
	*mech = buf;
	if (ir != NULL)
		*initial = buf + n + 1;
	return 0;
}
