/*
 * The libunbound set-up shared by the roles that resolve names.
 */
#include <stdio.h>
#include <string.h>

#include <unbound.h>

#include "log.h"
#include "resolver.h"

struct setup {
	struct ub_ctx	*ctx;
	const char	*who;
	int		 n;
};

/* Call fn for each line of text shorter than size (longer ones are
 * skipped), without its line end. */
static void
each_line(const char *text, char *line, size_t size,
    void (*fn)(char *, struct setup *), struct setup *st)
{
	const char	*p = text, *nl;
	size_t		 len;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		if (len < size) {
			memcpy(line, p, len);
			line[len] = '\0';
			fn(line, st);
		}
		p += len;
		if (*p == '\n')
			p++;
	}
}

/* A line of a trust anchor file: a DS or DNSKEY record in zone format. */
static void
trust_anchor_line(char *line, struct setup *st)
{
	int	 rc;

	line[strcspn(line, ";\r")] = '\0';
	if (strspn(line, " \t") == strlen(line))
		return;
	if ((rc = ub_ctx_add_ta(st->ctx, line)) != 0)
		log_warnx("%s: trust anchor \"%s\": %s", st->who, line,
		    ub_strerror(rc));
	else
		st->n++;
}

/* A nameserver of resolv.conf, as a forwarder. */
static void
resolv_conf_line(char *line, struct setup *st)
{
	char	 addr[128];

	if (sscanf(line, " nameserver %127s", addr) == 1 &&
	    ub_ctx_set_fwd(st->ctx, addr) == 0)
		st->n++;
}

struct ub_ctx *
resolver_new(const char *resolver, const char *resolv_conf,
    const char *trust_anchor, int async, const char *who)
{
	struct setup	 st;
	char		 line[4096];
	int		 rc;

	if ((st.ctx = ub_ctx_create()) == NULL) {
		log_warnx("%s: ub_ctx_create failed", who);
		return NULL;
	}
	st.who = who;
	st.n = 0;
	/* Threads, not a forked helper: the sandbox is one process. */
	if ((async && (rc = ub_ctx_async(st.ctx, 1)) != 0) ||
	    (rc = ub_ctx_set_option(st.ctx, "do-not-query-localhost:",
	    "no")) != 0)
		goto fail;
	if (resolver[0] != '\0') {
		if ((rc = ub_ctx_set_fwd(st.ctx, resolver)) != 0)
			goto fail;
	} else {
		if (resolv_conf != NULL)
			each_line(resolv_conf, line, sizeof(line),
			    resolv_conf_line, &st);
		if (st.n == 0)
			log_warnx("%s: no nameserver in resolv.conf:"
			    " resolving from the root servers", who);
	}
	st.n = 0;
	if (trust_anchor != NULL)
		each_line(trust_anchor, line, sizeof(line), trust_anchor_line,
		    &st);
	/* Last, as a zone change finalizes the settings. */
	if (resolver[0] != '\0' &&
	    (rc = ub_ctx_zone_add(st.ctx, "test.", "nodefault")) != 0)
		goto fail;
	log_debug("%s: resolver %s, %d trust anchors", who, resolver[0] ?
	    resolver : "from resolv.conf", st.n);
	return st.ctx;
fail:
	log_warnx("%s: resolver: %s", who, ub_strerror(rc));
	ub_ctx_delete(st.ctx);
	return NULL;
}
