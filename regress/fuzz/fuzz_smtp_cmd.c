/*
 * libFuzzer target for SMTP command lines (lib/mail/smtp_cmd.c), F1 in
 * SECURITY.md.
 *
 * The first byte holds options: bit 0 "after EHLO", bit 1 "transaction
 * has SMTPUTF8" (for RCPT), bit 3 picks the BDAT limit, and bit 2 skips
 * smtp_cmd_parse() to hand the bytes straight to the parser chosen by
 * bits 4-6, so that the argument parsers also see bytes the command
 * splitter would refuse. The rest is the line, in a buffer of its exact
 * size so that ASan sees any read past the NUL.
 *
 * Oracles: every error is a 5xx reply (500..555) with a "5." status and
 * a text without CR or LF; no parsed string field holds CR or LF or
 * runs past its array; xtext encode then decode is the identity.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_cmd.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_err(const struct smtp_err *err)
{
	if (err->code < 500 || err->code > 555 || err->status == NULL ||
	    err->status[0] != '5' || err->status[1] != '.' ||
	    err->text == NULL || err->text[0] == '\0' ||
	    strpbrk(err->text, "\r\n") != NULL) {
		(void)fprintf(stderr, "bad error %d %s %s\n", err->code,
		    err->status ? err->status : "(null)",
		    err->text ? err->text : "(null)");
		abort();
	}
}

static void
check_str(const char *s, size_t size, const char *what)
{
	if (memchr(s, '\0', size) == NULL || strpbrk(s, "\r\n") != NULL) {
		(void)fprintf(stderr, "bad %s\n", what);
		abort();
	}
}

static void
check_addr(const struct mailaddr *a)
{
	const unsigned char	*p;

	check_str(a->local, sizeof(a->local), "local part");
	check_str(a->domain, sizeof(a->domain), "domain");
	for (p = (const unsigned char *)a->local; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
	for (p = (const unsigned char *)a->domain; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			abort();
}

static void
run_mail(const char *arg, int ehlo)
{
	struct smtp_mail_params	 mp;
	struct smtp_err		 err;
	struct mailaddr		 a;

	if (smtp_parse_mail(arg, ehlo, &a, &mp, &err) == -1) {
		check_err(&err);
		return;
	}
	check_addr(&a);
	check_str(mp.envid, sizeof(mp.envid), "ENVID");
	check_str(mp.auth, sizeof(mp.auth), "AUTH");
	if (addr_is_utf8(&a) && !mp.smtputf8)
		abort();
	if (!ehlo && (mp.size != 0 || mp.body != 0 || mp.smtputf8 ||
	    mp.requiretls || mp.ret != 0 || mp.envid[0] || mp.auth[0]))
		abort();
}

static void
run_rcpt(const char *arg, int ehlo, int utf8)
{
	struct smtp_rcpt_params	 rp;
	struct smtp_err		 err;
	struct mailaddr		 a;

	if (smtp_parse_rcpt(arg, ehlo, utf8, &a, &rp, &err) == -1) {
		check_err(&err);
		return;
	}
	check_addr(&a);
	check_str(rp.orcpt, sizeof(rp.orcpt), "ORCPT");
	if (addr_is_null(&a) || (addr_is_utf8(&a) && !utf8))
		abort();
	if ((rp.notify & SMTP_NOTIFY_NEVER) && rp.notify != SMTP_NOTIFY_NEVER)
		abort();
}

static void
run_helo(const char *arg)
{
	struct smtp_err	 err;
	char		 buf[256];

	if (smtp_parse_helo(arg, buf, sizeof(buf), &err) == -1) {
		check_err(&err);
		return;
	}
	check_str(buf, sizeof(buf), "HELO");
	if (buf[0] == '\0' || strchr(buf, ' ') != NULL)
		abort();
}

static void
run_bdat(const char *arg, uint64_t max)
{
	struct smtp_err	 err;
	uint64_t	 size;
	int		 last;

	if (smtp_parse_bdat(arg, max, &size, &last, &err) == -1) {
		check_err(&err);
		/* 552: the declared size, or UINT64_MAX if it overflowed. */
		if (err.code == 552 && size <= max && size != UINT64_MAX)
			abort();
		return;
	}
	if (size > max || (last != 0 && last != 1))
		abort();
}

static void
run_auth(const char *arg)
{
	struct smtp_err	 err;
	const char	*mech, *initial;
	char		 buf[512];

	if (smtp_parse_auth(arg, buf, sizeof(buf), &mech, &initial,
	    &err) == -1) {
		check_err(&err);
		if (mech != NULL || initial != NULL)
			abort();
		return;
	}
	if (mech != buf || mech[0] == '\0' || strlen(mech) > 20)
		abort();
	check_str(buf, sizeof(buf), "mechanism");
	if (initial != NULL && (initial < buf || initial >= buf + sizeof(buf) ||
	    initial[0] == '\0' || strpbrk(initial, "\r\n ") != NULL))
		abort();
}

static void
run_xtext(const char *arg)
{
	char	*enc, *dec;
	size_t	 len = strlen(arg);
	int	 r;

	if ((enc = malloc(3 * len + 1)) == NULL ||
	    (dec = malloc(len + 1)) == NULL)
		abort();
	if ((r = xtext_encode(arg, enc, 3 * len + 1)) < 0 ||
	    (size_t)r != strlen(enc))
		abort();
	if (xtext_decode(enc, dec, len + 1) != (int)len ||
	    strcmp(dec, arg) != 0)
		abort();
	/* Decoding the raw bytes must not crash; the result is bounded. */
	if ((r = xtext_decode(arg, dec, len + 1)) > (int)len)
		abort();
	free(enc);
	free(dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_cmd	 cmd;
	struct smtp_err	 err;
	uint64_t	 max;
	char		*line;
	int		 ehlo, utf8, direct, which;

	if (size < 1)
		return 0;
	ehlo = data[0] & 0x01;
	utf8 = (data[0] & 0x02) != 0;
	direct = (data[0] & 0x04) != 0;
	max = (data[0] & 0x08) ? UINT64_MAX : 10 * 1024 * 1024;
	which = (data[0] >> 4) & 0x07;
	if ((line = malloc(size)) == NULL)
		abort();
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';

	if (direct) {
		switch (which) {
		case 0:
			run_helo(line);
			break;
		case 1:
			run_mail(line, ehlo);
			break;
		case 2:
			run_rcpt(line, ehlo, utf8);
			break;
		case 3:
			run_bdat(line, max);
			break;
		case 4:
			run_auth(line);
			break;
		default:
			run_xtext(line);
			break;
		}
		free(line);
		return 0;
	}

	if (smtp_cmd_parse(line, &cmd, &err) == -1) {
		check_err(&err);
		if (cmd.verb != SMTP_CMD_UNKNOWN || cmd.arg == NULL)
			abort();
		free(line);
		return 0;
	}
	if (cmd.arg < line || cmd.arg > line + strlen(line))
		abort();
	switch (cmd.verb) {
	case SMTP_CMD_HELO:
	case SMTP_CMD_EHLO:
		run_helo(cmd.arg);
		break;
	case SMTP_CMD_MAIL:
		run_mail(cmd.arg, ehlo);
		break;
	case SMTP_CMD_RCPT:
		run_rcpt(cmd.arg, ehlo, utf8);
		break;
	case SMTP_CMD_BDAT:
		run_bdat(cmd.arg, max);
		break;
	case SMTP_CMD_AUTH:
		run_auth(cmd.arg);
		break;
	case SMTP_CMD_UNKNOWN:
		abort();
	default:
		run_xtext(cmd.arg);
		break;
	}
	free(line);
	return 0;
}
