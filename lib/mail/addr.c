/*
 * Mail addresses: the one strict RFC 5321 parser, with the RFC 6531
 * (SMTPUTF8) extensions, for every address osms reads.
 *
 * Input is hostile: it comes from SMTP clients, tables and the
 * configuration. Nothing is allocated, every copy is bounded by
 * ADDR_MAX_LOCAL or ADDR_MAX_DOMAIN, and the parser never reads past
 * the NUL of its input: a byte is only looked at after the one before
 * it was found not to be NUL.
 *
 * Grammar (RFC 5321 4.1.2, RFC 6531 3.3):
 *	Path		= "<" [ A-d-l ":" ] Mailbox ">"
 *	A-d-l		= At-domain *( "," At-domain )
 *	At-domain	= "@" Domain
 *	Mailbox		= Local-part "@" ( Domain / address-literal )
 *	Local-part	= Dot-string / Quoted-string
 *	atext		=/ UTF8-non-ascii	(ADDR_UTF8)
 *	qtextSMTP	=/ UTF8-non-ascii	(ADDR_UTF8)
 *	sub-domain	=/ U-label		(ADDR_UTF8)
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <string.h>

#include "addr.h"
#include "util.h"

#define LABEL_MAX	63
/* Inside the brackets: "IPv6:" and the longest IPv6 text (45). */
#define LITERAL_MAX	64

#define STR1(x)		#x
#define STR(x)		STR1(x)

static const char E_CTL[] = "control character in address";
static const char E_8BIT[] = "8-bit character in address needs SMTPUTF8";
static const char E_UTF8[] = "invalid UTF-8 in address";
static const char E_LOCAL_LONG[] =
    "local part longer than " STR(ADDR_MAX_LOCAL) " bytes";
static const char E_DOMAIN_LONG[] =
    "domain longer than " STR(ADDR_MAX_DOMAIN) " bytes";

static int	 is_alpha(unsigned char);
static int	 is_alnum(unsigned char);
static int	 is_atext(unsigned char);
static unsigned char lower(unsigned char);
static int	 is_stop(unsigned char, const char *);
static const char *char_error(const unsigned char *, int, const char *);
static int	 ascii_caseeq(const char *, const char *);
static int	 parse_quoted(const unsigned char **, int, char *,
		    const char **);
static int	 parse_dot_string(const unsigned char **, int, char *,
		    const char **);
static int	 parse_literal(const unsigned char **, char *, const char **);
static int	 parse_domain(const unsigned char **, int, int, const char *,
		    char *, const char **);
static int	 parse_route(const unsigned char **, int, const char **);
static int	 parse_mailbox(const unsigned char **, int, const char *,
		    struct mailaddr *, const char **);
static int	 is_dot_string(const char *);
static int	 has_ctl(const char *);


static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

/* RFC 5322 3.2.3 atext, ASCII only. */
static int
is_atext(unsigned char c)
{
	if (is_alnum(c))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

/* 1 if c ends a domain: NUL or a byte of stop. */
static int
is_stop(unsigned char c, const char *stop)
{
	return c == '\0' || strchr(stop, c) != NULL;
}

/* Why the byte at p is not allowed; what is for a plain bad ASCII byte. */
static const char *
char_error(const unsigned char *p, int flags, const char *what)
{
	if (*p < 0x20 || *p == 0x7f)
		return E_CTL;
	if (*p >= 0x80)
		return (flags & ADDR_UTF8) ? E_UTF8 : E_8BIT;
	return what;
}

/* ASCII case-insensitive equality, independent of the locale. */
static int
ascii_caseeq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (lower((unsigned char)*a) != lower((unsigned char)*b))
			return 0;
	return *a == *b;
}

/*
 * Quoted-string = DQUOTE *QcontentSMTP DQUOTE; qtextSMTP is %d32-33 /
 * %d35-91 / %d93-126 (and UTF8-non-ascii with ADDR_UTF8),
 * quoted-pairSMTP is %d92 %d32-126. The value goes to out unquoted.
 */
static int
parse_quoted(const unsigned char **pp, int flags, char *out,
    const char **errstr)
{
	const unsigned char	*p = *pp + 1;
	size_t			 n = 0, len;

	while (*p != '"') {
		if (*p == '\0') {
			*errstr = "unterminated quoted local part";
			return -1;
		}
		if (*p == '\\') {
			p++;
			if (*p == '\0') {
				*errstr = "unterminated quoted local part";
				return -1;
			}
			if (*p < 0x20 || *p > 0x7e) {
				*errstr = *p >= 0x80 ?
				    "invalid quoted pair in local part" :
				    E_CTL;
				return -1;
			}
			len = 1;
		} else if (*p >= 0x80) {
			if (!(flags & ADDR_UTF8)) {
				*errstr = E_8BIT;
				return -1;
			}
			if ((len = utf8_seq(p)) == 0) {
				*errstr = E_UTF8;
				return -1;
			}
		} else if (*p < 0x20 || *p == 0x7f) {
			*errstr = E_CTL;
			return -1;
		} else
			len = 1;
		if (n + len > ADDR_MAX_LOCAL) {
			*errstr = E_LOCAL_LONG;
			return -1;
		}
		memcpy(out + n, p, len);
		n += len;
		p += len;
	}
	if (n == 0) {
		*errstr = "empty quoted local part";
		return -1;
	}
	out[n] = '\0';
	*pp = p + 1;
	return 0;
}

/* Dot-string = Atom *("." Atom); Atom = 1*atext. */
static int
parse_dot_string(const unsigned char **pp, int flags, char *out,
    const char **errstr)
{
	const unsigned char	*p = *pp;
	size_t			 n = 0, len, atom;

	for (;;) {
		for (atom = 0;; atom++) {
			if (*p >= 0x80) {
				if (!(flags & ADDR_UTF8)) {
					*errstr = E_8BIT;
					return -1;
				}
				if ((len = utf8_seq(p)) == 0) {
					*errstr = E_UTF8;
					return -1;
				}
			} else if (is_atext(*p))
				len = 1;
			else
				break;
			if (n + len > ADDR_MAX_LOCAL) {
				*errstr = E_LOCAL_LONG;
				return -1;
			}
			memcpy(out + n, p, len);
			n += len;
			p += len;
		}
		if (atom == 0) {
			if (*p == '.')
				*errstr = n == 0 ?
				    "local part starts with a dot" :
				    "two dots in a row in local part";
			else if (*p == '@' || *p == '>' || *p == '\0')
				*errstr = n == 0 ? "empty local part" :
				    "local part ends with a dot";
			else
				*errstr = char_error(p, flags,
				    "invalid character in local part");
			return -1;
		}
		if (*p != '.')
			break;
		if (n + 1 > ADDR_MAX_LOCAL) {
			*errstr = E_LOCAL_LONG;
			return -1;
		}
		out[n++] = '.';
		p++;
	}
	out[n] = '\0';
	*pp = p;
	return 0;
}

/*
 * address-literal: "[" IPv4 "]" or "[IPv6:" IPv6 "]", checked with
 * inet_pton(3). General-address-literal ("[tag:...]") is refused: osms
 * cannot deliver to one. Stored lower case, with the brackets.
 */
static int
parse_literal(const unsigned char **pp, char *out, const char **errstr)
{
	const unsigned char	*p = *pp + 1;
	char			 buf[LITERAL_MAX + 1];
	struct in6_addr		 in6;
	struct in_addr		 in4;
	size_t			 n = 0;

	while (*p != ']') {
		if (*p == '\0') {
			*errstr = "unterminated address literal";
			return -1;
		}
		if (*p < 0x20 || *p == 0x7f) {
			*errstr = E_CTL;
			return -1;
		}
		if (*p <= 0x20 || *p >= 0x80 || *p == '[' || *p == '\\') {
			*errstr = "invalid character in address literal";
			return -1;
		}
		if (n == LITERAL_MAX) {
			*errstr = "address literal too long";
			return -1;
		}
		buf[n++] = (char)lower(*p);
		p++;
	}
	buf[n] = '\0';
	if (n == 0) {
		*errstr = "empty address literal";
		return -1;
	}
	if (strncmp(buf, "ipv6:", 5) == 0) {
		if (inet_pton(AF_INET6, buf + 5, &in6) != 1) {
			*errstr = "invalid IPv6 address literal";
			return -1;
		}
	} else if (strchr(buf, ':') != NULL) {
		*errstr = "general address literals are not supported";
		return -1;
	} else if (inet_pton(AF_INET, buf, &in4) != 1) {
		*errstr = "invalid IPv4 address literal";
		return -1;
	}
	out[0] = '[';
	memcpy(out + 1, buf, n);
	out[n + 1] = ']';
	out[n + 2] = '\0';
	*pp = p + 1;
	return 0;
}

/*
 * Domain = sub-domain *("." sub-domain): LDH labels of 1..63 bytes, no
 * hyphen at either end, at most ADDR_MAX_DOMAIN bytes, no trailing dot;
 * with ADDR_UTF8 a label may hold UTF-8 (a U-label). With literal_ok an
 * address-literal is taken too. The domain must end at NUL or at a byte
 * of stop. ASCII letters are stored lower case.
 */
static int
parse_domain(const unsigned char **pp, int flags, int literal_ok,
    const char *stop, char *out, const char **errstr)
{
	const unsigned char	*p = *pp;
	size_t			 n = 0, label, len, i;
	int			 digits;

	if (*p == '[' && literal_ok) {
		if (parse_literal(&p, out, errstr) == -1)
			return -1;
		goto done;
	}
	for (;;) {
		if (*p == '-') {
			*errstr = "domain label starts with a hyphen";
			return -1;
		}
		digits = 1;
		for (label = 0;; label += len) {
			if (is_alnum(*p) || *p == '-')
				len = 1;
			else if (*p >= 0x80) {
				if (!(flags & ADDR_UTF8)) {
					*errstr = E_8BIT;
					return -1;
				}
				if ((len = utf8_seq(p)) == 0) {
					*errstr = E_UTF8;
					return -1;
				}
			} else
				break;
			if (n + len > ADDR_MAX_DOMAIN) {
				*errstr = E_DOMAIN_LONG;
				return -1;
			}
			if (label + len > LABEL_MAX) {
				*errstr = "domain label longer than "
				    STR(LABEL_MAX) " bytes";
				return -1;
			}
			if (*p < '0' || *p > '9')
				digits = 0;
			for (i = 0; i < len; i++)
				out[n++] = (char)lower(*p++);
		}
		if (label == 0) {
			if (*p == '.')
				*errstr = n == 0 ? "domain starts with a dot" :
				    "empty label in domain";
			else if (is_stop(*p, stop))
				*errstr = n == 0 ? "missing domain" :
				    "trailing dot in domain";
			else if (*p == '[')
				*errstr = "address literal not allowed here";
			else
				*errstr = char_error(p, flags,
				    "invalid character in domain");
			return -1;
		}
		if (out[n - 1] == '-') {
			*errstr = "domain label ends with a hyphen";
			return -1;
		}
		if (*p != '.')
			break;
		if (n + 1 > ADDR_MAX_DOMAIN) {
			*errstr = E_DOMAIN_LONG;
			return -1;
		}
		out[n++] = '.';
		p++;
	}
	/*
	 * RFC 1123 2.1, RFC 3696 2: a top-level label is never all digits,
	 * so "u@192.0.2.1" is an IP address in disguise, not a domain.
	 */
	if (digits) {
		*errstr = "all-numeric top-level domain (an IP address "
		    "needs brackets)";
		return -1;
	}
	out[n] = '\0';
 done:
	if (!is_stop(*p, stop)) {
		*errstr = *p == '@' ? "more than one @ in address" :
		    char_error(p, flags, "invalid character in domain");
		return -1;
	}
	*pp = p;
	return 0;
}

/*
 * A-d-l ":" (RFC 5321 4.1.2): checked, then dropped (RFC 5321 3.3 and
 * Appendix C: "MUST accept", "SHOULD ignore the route").
 */
static int
parse_route(const unsigned char **pp, int flags, const char **errstr)
{
	const unsigned char	*p = *pp;
	char			 tmp[ADDR_MAX_DOMAIN + 1];

	for (;;) {
		p++;		/* '@' */
		if (parse_domain(&p, flags, 0, ",:>", tmp, errstr) == -1)
			return -1;
		if (*p == ':')
			break;
		if (*p == '>') {
			*errstr = "empty local part";
			return -1;
		}
		if (*p == '\0') {
			*errstr = "unterminated source route";
			return -1;
		}
		p++;		/* ',' */
		if (*p != '@') {
			*errstr = "invalid source route";
			return -1;
		}
	}
	*pp = p + 1;
	return 0;
}

/*
 * Mailbox, or with ADDR_POSTMASTER a bare "Postmaster" (any case),
 * ending at NUL or a byte of stop.
 */
static int
parse_mailbox(const unsigned char **pp, int flags, const char *stop,
    struct mailaddr *a, const char **errstr)
{
	const unsigned char	*p = *pp;
	int			 quoted = (*p == '"');

	if (quoted) {
		if (parse_quoted(&p, flags, a->local, errstr) == -1)
			return -1;
	} else if (parse_dot_string(&p, flags, a->local, errstr) == -1)
		return -1;

	if (*p != '@') {
		if (!quoted && (flags & ADDR_POSTMASTER) &&
		    is_stop(*p, stop) && ascii_caseeq(a->local, "postmaster")) {
			a->domain[0] = '\0';
			*pp = p;
			return 0;
		}
		if (is_stop(*p, stop))
			*errstr = "missing @domain";
		else if (quoted)
			*errstr = char_error(p, flags,
			    "invalid character after quoted local part");
		else
			*errstr = char_error(p, flags,
			    "invalid character in local part");
		return -1;
	}
	p++;
	if (parse_domain(&p, flags, 1, stop, a->domain, errstr) == -1)
		return -1;
	*pp = p;
	return 0;
}

int
addr_parse_path(const char *s, int flags, struct mailaddr *a,
    const char **end, const char **errstr)
{
	const unsigned char	*p = (const unsigned char *)s;

	memset(a, 0, sizeof(*a));
	*errstr = NULL;
	if (*p != '<') {
		*errstr = *p == '\0' ? "missing address" :
		    "missing '<' before address";
		return -1;
	}
	p++;
	if (*p == '>') {
		if (!(flags & ADDR_NULL_OK)) {
			*errstr = "empty address <> not allowed here";
			return -1;
		}
		*end = (const char *)p + 1;
		return 0;
	}
	if (*p == '@') {
		if (parse_route(&p, flags, errstr) == -1)
			goto fail;
		/* "<Postmaster>" has no source route (RFC 5321 4.1.1.3). */
		flags &= ~ADDR_POSTMASTER;
	}
	if (parse_mailbox(&p, flags, ">", a, errstr) == -1)
		goto fail;
	if (*p != '>') {
		*errstr = "missing '>' after address";
		goto fail;
	}
	*end = (const char *)p + 1;
	return 0;
 fail:
	memset(a, 0, sizeof(*a));
	return -1;
}

int
addr_parse_mailbox(const char *s, int flags, struct mailaddr *a,
    const char **errstr)
{
	const unsigned char	*p = (const unsigned char *)s;

	memset(a, 0, sizeof(*a));
	*errstr = NULL;
	if (*p == '\0') {
		if (flags & ADDR_NULL_OK)
			return 0;
		*errstr = "missing address";
		return -1;
	}
	if (parse_mailbox(&p, flags, "", a, errstr) == -1) {
		memset(a, 0, sizeof(*a));
		return -1;
	}
	return 0;
}

/* 1 if s is a Dot-string (UTF-8 bytes counted as atext). */
static int
is_dot_string(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	int			 prev_dot = 1;

	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (prev_dot)
				return 0;
			prev_dot = 1;
		} else if (*p >= 0x80 || is_atext(*p))
			prev_dot = 0;
		else
			return 0;
	}
	return !prev_dot;
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

int
addr_format(const struct mailaddr *a, char *buf, size_t size)
{
	const char	*s;
	size_t		 n = 0, llen, dlen, esc;

	if (size == 0)
		return -1;
	buf[0] = '\0';
	llen = strnlen(a->local, sizeof(a->local));
	dlen = strnlen(a->domain, sizeof(a->domain));
	/* Not something the parser makes: refuse to print it. */
	if (llen == sizeof(a->local) || dlen == sizeof(a->domain) ||
	    has_ctl(a->local) || has_ctl(a->domain) ||
	    (llen == 0 && dlen > 0))
		return -1;

	if (is_dot_string(a->local)) {
		if (llen >= size)
			goto toolong;
		memcpy(buf, a->local, llen);
		n = llen;
	} else if (llen > 0) {
		buf[n++] = '"';
		for (s = a->local; *s != '\0'; s++) {
			esc = (*s == '"' || *s == '\\');
			/* Room for the escape, the byte, '"' and NUL. */
			if (n + esc + 3 > size)
				goto toolong;
			if (esc)
				buf[n++] = '\\';
			buf[n++] = *s;
		}
		if (n + 2 > size)
			goto toolong;
		buf[n++] = '"';
	}
	if (dlen > 0) {
		if (n + 1 + dlen >= size)
			goto toolong;
		buf[n++] = '@';
		memcpy(buf + n, a->domain, dlen);
		n += dlen;
	}
	buf[n] = '\0';
	return (int)n;
 toolong:
	buf[0] = '\0';
	return -1;
}

int
addr_is_null(const struct mailaddr *a)
{
	return a->local[0] == '\0' && a->domain[0] == '\0';
}

int
addr_is_utf8(const struct mailaddr *a)
{
	size_t	 i;

	for (i = 0; i < sizeof(a->local) && a->local[i] != '\0'; i++)
		if ((unsigned char)a->local[i] >= 0x80)
			return 1;
	for (i = 0; i < sizeof(a->domain) && a->domain[i] != '\0'; i++)
		if ((unsigned char)a->domain[i] >= 0x80)
			return 1;
	return 0;
}

int
addr_domain_eq(const struct mailaddr *a, const char *domain)
{
	if (domain == NULL ||
	    strnlen(a->domain, sizeof(a->domain)) == sizeof(a->domain))
		return 0;
	return ascii_caseeq(a->domain, domain);
}

int
addr_domain_valid(const char *s, int utf8)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 tmp[ADDR_MAX_DOMAIN + 1];
	const char		*errstr;

	if (s == NULL)
		return 0;
	return parse_domain(&p, utf8 ? ADDR_UTF8 : 0, 0, "", tmp,
	    &errstr) == 0;
}
