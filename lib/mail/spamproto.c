/*
 * The spam engines' protocols (spamproto.h). rspamd's JSON is read for
 * what the answer needs only: the top object's "score",
 * "required_score", "action" and the names in "symbols"; everything
 * else is skipped, strings and nesting checked, depth bounded. spamd's
 * answer is a status line, a header and the symbol list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spamproto.h"
#include "util.h"

#define JSON_MAX_DEPTH	16

struct json {
	const char	*p, *end;
};

static void
ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

/* A string; its text (escapes kept as written, cut to size) into out
 * when out is not NULL. 0, or -1. */
static int
json_string(struct json *j, char *out, size_t size)
{
	size_t	 n = 0;

	if (j->p >= j->end || *j->p != '"')
		return -1;
	for (j->p++; j->p < j->end && *j->p != '"'; j->p++) {
		if ((unsigned char)*j->p < 0x20)
			return -1;
		if (*j->p == '\\' && ++j->p >= j->end)
			return -1;
		if (out != NULL && n + 1 < size)
			out[n++] = *j->p;
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	if (out != NULL && size > 0)
		out[n] = '\0';
	return 0;
}

static int
json_number(struct json *j, double *v)
{
	char	 buf[64], *e;
	size_t	 n = 0;

	while (j->p < j->end && n + 1 < sizeof(buf) &&
	    strchr("+-.0123456789eE", *j->p) != NULL && *j->p != '\0')
		buf[n++] = *j->p++;
	buf[n] = '\0';
	if (n == 0)
		return -1;
	*v = strtod(buf, &e);
	return *e == '\0' ? 0 : -1;
}

static int	 json_skip(struct json *, int);

/* An object or array, after its opening bracket. */
static int
json_skip_container(struct json *j, char close, int depth)
{
	ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		ws(j);
		if (close == '}') {
			if (json_string(j, NULL, 0) == -1)
				return -1;
			ws(j);
			if (j->p >= j->end || *j->p++ != ':')
				return -1;
		}
		if (json_skip(j, depth + 1) == -1)
			return -1;
		ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == close) {
			j->p++;
			return 0;
		}
		if (*j->p++ != ',')
			return -1;
	}
}

/* Any value. */
static int
json_skip(struct json *j, int depth)
{
	static const char *const words[] = { "true", "false", "null" };
	double	 v;
	size_t	 i, n;

	if (depth > JSON_MAX_DEPTH)
		return -1;
	ws(j);
	if (j->p >= j->end)
		return -1;
	switch (*j->p) {
	case '"':
		return json_string(j, NULL, 0);
	case '{':
		j->p++;
		return json_skip_container(j, '}', depth);
	case '[':
		j->p++;
		return json_skip_container(j, ']', depth);
	default:
		for (i = 0; i < nitems(words); i++) {
			n = strlen(words[i]);
			if ((size_t)(j->end - j->p) >= n &&
			    memcmp(j->p, words[i], n) == 0) {
				j->p += n;
				return 0;
			}
		}
		return json_number(j, &v);
	}
}

/* The names of the "symbols" object, comma separated. */
static int
json_symbols(struct json *j, char *out, size_t size)
{
	char	 name[80];
	size_t	 len;

	out[0] = '\0';
	ws(j);
	if (j->p >= j->end || *j->p != '{')
		return json_skip(j, 1);
	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		return 0;
	}
	for (;;) {
		ws(j);
		if (json_string(j, name, sizeof(name)) == -1)
			return -1;
		/* A symbol's name is a word; anything else is left out. */
		len = strlen(out);
		if (name[0] != '\0' && strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_-.") == strlen(name) &&
		    len + strlen(name) + 2 < size) {
			if (len > 0)
				(void)osms_strlcat(out, ",", size);
			(void)osms_strlcat(out, name, size);
		}
		ws(j);
		if (j->p >= j->end || *j->p++ != ':' || json_skip(j, 2) == -1)
			return -1;
		ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == '}') {
			j->p++;
			return 0;
		}
		if (*j->p++ != ',')
			return -1;
	}
}

int
rspamd_parse_reply(const char *reply, size_t len, struct spam_result *res,
    const char **err)
{
	struct json	 j;
	const char	*body;
	char		 key[64];
	int		 have_score = 0;

	memset(res, 0, sizeof(*res));
	if (len > SPAM_MAX_REPLY) {
		*err = "the answer is too long";
		return -1;
	}
	if (len < 12 || strncmp(reply, "HTTP/1.", 7) != 0 ||
	    strncmp(reply + 8, " 200", 4) != 0) {
		*err = "rspamd did not answer 200";
		return -1;
	}
	if ((body = memmem(reply, len, "\r\n\r\n", 4)) == NULL) {
		*err = "the answer has no body";
		return -1;
	}
	j.p = body + 4;
	j.end = reply + len;
	ws(&j);
	if (j.p >= j.end || *j.p++ != '{')
		goto bad;
	ws(&j);
	for (;;) {
		ws(&j);
		if (json_string(&j, key, sizeof(key)) == -1)
			goto bad;
		ws(&j);
		if (j.p >= j.end || *j.p++ != ':')
			goto bad;
		ws(&j);
		if (strcmp(key, "score") == 0) {
			if (json_number(&j, &res->score) == -1)
				goto bad;
			have_score = 1;
		} else if (strcmp(key, "required_score") == 0) {
			if (json_number(&j, &res->required) == -1)
				goto bad;
		} else if (strcmp(key, "action") == 0) {
			if (json_string(&j, res->action,
			    sizeof(res->action)) == -1)
				goto bad;
		} else if (strcmp(key, "symbols") == 0) {
			if (json_symbols(&j, res->symbols,
			    sizeof(res->symbols)) == -1)
				goto bad;
		} else if (json_skip(&j, 1) == -1)
			goto bad;
		ws(&j);
		if (j.p < j.end && *j.p == ',') {
			j.p++;
			continue;
		}
		if (j.p < j.end && *j.p == '}')
			break;
		goto bad;
	}
	if (!have_score || str_has_ctl(res->action)) {
		*err = "the answer has no score";
		return -1;
	}
	return 0;
bad:
	*err = "the answer is not the JSON expected";
	return -1;
}

static int
header(struct buf *out, const char *name, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return 0;
	if (str_has_ctl(value))
		return -1;
	(void)buf_addstr(out, name);
	(void)buf_addstr(out, ": ");
	(void)buf_addstr(out, value);
	(void)buf_addstr(out, "\r\n");
	return 0;
}

int
rspamd_request_head(const struct spam_request *rq, struct buf *out)
{
	char	 len[32];
	size_t	 i;

	(void)snprintf(len, sizeof(len), "%zu", rq->length);
	(void)buf_addstr(out, "POST /checkv2 HTTP/1.0\r\n");
	if (header(out, "Content-Length", len) == -1 ||
	    header(out, "IP", rq->ip) == -1 ||
	    header(out, "Helo", rq->helo) == -1 ||
	    header(out, "From", rq->sender) == -1 ||
	    header(out, "Queue-Id", rq->queue_id) == -1 ||
	    header(out, "MTA-Name", rq->hostname) == -1)
		return -1;
	for (i = 0; i < rq->nrcpts; i++)
		if (header(out, "Rcpt", rq->rcpts[i]) == -1)
			return -1;
	(void)buf_addstr(out, "\r\n");
	return out->over ? -1 : 0;
}

/*
 * SpamAssassin's spamc protocol (spamd): SYMBOLS asks for the verdict
 * and the names of the rules that hit.
 */

int
spamc_request_head(const struct spam_request *rq, struct buf *out)
{
	char	 len[32];

	(void)snprintf(len, sizeof(len), "%zu", rq->length);
	(void)buf_addstr(out, "SYMBOLS SPAMC/1.5\r\n");
	if (header(out, "Content-length", len) == -1 ||
	    header(out, "Queue-Id", rq->queue_id) == -1)
		return -1;
	(void)buf_addstr(out, "\r\n");
	return out->over ? -1 : 0;
}

/* The symbol list (spamd's body): rule names and commas, up to size. */
static void
spamc_symbols(const char *p, const char *end, char *out, size_t size)
{
	size_t	 n = 0;

	while (p < end && (*p == '\r' || *p == '\n' || *p == ' '))
		p++;
	for (; p < end && n + 1 < size; p++) {
		if (*p == '\r' || *p == '\n')
			break;
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_-.,", *p) == NULL || *p == '\0')
			break;
		out[n++] = *p;
	}
	/* A list cut short ends at its last whole name. */
	if (p < end && *p != '\r' && *p != '\n') {
		while (n > 0 && out[n - 1] != ',')
			n--;
		if (n > 0)
			n--;
	}
	out[n] = '\0';
}

int
spamc_parse_reply(const char *reply, size_t len, struct spam_result *res,
    const char **err)
{
	const char	*p = reply, *end = reply + len, *nl, *body;
	char		 line[256], verdict[16];
	size_t		 n;
	int		 have = 0;

	memset(res, 0, sizeof(*res));
	if (len > SPAM_MAX_REPLY) {
		*err = "the answer is too long";
		return -1;
	}
	/* "SPAMD/1.1 0 EX_OK" */
	if (len < 12 || strncmp(reply, "SPAMD/1.", 8) != 0 ||
	    strncmp(reply + 9, " 0 ", 3) != 0) {
		*err = "spamd did not answer EX_OK";
		return -1;
	}
	if ((body = memmem(reply, len, "\r\n\r\n", 4)) == NULL) {
		*err = "the answer has no end of header";
		return -1;
	}
	for (p = memchr(reply, '\n', len); p != NULL && p < body;
	    p = nl) {
		p++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n >= sizeof(line))
			continue;
		memcpy(line, p, n);
		line[n] = '\0';
		/* "Spam: True ; 1003.3 / 5.0" */
		if (strncasecmp(line, "Spam:", 5) != 0)
			continue;
		if (sscanf(line + 5, " %15s ; %lf / %lf", verdict,
		    &res->score, &res->required) != 3 ||
		    (strcasecmp(verdict, "true") != 0 &&
		    strcasecmp(verdict, "false") != 0 &&
		    strcasecmp(verdict, "yes") != 0 &&
		    strcasecmp(verdict, "no") != 0)) {
			*err = "the Spam line is malformed";
			return -1;
		}
		have = 1;
	}
	if (!have) {
		*err = "the answer has no score";
		return -1;
	}
	spamc_symbols(body + 4, end, res->symbols, sizeof(res->symbols));
	return 0;
}
