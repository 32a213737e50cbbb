/*
 * The gateway's verdict fields (verdict.h).
 */
#include <string.h>
#include <strings.h>

#include "util.h"
#include "verdict.h"

#define AUTHRES		"Authentication-Results:"
#define SUBJECT		"Subject:"

/* The gateway's words in a Subject. */
static const char *const tags[] = {
	"[encrypted]", "[signed]", "[signature invalid]"
};

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

size_t
verdict_field_name(const char *p, size_t n, const char *name)
{
	size_t	 len = strlen(name) - 1, i;

	if (n <= len || strncasecmp(p, name, len) != 0)
		return 0;
	/* RFC 5322 4.5.3: the obsolete white space before the colon, which
	 * readers of the message (ours too) take for the same field. */
	for (i = len; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
		;
	return i < n && p[i] == ':' ? i + 1 : 0;
}

int
verdict_authres_ours(const char *p, size_t n, const char *authserv_id)
{
	size_t	 i, id = strlen(authserv_id), depth;

	if ((i = verdict_field_name(p, n, AUTHRES)) == 0 || id == 0)
		return 0;
	/* CFWS before the authserv-id: comments nest and quote. */
	for (;;) {
		while (i < n && is_wsp(p[i]))
			i++;
		if (i == n || p[i] != '(')
			break;
		for (depth = 0; i < n; i++)
			if (p[i] == '\\' && i + 1 < n)
				i++;
			else if (p[i] == '(')
				depth++;
			else if (p[i] == ')' && --depth == 0) {
				i++;
				break;
			}
	}
	if (n - i < id || strncasecmp(p + i, authserv_id, id) != 0)
		return 0;
	i += id;	/* the name ends there, or it is another's */
	return i == n || is_wsp(p[i]) || p[i] == ';' || p[i] == '(';
}

/* The end of the field at i (after its line end and continuations). */
static size_t
field_end(const char *p, size_t len, size_t i)
{
	for (; i < len; i++)
		if (p[i] == '\n' && (i + 1 >= len ||
		    (p[i + 1] != ' ' && p[i + 1] != '\t')))
			return i + 1;
	return len;
}

/* Where the header ends: at the empty line, or len. */
static int
header_ends(const char *p, size_t len, size_t i)
{
	return i >= len || p[i] == '\n' || (p[i] == '\r' && i + 1 < len &&
	    p[i + 1] == '\n');
}

int
verdict_strip(const char *p, size_t len, const char *authserv_id,
    const char *other, struct buf *out)
{
	size_t	 i = 0, e;
	int	 removed = 0;

	while (!header_ends(p, len, i)) {
		e = field_end(p, len, i);
		if ((other != NULL && verdict_field_name(p + i, e - i,
		    other) > 0) || verdict_authres_ours(p + i, e - i,
		    authserv_id))
			removed = 1;
		else if (buf_add(out, p + i, e - i) == -1)
			return -1;
		i = e;
	}
	if (buf_add(out, p + i, len - i) == -1)
		return -1;
	return removed;
}

int
verdict_tag_subject(const char *p, size_t len, const char *tag,
    struct buf *out)
{
	size_t	 i = 0, at = 0, from, t, n = 0;
	int	 found = 0, forged = 0;

	for (; !header_ends(p, len, i); i = field_end(p, len, i))
		if ((at = verdict_field_name(p + i, len - i, SUBJECT)) > 0) {
			found = 1;
			break;
		}
	if (!found) {
		if (tag[0] == '\0')
			return 0;
		return buf_printf(out, "Subject: %s\r\n", tag) == -1 ||
		    buf_add(out, p, len) == -1 ? -1 : 1;
	}
	at = from = i + at;
	for (;;) {
		while (from < len && (p[from] == ' ' || p[from] == '\t'))
			from++;
		for (t = 0; t < nitems(tags); t++) {
			n = strlen(tags[t]);
			if (len - from >= n && strncasecmp(p + from, tags[t],
			    n) == 0)
				break;
		}
		if (t == nitems(tags))
			break;
		from += n;
		forged = 1;
	}
	if (!forged && tag[0] == '\0')
		return 0;
	/* A space after the tag when text follows it on the line. */
	if (buf_add(out, p, at) == -1 || buf_printf(out, " %s%s", tag,
	    tag[0] != '\0' && from < len && p[from] != '\r' &&
	    p[from] != '\n' ? " " : "") == -1 ||
	    buf_add(out, p + from, len - from) == -1)
		return -1;
	return 1;
}
