/*
 * FETCH rendering: the response of one message as segments of text and
 * message data, produced in chunks (see fetch.h).
 *
 * Cached ENVELOPE and BODYSTRUCTURE renderings carry one byte in front
 * that says in which mode they were made: 'A' for any (no 8-bit byte in
 * them, so the same with or without UTF8=ACCEPT), 'U' for a UTF-8 mode
 * session, '7' for the other. A cached entry is checked (balanced lists,
 * whole strings and literals, no line break outside a literal) before
 * it goes out: a broken cache must not break the protocol.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "buf.h"
#include "fetch.h"
#include "imapstr.h"
#include "util.h"

#define TEXT_MAX	(64 * 1024 * 1024)	/* the text of one response */
#define STRUCT_MAX	(32 * 1024 * 1024)	/* one BODYSTRUCTURE */
#define FIELDS_MAX	(2 * MIME_MAX_HEADER)	/* HEADER.FIELDS copy */
#define STEP_TMP	(64 * 1024)
#define CACHE_DEPTH	(2 * MIME_MAX_DEPTH + 8) /* lists in a rendering */

_Static_assert(IMAP_FETCH_PREVIEW == 1u << (IMAP_FETCH_NATTRS - 1),
    "IMAP_FETCH_NATTRS counts the IMAP_FETCH_* bits");

/* The macros, in the order RFC 9051 6.4.5 lists their items. */
static const unsigned macro_fast[] = {
	IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
};
static const unsigned macro_all[] = {
	IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE,
};
static const unsigned macro_full[] = {
	IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822_SIZE,
	IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY,
};

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

/*
 * The plan.
 */

static unsigned
attr_of(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_ATOM ? imap_fetch_att(a->s) : 0;
}

static void
plan_attr(struct fetch_plan *p, unsigned attr, unsigned *added)
{
	if (*added & attr)
		return;
	*added |= attr;
	p->items[p->nitems].attr = attr;
	p->items[p->nitems].sect = 0;
	p->nitems++;
}

/* 1 if sections i and j would give the same response item. */
static int
sect_same(const struct fetch_plan *p, size_t i, size_t j)
{
	const struct imap_fetch_section	*a = p->sects[i].fs;
	const struct imap_fetch_section	*b = p->sects[j].fs;

	return strcmp(p->sects[i].name, p->sects[j].name) == 0 &&
	    a->partial == b->partial && (!a->partial ||
	    (a->offset == b->offset && a->count == b->count));
}

static void
plan_sect(struct fetch_plan *p, size_t k)
{
	size_t	 i;

	for (i = 0; i < p->nitems; i++)
		if (p->items[i].attr == 0 && sect_same(p, p->items[i].sect, k))
			return;
	p->items[p->nitems].attr = 0;
	p->items[p->nitems].sect = k;
	p->nitems++;
}

static char *
sect_name(const struct imap_fetch_section *fs)
{
	const char	*kind;
	char		*name;
	size_t		 i;

	switch (fs->kind) {
	case IMAP_SECTION_BINARY:
		kind = "BINARY";
		break;
	case IMAP_SECTION_BINARY_SIZE:
		kind = "BINARY.SIZE";
		break;
	default:
		kind = "BODY";
		break;
	}
	name = xasprintf("%s[%s]", kind, fs->section);
	/* As Dovecot does: the section text in upper case. */
	for (i = 0; name[i] != '\0'; i++)
		if (name[i] >= 'a' && name[i] <= 'z')
			name[i] = (char)(name[i] - 'a' + 'A');
	return name;
}

int
fetch_plan_init(struct fetch_plan *p, const struct imap_cmd *cmd,
    const struct imap_fetch *f, const char **errstr)
{
	const struct imap_arg	*a, *list;
	const unsigned		*mac = NULL;
	unsigned		 added = 0, attr;
	size_t			 i, nlist, nmac = 0, k = 0;

	memset(p, 0, sizeof(*p));
	p->attrs = f->attrs;
	/* Every attribute once, every section once, and the macros. */
	p->items = xcalloc(IMAP_FETCH_NATTRS + f->nsections + 1,
	    sizeof(*p->items));
	if (f->nsections > 0)
		p->sects = xcalloc(f->nsections, sizeof(*p->sects));
	for (i = 0; i < f->nsections; i++) {
		p->sects[i].fs = &f->sections[i];
		p->sects[i].name = sect_name(&f->sections[i]);
		p->nsects++;
		if (mime_section_parse(f->sections[i].section,
		    strlen(f->sections[i].section), &p->sects[i].ms,
		    errstr) == -1) {
			free(p->sects[i].name);
			p->sects[i].name = NULL;
			p->nsects--;
			fetch_plan_free(p);
			return -1;
		}
	}

	if (cmd->uid && (f->attrs & IMAP_FETCH_UID)) {
		plan_attr(p, IMAP_FETCH_UID, &added);
		p->uid_first = 1;
	}
	if (cmd->nargs >= 2) {
		a = &cmd->args[1];
		if (a->type == IMAP_ARG_LIST) {
			list = a->list;
			nlist = a->nlist;
		} else {
			list = a;
			nlist = 1;
		}
		if (a->type == IMAP_ARG_ATOM && strcasecmp(a->s, "FAST") == 0) {
			mac = macro_fast;
			nmac = nitems(macro_fast);
		} else if (a->type == IMAP_ARG_ATOM &&
		    strcasecmp(a->s, "ALL") == 0) {
			mac = macro_all;
			nmac = nitems(macro_all);
		} else if (a->type == IMAP_ARG_ATOM &&
		    strcasecmp(a->s, "FULL") == 0) {
			mac = macro_full;
			nmac = nitems(macro_full);
		}
		for (i = 0; i < nmac; i++)
			plan_attr(p, mac[i], &added);
		for (i = 0; mac == NULL && i < nlist; i++) {
			if (list[i].type != IMAP_ARG_ATOM)
				continue;	/* PREVIEW's (LAZY) */
			if ((attr = attr_of(&list[i])) != 0) {
				if (attr & f->attrs)
					plan_attr(p, attr, &added);
			} else if (k < p->nsects)
				plan_sect(p, k++);
		}
	}
	/* What the parser added (UID, MODSEQ) or the walk missed. */
	for (attr = 1; attr < 1u << IMAP_FETCH_NATTRS; attr <<= 1)
		if ((f->attrs & attr) && !(added & attr))
			plan_attr(p, attr, &added);
	for (; k < p->nsects; k++)
		plan_sect(p, k);

	if (f->attrs & (IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_TEXT))
		p->sets_seen = 1;
	if (f->attrs & (IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_HEADER |
	    IMAP_FETCH_RFC822_TEXT | IMAP_FETCH_PREVIEW))
		p->data = 1;
	if (f->attrs & (IMAP_FETCH_RFC822_HEADER | IMAP_FETCH_RFC822_TEXT |
	    IMAP_FETCH_PREVIEW))
		p->mime = 1;
	for (i = 0; i < p->nsects; i++) {
		const struct fetch_sect	*s = &p->sects[i];

		p->data = 1;
		if (s->fs->kind != IMAP_SECTION_BINARY_SIZE && !s->fs->peek)
			p->sets_seen = 1;
		if (s->ms.kind != MS_ALL || s->ms.npath > 0)
			p->mime = 1;
	}
	return 0;
}

void
fetch_plan_free(struct fetch_plan *p)
{
	size_t	 i;

	for (i = 0; i < p->nsects; i++) {
		mime_section_free(&p->sects[i].ms);
		free(p->sects[i].name);
	}
	free(p->sects);
	free(p->items);
	memset(p, 0, sizeof(*p));
}

/*
 * Cached renderings.
 */

static const unsigned cached_attr[FETCH_C_COUNT] = {
	[FETCH_C_ENVELOPE] = IMAP_FETCH_ENVELOPE,
	[FETCH_C_BODY] = IMAP_FETCH_BODY,
	[FETCH_C_BODYSTRUCTURE] = IMAP_FETCH_BODYSTRUCTURE,
};

int
fetch_cache_field(enum fetch_cached c)
{
	switch (c) {
	case FETCH_C_ENVELOPE:
		return MBOX_CACHE_ENVELOPE;
	case FETCH_C_BODY:
		return MBOX_CACHE_BODY;
	default:
		return MBOX_CACHE_BODYSTRUCTURE;
	}
}

/* A number of at most 19 digits at p; the end, or NULL. */
static const char *
scan_number(const char *p, const char *end, uint64_t *v)
{
	size_t	 n = 0;

	*v = 0;
	while (p < end && *p >= '0' && *p <= '9' && n < 19) {
		*v = *v * 10 + (uint64_t)(*p - '0');
		p++;
		n++;
	}
	return n == 0 || (p < end && *p >= '0' && *p <= '9') ? NULL : p;
}

/*
 * 1 if p is one parenthesised list of atoms, NIL, numbers, quoted
 * strings, literals and lists, as ENVELOPE and BODYSTRUCTURE are.
 */
static int
list_valid(const char *p, size_t len)
{
	const char	*end = p + len;
	uint64_t	 n;
	int		 depth = 0;

	if (len < 2 || *p != '(')
		return 0;
	while (p < end) {
		switch (*p) {
		case '(':
			if (++depth > CACHE_DEPTH)
				return 0;
			p++;
			break;
		case ')':
			if (--depth < 0)
				return 0;
			p++;
			if (depth == 0)
				return p == end;
			break;
		case ' ':
			p++;
			break;
		case '"':
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\r' || *p == '\n' || *p == '\0')
					return 0;
				if (*p == '\\' && ++p == end)
					return 0;
			}
			if (p == end)
				return 0;
			p++;
			break;
		case '{':
			if ((p = scan_number(p + 1, end, &n)) == NULL ||
			    end - p < 3 || memcmp(p, "}\r\n", 3) != 0)
				return 0;
			p += 3;
			if ((uint64_t)(end - p) < n)
				return 0;
			p += n;
			break;
		default:
			if (!imap_atom_char((unsigned char)*p))
				return 0;
			while (p < end && imap_atom_char((unsigned char)*p))
				p++;
			break;
		}
	}
	return 0;
}

static int
cache_usable(const struct fetch_msg *msg, enum fetch_cached c)
{
	const char	*p = msg->cache[c];
	size_t		 len = msg->cachelen[c];

	if (p == NULL || len < 3)
		return 0;
	if (!(p[0] == 'A' || (p[0] == 'U' && msg->utf8) ||
	    (p[0] == '7' && !msg->utf8)))
		return 0;
	return list_valid(p + 1, len - 1);
}

int
fetch_needs_data(const struct fetch_plan *p, const struct fetch_msg *msg)
{
	size_t	 c;

	if (p->data)
		return 1;
	for (c = 0; c < FETCH_C_COUNT; c++)
		if ((p->attrs & cached_attr[c]) &&
		    !cache_usable(msg, (enum fetch_cached)c))
			return 1;
	return 0;
}

/*
 * Line ends.
 */

uint64_t
fetch_crlf_size(const char *p, size_t len)
{
	const char	*lf, *q = p, *end = p + len;
	uint64_t	 n = len;

	while (q < end && (lf = memchr(q, '\n', (size_t)(end - q))) != NULL) {
		if (lf == p || lf[-1] != '\r')
			n++;
		q = lf + 1;
	}
	return n;
}

static void
nul_to_80(char *p, size_t len)
{
	char	*z, *end = p + len;

	while (p < end && (z = memchr(p, '\0', (size_t)(end - p))) != NULL) {
		*z = (char)0x80;
		p = z + 1;
	}
}

/*
 * Up to room output bytes of p[*rpos, plen) with LF made CRLF, into out
 * (NULL: count them only). *half is set between the CR made and its LF.
 */
static size_t
crlf_out(const char *p, size_t plen, size_t *rpos, int *half, char *out,
    size_t room, int nul80)
{
	const char	*lf;
	size_t		 i = *rpos, n = 0, run, stop;

	while (n < room && i < plen) {
		if (*half) {
			if (out != NULL)
				out[n] = '\n';
			n++;
			i++;
			*half = 0;
			continue;
		}
		lf = memchr(p + i, '\n', plen - i);
		stop = lf != NULL ? (size_t)(lf - p) : plen;
		if (stop > i) {
			run = stop - i < room - n ? stop - i : room - n;
			if (out != NULL) {
				memcpy(out + n, p + i, run);
				if (nul80)
					nul_to_80(out + n, run);
			}
			n += run;
			i += run;
			continue;
		}
		if (i > 0 && p[i - 1] == '\r') {
			if (out != NULL)
				out[n] = '\n';
			n++;
			i++;
		} else {
			if (out != NULL)
				out[n] = '\r';
			n++;
			*half = 1;
		}
	}
	*rpos = i;
	return n;
}

/* The raw offset where output offset wpos falls (CRLF form). */
static size_t
raw_at(const char *p, size_t plen, uint64_t wpos)
{
	size_t	 rpos = 0, got;
	int	 half = 0;

	while (wpos > 0) {
		got = crlf_out(p, plen, &rpos, &half, NULL,
		    wpos > SIZE_MAX ? SIZE_MAX : (size_t)wpos, 0);
		if (got == 0)
			break;
		wpos -= got;
	}
	return rpos;
}

/*
 * Rendering one message.
 */

static void
own(struct fetch_render *r, char *p)
{
	r->own = xreallocarray(r->own, r->nown + 1, sizeof(*r->own));
	r->own[r->nown++] = p;
}

static void
add_seg(struct fetch_render *r, const struct fetch_seg *sg)
{
	r->segs = xreallocarray(r->segs, r->nsegs + 1, sizeof(*r->segs));
	r->segs[r->nsegs++] = *sg;
}

/* The text since the last segment becomes one. */
static void
flush_text(struct fetch_render *r)
{
	struct fetch_seg	 sg;

	if (r->text.len == r->textstart)
		return;
	memset(&sg, 0, sizeof(sg));
	sg.src = FETCH_SRC_TEXT;
	sg.off = r->textstart;
	sg.plen = r->text.len - r->textstart;
	sg.len = sg.plen;
	add_seg(r, &sg);
	r->textstart = r->text.len;
}

/*
 * A string of message data: "" or a literal whose bytes stream from p.
 * partial: only the output bytes [offset, offset + count). binary:
 * literal8 if a NUL goes out (no NUL -> 0x80 then).
 */
static void
add_data(struct fetch_render *r, const char *p, size_t plen, int crlf,
    int binary, const struct imap_fetch_section *fs)
{
	struct fetch_seg	 sg;
	uint64_t		 total, skip = 0, len;
	size_t			 rs, re;
	int			 lit8 = 0;

	total = crlf ? fetch_crlf_size(p, plen) : plen;
	len = total;
	if (fs != NULL && fs->partial) {
		skip = fs->offset < total ? fs->offset : total;
		len = total - skip < fs->count ? total - skip : fs->count;
	}
	if (len == 0) {
		/* As Dovecot sends it; "" would do as well. */
		(void)buf_addstr(&r->text, "{0}\r\n");
		return;
	}
	if (binary) {
		rs = crlf ? raw_at(p, plen, skip) : (size_t)skip;
		re = crlf ? raw_at(p, plen, skip + len) : (size_t)(skip + len);
		lit8 = re > rs && memchr(p + rs, '\0', re - rs) != NULL;
	}
	(void)buf_printf(&r->text, "%s{%llu}\r\n", lit8 ? "~" : "",
	    (unsigned long long)len);
	flush_text(r);
	memset(&sg, 0, sizeof(sg));
	sg.src = FETCH_SRC_PTR;
	sg.p = p;
	sg.plen = plen;
	sg.crlf = crlf;
	sg.nul80 = !binary;
	sg.skip = skip;
	sg.len = len;
	add_seg(r, &sg);
}

static int
need_mime(struct fetch_render *r, const struct fetch_msg *msg,
    const char **errstr)
{
	if (r->mime != NULL)
		return 0;
	if (msg->data == NULL) {
		r->code = "SERVERBUG";
		*errstr = "message data missing";
		return -1;
	}
	if ((r->mime = mime_parse(msg->data, msg->len, errstr)) == NULL) {
		r->code = "SERVERBUG";
		return -1;
	}
	return 0;
}

/* ENVELOPE, BODY or BODYSTRUCTURE, from the cache or made now. */
static int
add_struct(struct fetch_render *r, const struct fetch_msg *msg,
    enum fetch_cached c, const char **errstr)
{
	struct buf	*b = &r->put[c];
	const char	*p;
	size_t		 i, len;
	int		 rc, eight = 0;

	if (cache_usable(msg, c)) {
		p = msg->cache[c];
		(void)buf_add(&r->text, p + 1, msg->cachelen[c] - 1);
		return 0;
	}
	if (b->data == NULL) {
		if (need_mime(r, msg, errstr) == -1)
			return -1;
		buf_init(b, STRUCT_MAX);
		(void)buf_addc(b, msg->utf8 ? 'U' : '7');
		if (c == FETCH_C_ENVELOPE)
			rc = mime_envelope(r->mime, NULL, b, msg->utf8);
		else
			rc = mime_bodystructure(r->mime, NULL,
			    c == FETCH_C_BODYSTRUCTURE, b, msg->utf8);
		if (rc == -1 || b->over) {
			r->code = "LIMIT";
			*errstr = "structure too large";
			return -1;
		}
		for (i = 1; i < b->len && !eight; i++)
			eight = (unsigned char)b->data[i] >= 0x80;
		if (!eight)
			b->data[0] = 'A';
	}
	len = b->len - 1;
	(void)buf_add(&r->text, b->data + 1, len);
	return 0;
}

/* The part a section path names, as mime.c counts (NULL if none). */
static const struct mime_part *
part_at(const struct mime_msg *mm, const struct mime_section *ms)
{
	const struct mime_part	*p = NULL, *c;
	size_t			 i;

	for (i = 0; i < ms->npath; i++) {
		c = p == NULL ? mime_root(mm) : p->message != NULL ?
		    p->message : p;
		if (strcmp(c->type, "multipart") == 0) {
			if (ms->path[i] == 0 || ms->path[i] > c->nchildren)
				return NULL;
			p = &c->children[ms->path[i] - 1];
		} else if (ms->path[i] == 1 && (p == NULL ||
		    p->message != NULL))
			p = c;
		else
			return NULL;
	}
	return p;
}

/* BODY[...], RFC822, RFC822.HEADER, RFC822.TEXT. */
static int
add_body(struct fetch_render *r, const struct fetch_msg *msg,
    const struct mime_section *ms, const struct imap_fetch_section *fs,
    const char **errstr)
{
	struct buf	 b = BUF_INIT(FIELDS_MAX);
	const char	*out;
	size_t		 outlen, off;
	char		*mine;

	if (ms->kind == MS_ALL && ms->npath == 0) {
		if (msg->data == NULL) {
			r->code = "SERVERBUG";
			*errstr = "message data missing";
			return -1;
		}
		add_data(r, msg->data, msg->len, 1, 0, fs);
		return 0;
	}
	if (need_mime(r, msg, errstr) == -1)
		return -1;
	if (mime_section_get(r->mime, ms, &out, &outlen, &b) == -1) {
		if (b.over) {
			buf_free(&b);
			r->code = "LIMIT";
			*errstr = "header too large";
			return -1;
		}
		/* No such part: an empty string, as Dovecot sends. */
		buf_free(&b);
		(void)buf_addstr(&r->text, "{0}\r\n");
		return 0;
	}
	if (b.data != NULL && out >= b.data && out <= b.data + b.len) {
		/* HEADER.FIELDS: a copy, kept until the end. */
		off = (size_t)(out - b.data);
		mine = buf_release(&b, NULL);
		own(r, mine);
		out = mine + off;
	}
	buf_free(&b);
	add_data(r, out, outlen, 1, 0, fs);
	return 0;
}

/* BINARY[...] and BINARY.SIZE[...] (RFC 3516). */
static int
add_binary(struct fetch_render *r, const struct fetch_msg *msg,
    const struct fetch_sect *s, const char **errstr)
{
	struct buf		 b = BUF_INIT(FETCH_BINARY_MAX);
	const struct mime_part	*part;
	const char		*err = "no such part";
	char			*mine;
	size_t			 len;
	int			 crlf;

	if (s->ms.npath == 0) {
		/* BINARY[]: the message as it is. */
		if (msg->data == NULL) {
			r->code = "SERVERBUG";
			*errstr = "message data missing";
			return -1;
		}
		if (s->fs->kind == IMAP_SECTION_BINARY_SIZE)
			(void)buf_printf(&r->text, "%llu", (unsigned long long)
			    fetch_crlf_size(msg->data, msg->len));
		else
			add_data(r, msg->data, msg->len, 1, 1, s->fs);
		return 0;
	}
	if (need_mime(r, msg, errstr) == -1)
		return -1;
	if ((part = part_at(r->mime, &s->ms)) == NULL ||
	    mime_section_binary(r->mime, &s->ms, &b, &err) == -1) {
		buf_free(&b);
		if (strcmp(err, "unknown-cte") == 0) {
			r->code = "UNKNOWN-CTE";
			*errstr = "Unknown Content-Transfer-Encoding";
			return -1;
		}
		if (strcmp(err, "too large") == 0) {
			r->code = "LIMIT";
			*errstr = "decoded part too large";
			return -1;
		}
		/* No such part. */
		(void)buf_addstr(&r->text, s->fs->kind ==
		    IMAP_SECTION_BINARY_SIZE ? "0" : "{0}\r\n");
		return 0;
	}
	/*
	 * Base64 gives the bytes as they are. Quoted-printable and the
	 * identity encodings are text whose line breaks are CRLF on the
	 * wire (RFC 2045 6.7), and the store keeps LF.
	 */
	crlf = strcmp(part->encoding, "BASE64") != 0;
	if (s->fs->kind == IMAP_SECTION_BINARY_SIZE) {
		(void)buf_printf(&r->text, "%llu", (unsigned long long)(crlf ?
		    fetch_crlf_size(b.data != NULL ? b.data : "", b.len) :
		    b.len));
		buf_free(&b);
		return 0;
	}
	if (b.len == 0) {
		buf_free(&b);
		(void)buf_addstr(&r->text, "{0}\r\n");
		return 0;
	}
	mine = buf_release(&b, &len);
	own(r, mine);
	add_data(r, mine, len, crlf, 1, s->fs);
	return 0;
}

/*
 * PREVIEW (RFC 8970): the start of the first text part, white space
 * folded, HTML tags dropped, at most FETCH_PREVIEW_CHARS characters.
 */
struct preview {
	struct buf	 b;
	size_t		 chars;
	int		 html;
	int		 intag;
	int		 space;
};

static int
preview_cb(void *arg, const char *s, size_t len)
{
	struct preview		*pv = arg;
	const unsigned char	*u = (const unsigned char *)s;
	unsigned char		 seq[5];
	size_t			 i, n;

	for (i = 0; i < len && pv->chars < FETCH_PREVIEW_CHARS; i += n) {
		n = 1;
		if (pv->html && u[i] == '<') {
			pv->intag = 1;
			continue;
		}
		if (pv->intag) {
			if (u[i] == '>') {
				pv->intag = 0;
				pv->space = 1;
			}
			continue;
		}
		if (u[i] < 0x20 || u[i] == ' ' || u[i] == 0x7f) {
			pv->space = 1;
			continue;
		}
		if (u[i] >= 0x80) {
			memset(seq, 0, sizeof(seq));
			memcpy(seq, u + i, len - i < 4 ? len - i : 4);
			if ((n = utf8_seq(seq)) == 0) {
				n = 1;
				continue;
			}
		}
		if (pv->space && pv->b.len > 0) {
			(void)buf_addc(&pv->b, ' ');
			pv->chars++;
		}
		pv->space = 0;
		if (pv->chars < FETCH_PREVIEW_CHARS) {
			(void)buf_add(&pv->b, s + i, n);
			pv->chars++;
		}
	}
	return 1;	/* the first text part only */
}

/* The first text/ leaf in mime_text()'s order, NULL if none. */
static const struct mime_part *
first_text(const struct mime_part *root)
{
	const struct mime_part	*stack[MIME_MAX_DEPTH + 2];
	size_t			 idx[MIME_MAX_DEPTH + 2];
	const struct mime_part	*p;
	size_t			 sp = 0;

	p = root;
	for (;;) {
		while (p->message != NULL && sp < nitems(stack))
			p = p->message;
		if (strcmp(p->type, "multipart") == 0 && p->nchildren > 0 &&
		    sp < nitems(stack)) {
			stack[sp] = p;
			idx[sp++] = 0;
			p = &p->children[0];
			continue;
		}
		if (strcmp(p->type, "text") == 0 && p->message == NULL)
			return p;
		/* Next sibling, going up as needed. */
		for (;;) {
			if (sp == 0)
				return NULL;
			if (++idx[sp - 1] < stack[sp - 1]->nchildren) {
				p = &stack[sp - 1]->children[idx[sp - 1]];
				break;
			}
			sp--;
		}
	}
}

static int
add_preview(struct fetch_render *r, const struct fetch_msg *msg,
    const char **errstr)
{
	struct preview		 pv;
	const struct mime_part	*t;

	if (need_mime(r, msg, errstr) == -1)
		return -1;
	memset(&pv, 0, sizeof(pv));
	buf_init(&pv.b, FETCH_PREVIEW_CHARS * 4 + 8);
	t = first_text(mime_root(r->mime));
	pv.html = t != NULL && strcmp(t->subtype, "html") == 0;
	if (t != NULL)
		(void)mime_text(r->mime, 0, 1, preview_cb, &pv);
	(void)imap_add_string(&r->text, pv.b.data != NULL ? pv.b.data : "",
	    pv.b.len, msg->utf8);
	buf_free(&pv.b);
	return 0;
}

void
fetch_datetime(char *buf, size_t size, int64_t t, int tzoff)
{
	struct tm	 tm;
	time_t		 tt;
	int		 off;

	if (tzoff < -24 * 60 || tzoff > 24 * 60)
		tzoff = 0;
	/* 1970 .. 9999: the grammar has four digits for the year. */
	if (t < 0)
		t = 0;
	if (t > INT64_C(253402214400))	/* 9999-12-31 00:00:00 */
		t = INT64_C(253402214400);
	tt = (time_t)(t + (int64_t)tzoff * 60);
	if (gmtime_r(&tt, &tm) == NULL) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_mday = 1;
		tm.tm_year = 70;
		tzoff = 0;
	}
	off = tzoff < 0 ? -tzoff : tzoff;
	(void)snprintf(buf, size, "%02d-%s-%04d %02d:%02d:%02d %c%02d%02d",
	    tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, tzoff < 0 ? '-' : '+',
	    off / 60, off % 60);
}

static int
add_item(struct fetch_render *r, const struct fetch_plan *p,
    const struct fetch_msg *msg, const struct fetch_item *it,
    const char **errstr)
{
	struct mime_section	 ms;
	const struct fetch_sect	*s;
	char			 date[64];

	switch (it->attr) {
	case 0:
		s = &p->sects[it->sect];
		(void)buf_addstr(&r->text, s->name);
		/*
		 * The origin goes back for BINARY too, as RFC 3516 and
		 * RFC 9051 7.5.2 say in words (not in the ABNF) and as
		 * Dovecot does.
		 */
		if (s->fs->partial)
			(void)buf_printf(&r->text, "<%llu>",
			    (unsigned long long)s->fs->offset);
		(void)buf_addc(&r->text, ' ');
		if (s->fs->kind != IMAP_SECTION_BODY)
			return add_binary(r, msg, s, errstr);
		return add_body(r, msg, &s->ms, s->fs, errstr);
	case IMAP_FETCH_UID:
		(void)buf_printf(&r->text, "UID %u", msg->m->uid);
		break;
	case IMAP_FETCH_FLAGS:
		(void)buf_printf(&r->text, "FLAGS %s", msg->flags);
		break;
	case IMAP_FETCH_INTERNALDATE:
		fetch_datetime(date, sizeof(date),
		    (int64_t)msg->m->internaldate, msg->tzoff);
		(void)buf_printf(&r->text, "INTERNALDATE \"%s\"", date);
		break;
	case IMAP_FETCH_RFC822_SIZE:
		(void)buf_printf(&r->text, "RFC822.SIZE %llu",
		    (unsigned long long)msg->m->wire_size);
		break;
	case IMAP_FETCH_MODSEQ:
		(void)buf_printf(&r->text, "MODSEQ (%llu)",
		    (unsigned long long)msg->m->modseq);
		break;
	case IMAP_FETCH_ENVELOPE:
		(void)buf_addstr(&r->text, "ENVELOPE ");
		return add_struct(r, msg, FETCH_C_ENVELOPE, errstr);
	case IMAP_FETCH_BODY:
		(void)buf_addstr(&r->text, "BODY ");
		return add_struct(r, msg, FETCH_C_BODY, errstr);
	case IMAP_FETCH_BODYSTRUCTURE:
		(void)buf_addstr(&r->text, "BODYSTRUCTURE ");
		return add_struct(r, msg, FETCH_C_BODYSTRUCTURE, errstr);
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_RFC822_HEADER:
	case IMAP_FETCH_RFC822_TEXT:
		memset(&ms, 0, sizeof(ms));
		ms.kind = it->attr == IMAP_FETCH_RFC822 ? MS_ALL :
		    it->attr == IMAP_FETCH_RFC822_HEADER ? MS_HEADER : MS_TEXT;
		(void)buf_addstr(&r->text, it->attr == IMAP_FETCH_RFC822 ?
		    "RFC822 " : it->attr == IMAP_FETCH_RFC822_HEADER ?
		    "RFC822.HEADER " : "RFC822.TEXT ");
		return add_body(r, msg, &ms, NULL, errstr);
	case IMAP_FETCH_PREVIEW:
		(void)buf_addstr(&r->text, "PREVIEW ");
		return add_preview(r, msg, errstr);
	}
	return 0;
}

int
fetch_render_begin(struct fetch_render *r, const struct fetch_plan *p,
    const struct fetch_msg *msg, const char **errstr)
{
	size_t	 i, n = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&r->text, TEXT_MAX);
	for (i = 0; i < FETCH_C_COUNT; i++)
		buf_init(&r->put[i], STRUCT_MAX);
	(void)buf_printf(&r->text, "* %u FETCH (", msg->seq);
	for (i = 0; i < p->nitems; i++) {
		if (i == (p->uid_first ? 1U : 0U) && msg->add_flags &&
		    !(p->attrs & IMAP_FETCH_FLAGS))
			(void)buf_printf(&r->text, "%sFLAGS %s",
			    n++ > 0 ? " " : "", msg->flags);
		if (n++ > 0)
			(void)buf_addc(&r->text, ' ');
		if (add_item(r, p, msg, &p->items[i], errstr) == -1)
			return -1;
	}
	if (msg->add_flags && !(p->attrs & IMAP_FETCH_FLAGS) &&
	    p->nitems <= (p->uid_first ? 1U : 0U))
		(void)buf_printf(&r->text, "%sFLAGS %s", n++ > 0 ? " " : "",
		    msg->flags);
	if (msg->add_modseq && !(p->attrs & IMAP_FETCH_MODSEQ))
		(void)buf_printf(&r->text, "%sMODSEQ (%llu)",
		    n++ > 0 ? " " : "", (unsigned long long)msg->m->modseq);
	(void)buf_addstr(&r->text, ")\r\n");
	if (r->text.over) {
		r->code = "LIMIT";
		*errstr = "response too large";
		return -1;
	}
	flush_text(r);
	return 0;
}

int
fetch_render_step(struct fetch_render *r, struct buf *b, size_t max)
{
	char			 tmp[STEP_TMP];
	const struct fetch_seg	*sg;
	const char		*p;
	uint64_t		 left;
	size_t			 n, got;

	while (max > 0 && r->cur < r->nsegs) {
		sg = &r->segs[r->cur];
		p = sg->src == FETCH_SRC_TEXT ? r->text.data + sg->off : sg->p;
		if (r->done < sg->skip) {
			/* The part before a partial range. */
			if (sg->crlf) {
				while (r->done < sg->skip) {
					left = sg->skip - r->done;
					got = crlf_out(p, sg->plen, &r->rpos,
					    &r->half, NULL, left > SIZE_MAX ?
					    SIZE_MAX : (size_t)left, 0);
					if (got == 0)
						break;
					r->done += got;
				}
			} else
				r->rpos = (size_t)sg->skip;
			r->done = sg->skip;
		}
		left = sg->skip + sg->len - r->done;
		if (left == 0) {
			r->cur++;
			r->done = 0;
			r->rpos = 0;
			r->half = 0;
			continue;
		}
		n = left < max ? (size_t)left : max;
		if (!sg->crlf && !sg->nul80) {
			if (buf_add(b, p + r->rpos, n) == -1)
				return -1;
			r->rpos += n;
		} else {
			if (n > sizeof(tmp))
				n = sizeof(tmp);
			if (sg->crlf)
				got = crlf_out(p, sg->plen, &r->rpos, &r->half,
				    tmp, n, sg->nul80);
			else {
				memcpy(tmp, p + r->rpos, n);
				nul_to_80(tmp, n);
				r->rpos += n;
				got = n;
			}
			if (got == 0) {
				/*
				 * The file changed under its mapping (see
				 * session_unmap): the length is promised.
				 */
				memset(tmp, ' ', n);
				got = n;
			}
			if (buf_add(b, tmp, got) == -1)
				return -1;
			n = got;
		}
		r->done += n;
		max -= n;
	}
	return r->cur < r->nsegs;
}

const char *
fetch_render_pos(const struct fetch_render *r)
{
	const struct fetch_seg	*sg;

	if (r->cur >= r->nsegs)
		return NULL;
	sg = &r->segs[r->cur];
	return sg->src == FETCH_SRC_PTR ? sg->p + r->rpos : NULL;
}

uint64_t
fetch_render_size(const struct fetch_render *r)
{
	uint64_t	 n = 0;
	size_t		 i;

	for (i = 0; i < r->nsegs; i++)
		n += r->segs[i].len;
	return n;
}

int
fetch_render_cached(const struct fetch_render *r, enum fetch_cached c,
    const void **data, size_t *len)
{
	if ((unsigned)c >= FETCH_C_COUNT || r->put[c].data == NULL ||
	    r->put[c].over)
		return -1;
	*data = r->put[c].data;
	*len = r->put[c].len;
	return 0;
}

void
fetch_render_free(struct fetch_render *r)
{
	size_t	 i;

	buf_free(&r->text);
	for (i = 0; i < FETCH_C_COUNT; i++)
		buf_free(&r->put[i]);
	for (i = 0; i < r->nown; i++)
		free(r->own[i]);
	free(r->own);
	free(r->segs);
	if (r->mime != NULL)
		mime_free(r->mime);
	memset(r, 0, sizeof(*r));
}

int
fetch_set_out(struct buf *b, const uint32_t *v, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < n; i = j + 1) {
		for (j = i; j + 1 < n && v[j] != UINT32_MAX &&
		    v[j + 1] == v[j] + 1; j++)
			;
		if (i > 0 && buf_addc(b, ',') == -1)
			return -1;
		if (j == i) {
			if (buf_printf(b, "%u", v[i]) == -1)
				return -1;
		} else if (buf_printf(b, "%u:%u", v[i], v[j]) == -1)
			return -1;
	}
	return 0;
}
