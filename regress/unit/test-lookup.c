/*
 * Recipient lookups (authd/lookup.c, authd/table.c): users, aliases,
 * catch-all, relays, loops, limits, and a hostile directory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "lookup.h"
#include "table.h"
#include "test.h"

static struct directory	*dir;

static struct table *
table_from(const char *name, const char *text)
{
	FILE	*f = tmpfile();
	int	 fd;

	if (f == NULL)
		abort();
	fputs(text, f);
	fflush(f);
	struct table	*t;

	fd = dup(fileno(f));
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	t = table_file_load(fd, name, name);
	if (t == NULL)
		abort();
	TAILQ_INSERT_TAIL(&dir->tables, t, entry);
	return t;
}

static void
domain_add(const char *name, struct table *users, struct table *aliases)
{
	struct domain	*d = calloc(1, sizeof(*d));

	snprintf(d->name, sizeof(d->name), "%s", name);
	d->users = users;
	d->aliases = aliases;
	TAILQ_INSERT_TAIL(&dir->domains, d, entry);
}

static enum lookup_result
lookup(const char *address, struct lookup *l)
{
	free(l->dests);
	memset(l, 0, sizeof(*l));
	return lookup_rcpt(dir, address, l);
}

static int
has_dest(const struct lookup *l, int kind, const char *address,
    const char *mailbox)
{
	size_t	 i;

	for (i = 0; i < l->ndests; i++)
		if (l->dests[i].kind == kind &&
		    strcmp(l->dests[i].address, address) == 0 &&
		    (mailbox == NULL ||
		    strcmp(l->dests[i].mailbox, mailbox) == 0))
			return 1;
	return 0;
}

static void
setup(void)
{
	struct table	*users, *aliases, *users2, *aliases2;
	char		 big[65536], *p;
	int		 i, j;

	users = table_from("users",
	    "# a comment\n"
	    "alice@example.test {SHA512-CRYPT}$6$x$y#z\n"
	    "bob@example.test {SHA512-CRYPT}$6$x$y quota=10M\n"
	    "carol@example.test {X}y maildir=example.test/c/.Inbox2\n"
	    "dave@example.test {X}y\n"
	    "evil@example.test {X}y maildir=../../etc\n"
	    "ALICE@example.test {X}dup\n"
	    "bad\x01line@example.test {X}\n");
	/* 40 groups of 40 targets: over the breadth limit of 1000 */
	p = big;
	p += snprintf(p, sizeof(big), "many@many.test ");
	for (i = 0; i < 40; i++)
		p += snprintf(p, sizeof(big) - (size_t)(p - big),
		    "g%d@many.test,", i);
	*p++ = '\n';
	for (i = 0; i < 40; i++) {
		p += snprintf(p, sizeof(big) - (size_t)(p - big),
		    "g%d@many.test ", i);
		for (j = 0; j < 40; j++)
			p += snprintf(p, sizeof(big) - (size_t)(p - big),
			    "r%d_%d@far.test,", i, j);
		*p++ = '\n';
	}
	*p = '\0';
	aliases = table_from("aliases",
	    "postmaster@example.test: alice@example.test\n"
	    "team@example.test alice@example.test, bob@example.test,"
	    " friend@far.test\n"
	    "keep@example.test keep@example.test, bob@example.test\n"
	    "alice2@example.test alice@example.test alice@EXAMPLE.test\n"
	    "dave@example.test dave@example.test, carol@example.test\n"
	    "loop1@example.test loop2@example.test\n"
	    "loop2@example.test loop1@example.test\n"
	    "deep0@example.test deep1@example.test\n"
	    "deep1@example.test deep2@example.test\n"
	    "deep2@example.test deep3@example.test\n"
	    "deep3@example.test deep4@example.test\n"
	    "deep4@example.test deep5@example.test\n"
	    "deep5@example.test deep6@example.test\n"
	    "deep6@example.test deep7@example.test\n"
	    "deep7@example.test deep8@example.test\n"
	    "deep8@example.test deep9@example.test\n"
	    "deep9@example.test alice@example.test\n"
	    "nowhere@example.test ghost@example.test\n"
	    "evilalias@example.test evil@example.test\n");
	domain_add("example.test", users, aliases);
	domain_add("many.test", NULL, table_from("many", big));
	users2 = table_from("users2", "x@catch.test {X}y\n");
	aliases2 = table_from("aliases2", "@catch.test x@catch.test\n");
	domain_add("catch.test", users2, aliases2);
	/* a domains table: alias.test is example.test under another name */
	domain_add("*", table_from("domains",
	    "alias.test example.test\n"
	    "alias2.test alias.test\n"
	    "ring1.test ring2.test\n"
	    "ring2.test ring1.test\n"
	    "bogus.test -not-a-domain-\n"), NULL);
}

static void
test_hostile(void)
{
	struct lookup	 l = { 0 };

	test_begin("lookup: a hostile path, loops, depth and breadth");
	test_assert(lookup("evil@example.test", &l) == LOOKUP_TEMPFAIL);
	test_assert(lookup("evilalias@example.test", &l) == LOOKUP_TEMPFAIL);
	test_assert(lookup("loop1@example.test", &l) == LOOKUP_LOOP);
	test_assert(lookup("deep0@example.test", &l) == LOOKUP_LOOP);
	test_assert(lookup("nowhere@example.test", &l) == LOOKUP_NOTFOUND);
	test_assert(lookup("not an address", &l) == LOOKUP_NOTFOUND);
	test_assert(lookup("\"x\r\ny\"@example.test", &l) == LOOKUP_NOTFOUND);
	free(l.dests);
	test_end();
}

static void
test_users(void)
{
	struct lookup	 l = { 0 };

	test_begin("lookup: users, case, quota and maildir attributes");
	test_assert(lookup("alice@example.test", &l) == LOOKUP_OK);
	test_assert(l.ndests == 1 && has_dest(&l, DEST_MAILBOX,
	    "alice@example.test", "example.test/alice"));
	test_assert(lookup("Alice@EXAMPLE.TEST", &l) == LOOKUP_OK);
	test_assert(has_dest(&l, DEST_MAILBOX, "alice@example.test",
	    "example.test/alice"));
	test_assert(lookup("bob@example.test", &l) == LOOKUP_OK);
	test_assert(l.dests[0].quota_bytes == 10 * 1024 * 1024);
	test_assert(lookup("carol@example.test", &l) == LOOKUP_OK);
	test_assert(strcmp(l.dests[0].mailbox, "example.test/c/.Inbox2") == 0);
	test_assert(lookup("nobody@example.test", &l) == LOOKUP_NOTFOUND);
	test_assert(lookup("someone@elsewhere.test", &l) == LOOKUP_NOTLOCAL);
	free(l.dests);
	test_end();
}

static void
test_aliases(void)
{
	struct lookup	 l = { 0 };

	test_begin("lookup: aliases, self-reference, relays, catch-all");
	test_assert(lookup("postmaster@example.test", &l) == LOOKUP_OK);
	test_assert(l.ndests == 1 && has_dest(&l, DEST_MAILBOX,
	    "alice@example.test", NULL));
	test_assert(lookup("team@example.test", &l) == LOOKUP_OK);
	test_assert(l.ndests == 3);
	test_assert(has_dest(&l, DEST_RELAY, "friend@far.test", ""));
	/* "keep: keep, bob" keeps a copy only for a real user */
	test_assert(lookup("keep@example.test", &l) == LOOKUP_OK);
	test_assert(l.ndests == 1 && has_dest(&l, DEST_MAILBOX,
	    "bob@example.test", NULL));
	test_assert(lookup("alice2@example.test", &l) == LOOKUP_OK);
	test_assert(l.ndests == 1);	/* the same target twice: one copy */
	test_assert(lookup("dave@example.test", &l) == LOOKUP_OK);
	test_assert(l.ndests == 2 && has_dest(&l, DEST_MAILBOX,
	    "dave@example.test", "example.test/dave"));
	test_assert(lookup("anything@catch.test", &l) == LOOKUP_OK);
	test_assert(has_dest(&l, DEST_MAILBOX, "x@catch.test", NULL));
	test_assert(lookup("many@many.test", &l) == LOOKUP_TOOMANY);
	free(l.dests);
	test_end();
}

static void
test_domains(void)
{
	struct lookup	 l = { 0 };

	test_begin("lookup: alias domains from a domains table");
	test_assert(lookup("alice@alias.test", &l) == LOOKUP_OK);
	test_assert(l.ndests == 1 && has_dest(&l, DEST_MAILBOX,
	    "alice@example.test", "example.test/alice"));
	test_assert(lookup("team@alias2.test", &l) == LOOKUP_OK);
	test_assert(l.ndests == 3);
	test_assert(lookup("nobody@alias.test", &l) == LOOKUP_NOTFOUND);
	test_assert(lookup("x@ring1.test", &l) == LOOKUP_TEMPFAIL);
	test_assert(lookup("x@bogus.test", &l) == LOOKUP_TEMPFAIL);
	test_assert(lookup("x@unknown.test", &l) == LOOKUP_NOTLOCAL);
	free(l.dests);
	test_end();
}

int
main(void)
{
	int	 rc;

	dir = dir_new();
	setup();
	test_hostile();
	test_users();
	test_aliases();
	test_domains();
	rc = test_exit();
	dir_unref(dir);
	return rc;
}
