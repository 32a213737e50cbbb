/*
 * The spam engines' protocols (spamproto.c): rspamd's and spamd's
 * requests, and their answers read back, good, odd and hostile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "spamproto.h"
#include "test.h"

static int
parse(const char *body, struct spam_result *r, const char **err)
{
	char	*reply;
	int	 rc;

	if (asprintf(&reply, "HTTP/1.1 200 OK\r\nContent-Type: application/"
	    "json\r\n\r\n%s", body) == -1)
		abort();
	rc = rspamd_parse_reply(reply, strlen(reply), r, err);
	free(reply);
	return rc;
}

static void
test_reply(void)
{
	struct spam_result	 r;
	const char		*err;

	test_begin("rspamd: answers");
	test_assert(parse("{\"is_skipped\":false,\"score\":3.5,"
	    "\"required_score\":15.0,\"action\":\"add header\",\"symbols\":"
	    "{\"MISSING_DATE\":{\"name\":\"MISSING_DATE\",\"score\":1.0},"
	    "\"MISSING_MID\":{\"score\":2.5,\"options\":[\"a\",\"b\\\"c\"]}},"
	    "\"messages\":{},\"urls\":[],\"time_real\":1e-3}", &r, &err) == 0);
	test_assert(r.score == 3.5 && r.required == 15.0);
	test_assert(strcmp(r.action, "add header") == 0);
	test_assert(strcmp(r.symbols, "MISSING_DATE,MISSING_MID") == 0);
	test_assert(parse(" { \"score\" : -2 , \"action\" : \"no action\" } ",
	    &r, &err) == 0 && r.score == -2 && r.symbols[0] == '\0');
	/* A symbol that is no word is left out of the list. */
	test_assert(parse("{\"score\":1,\"symbols\":{\"A B\":{},\"OK\":{}}}",
	    &r, &err) == 0 && strcmp(r.symbols, "OK") == 0);
	test_end();
}

static void
test_bad(void)
{
	static const char *const bodies[] = {
		"", "{", "{}", "{\"action\":\"reject\"}", "[1,2]",
		"{\"score\":}", "{\"score\":1,}", "{\"score\":1 \"x\":2}",
		"{\"score\":\"high\"}", "{\"score\":1,\"action\":\"a\x07\"}",
		"{\"score\":1,\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
		"{\"score\":1,\"x\":\"unterminated}",
		"{\"score\":1,\"x\":\"ctl\x01\"}",
	};
	struct spam_result	 r;
	const char		*err;
	size_t			 i;

	test_begin("rspamd: malformed answers are refused with a reason");
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		err = NULL;
		test_assert(parse(bodies[i], &r, &err) == -1 && err != NULL);
	}
	test_assert(rspamd_parse_reply("HTTP/1.1 500 Oops\r\n\r\n{\"score\":1}",
	    37, &r, &err) == -1 && strstr(err, "200") != NULL);
	test_assert(rspamd_parse_reply("HTTP/1.1 200 OK\r\n", 17, &r, &err) ==
	    -1);
	test_end();
}

static void
test_request(void)
{
	static const char *const rcpts[] = { "a@x.test", "b@x.test" };
	struct spam_request	 rq;
	struct buf		 b = BUF_INIT(4096);

	test_begin("rspamd: the request's head");
	memset(&rq, 0, sizeof(rq));
	rq.ip = "192.0.2.1";
	rq.helo = "mx.x.test";
	rq.sender = "";
	rq.queue_id = "0123456789abcdef";
	rq.rcpts = rcpts;
	rq.nrcpts = 2;
	rq.length = 123;
	test_assert(rspamd_request_head(&rq, &b) == 0 && buf_add(&b, "", 1) ==
	    0);
	test_assert(strcmp(b.data, "POST /checkv2 HTTP/1.0\r\n"
	    "Content-Length: 123\r\nIP: 192.0.2.1\r\nHelo: mx.x.test\r\n"
	    "Queue-Id: 0123456789abcdef\r\nRcpt: a@x.test\r\n"
	    "Rcpt: b@x.test\r\n\r\n") == 0);
	buf_reset(&b);
	rq.helo = "evil\r\nX-Injected: 1";
	test_assert(rspamd_request_head(&rq, &b) == -1);
	buf_free(&b);
	test_end();
}

static void
test_spamc(void)
{
	static const char *const bad[] = {
		"SPAMD/1.1 76 Bad header line\r\n\r\n",
		"SPAMD/1.1 0 EX_OK\r\nContent-length: 3\r\n\r\nA,B",
		"SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n",
		"SPAMD/1.1 0 EX_OK\r\nSpam: True ; x / 5\r\n\r\n",
		"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1 / 5\r\n",
		"HTTP/1.1 200 OK\r\n\r\n{\"score\":1}",
	};
	static const char *const rcpts[] = { "a@x.test" };
	struct spam_request	 rq;
	struct spam_result	 r;
	struct buf		 b = BUF_INIT(4096);
	const char		*err, *ok = "SPAMD/1.1 0 EX_OK\r\n"
	    "Content-length: 21\r\nSpam: True ; 1003.3 / 5.0\r\n\r\n"
	    "GTUBE,MISSING_DATE\r\n";
	size_t			 i;

	test_begin("spamd: the request, answers good and bad");
	memset(&rq, 0, sizeof(rq));
	rq.queue_id = "0123456789abcdef";
	rq.rcpts = rcpts;
	rq.nrcpts = 1;
	rq.length = 42;
	test_assert(spamc_request_head(&rq, &b) == 0 && buf_add(&b, "", 1) ==
	    0);
	test_assert(strcmp(b.data, "SYMBOLS SPAMC/1.5\r\nContent-length: 42"
	    "\r\nQueue-Id: 0123456789abcdef\r\n\r\n") == 0);
	buf_free(&b);
	test_assert(spamc_parse_reply(ok, strlen(ok), &r, &err) == 0);
	test_assert(r.score > 1003.2 && r.score < 1003.4 && r.required == 5.0);
	test_assert(strcmp(r.symbols, "GTUBE,MISSING_DATE") == 0);
	test_assert(r.action[0] == '\0');
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		test_assert(spamc_parse_reply(bad[i], strlen(bad[i]), &r,
		    &err) == -1 && err != NULL);
	}
	/* A symbol list with junk in it ends before the junk. */
	ok = "SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.1 / 5.0\r\n\r\n"
	    "A,B,C<evil>";
	test_assert(spamc_parse_reply(ok, strlen(ok), &r, &err) == 0 &&
	    strcmp(r.symbols, "A,B") == 0 && r.score < 0);
	test_end();
}

int
main(void)
{
	test_reply();
	test_bad();
	test_request();
	test_spamc();
	return test_exit();
}
