/*
 * POP3 before the login (RFC 1939, 2449, 2595, 5034): CAPA, STLS, USER
 * and PASS, AUTH, QUIT. USER, PASS and AUTH only inside TLS.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "login.h"
#include "osms_imsg.h"
#include "util.h"

#define POP3_MAX_ERRORS		10

static void
pop3_greeting(struct login *lg)
{
	login_reply(lg, "+OK osms POP3 ready");
}

static void
pop3_bye(struct login *lg, const char *why)
{
	login_reply(lg, "-ERR %s", why);
}

static void
pop3_capa(struct login *lg)
{
	login_reply(lg, "+OK Capability list follows");
	login_reply(lg, "TOP");
	login_reply(lg, "UIDL");
	login_reply(lg, "RESP-CODES");
	login_reply(lg, "AUTH-RESP-CODE");
	login_reply(lg, "PIPELINING");
	if (lg->tls) {
		login_reply(lg, "USER");
		login_reply(lg, "SASL %s", LOGIN_MECHS);
	} else if (lg->ctx != NULL)
		login_reply(lg, "STLS");
	login_reply(lg, "IMPLEMENTATION osms");
	login_reply(lg, ".");
}

/* Start AUTH: "AUTH mech [initial]". */
static void
pop3_auth(struct login *lg, char *arg)
{
	unsigned char	 dec[LOGIN_MAX_RESPONSE];
	char		*mech, *initial;
	size_t		 declen = 0, i;

	if (arg == NULL || *arg == '\0') {
		/* The pre-RFC 5034 form: list the mechanisms. */
		login_reply(lg, "+OK");
		login_reply(lg, "SCRAM-SHA-256");
		login_reply(lg, "PLAIN");
		login_reply(lg, "LOGIN");
		login_reply(lg, ".");
		return;
	}
	mech = arg;
	if ((initial = strchr(arg, ' ')) != NULL)
		*initial++ = '\0';
	for (i = 0; mech[i]; i++)
		mech[i] = (char)toupper((unsigned char)mech[i]);
	if (!word_in_list(LOGIN_MECHS, mech)) {
		login_reply(lg, "-ERR Unsupported authentication mechanism");
		return;
	}
	if (initial != NULL && strcmp(initial, "=") != 0 &&
	    login_b64_decode(initial, dec, sizeof(dec), &declen) == -1) {
		login_reply(lg, "-ERR Invalid base64 in the initial response");
		return;
	}
	login_sasl_start(lg, mech, dec, declen, initial != NULL);
	explicit_wipe(dec, sizeof(dec));
}

/* USER and PASS become one PLAIN exchange in authd. */
static void
pop3_pass(struct login *lg, const char *pass)
{
	char	 buf[2 + sizeof(lg->user) + LOGIN_MAX_LINE];
	size_t	 ulen = strlen(lg->user), plen = strlen(pass);

	if (ulen + plen + 2 > sizeof(buf)) {
		login_reply(lg, "-ERR [AUTH] Authentication failed");
		return;
	}
	buf[0] = '\0';
	memcpy(buf + 1, lg->user, ulen);
	buf[1 + ulen] = '\0';
	memcpy(buf + 2 + ulen, pass, plen);
	login_sasl_start(lg, "PLAIN", buf, ulen + plen + 2, 1);
	explicit_wipe(buf, sizeof(buf));
}

static void
pop3_error(struct login *lg, const char *text)
{
	login_reply(lg, "-ERR %s", text);
	if (++lg->errors >= POP3_MAX_ERRORS) {
		login_reply(lg, "-ERR Too many errors");
		login_close_after(lg);
	}
}

static void
pop3_line(struct login *lg, char *line, size_t len, int flags)
{
	unsigned char	 dec[LOGIN_MAX_RESPONSE];
	size_t		 declen = 0;
	char		*cmd = line, *arg;

	(void)len;
	if (lg->state == LOGIN_SASL) {
		/* A response to a challenge, or "*" to cancel. */
		if (strcmp(line, "*") == 0) {
			login_sasl_abort(lg);
			login_reply(lg, "-ERR Authentication cancelled");
		} else if ((flags & (IO_LINE_NUL | IO_LINE_CR)) ||
		    login_b64_decode(line, dec, sizeof(dec), &declen) == -1) {
			login_sasl_abort(lg);
			login_reply(lg, "-ERR Invalid base64 response");
		} else
			login_sasl_step(lg, dec, declen);
		explicit_wipe(dec, sizeof(dec));
		return;
	}
	if (flags & (IO_LINE_NUL | IO_LINE_CR)) {
		pop3_error(lg, "Invalid command");
		return;
	}
	if ((arg = strchr(line, ' ')) != NULL)
		*arg++ = '\0';
	if (strcasecmp(cmd, "CAPA") == 0)
		pop3_capa(lg);
	else if (strcasecmp(cmd, "QUIT") == 0) {
		login_reply(lg, "+OK Bye");
		login_close_after(lg);
	} else if (strcasecmp(cmd, "STLS") == 0) {
		if (lg->tls || lg->ctx == NULL)
			pop3_error(lg, "STLS not available");
		else if (login_pipelined(lg, "STLS")) {
			login_reply(lg, "-ERR Command pipelined after STLS;"
			    " closing");
			login_close_after(lg);
		} else {
			login_reply(lg, "+OK Begin TLS negotiation");
			login_starttls(lg);
		}
	} else if (strcasecmp(cmd, "USER") == 0 ||
	    strcasecmp(cmd, "PASS") == 0 || strcasecmp(cmd, "AUTH") == 0) {
		if (!lg->tls) {
			/* RFC 2595: no password in the clear. */
			pop3_error(lg, "[AUTH] Plaintext authentication"
			    " disallowed; use STLS");
		} else if (strcasecmp(cmd, "AUTH") == 0)
			pop3_auth(lg, arg);
		else if (strcasecmp(cmd, "USER") == 0) {
			if (arg == NULL || *arg == '\0' ||
			    strlen(arg) >= sizeof(lg->user))
				pop3_error(lg, "Invalid user name");
			else {
				(void)osms_strlcpy(lg->user, arg,
				    sizeof(lg->user));
				login_reply(lg, "+OK");
			}
		} else if (lg->user[0] == '\0')
			pop3_error(lg, "USER first");
		else
			pop3_pass(lg, arg != NULL ? arg : "");
	} else if (strcasecmp(cmd, "APOP") == 0)
		pop3_error(lg, "APOP is not supported; use AUTH or USER");
	else
		pop3_error(lg, "Not logged in");
}

static void
pop3_challenge(struct login *lg, const char *b64)
{
	login_reply(lg, "+ %s", b64);
}

static void
pop3_auth_failed(struct login *lg, uint32_t result, const char *text)
{
	(void)text;
	lg->user[0] = '\0';
	if (result == AUTH_THROTTLED)
		login_reply(lg, "-ERR [SYS/TEMP] Too many failed logins;"
		    " try again later");
	else if (result == AUTH_TEMPFAIL)
		login_reply(lg, "-ERR [SYS/TEMP] Temporary authentication"
		    " failure");
	else
		login_reply(lg, "-ERR [AUTH] Authentication failed");
}

static void
pop3_handoff_failed(struct login *lg, const char *text)
{
	lg->user[0] = '\0';
	login_reply(lg, "-ERR [SYS/TEMP] %s", text);
}

const struct login_proto login_pop3 = {
	.greeting = pop3_greeting,
	.line = pop3_line,
	.challenge = pop3_challenge,
	.auth_failed = pop3_auth_failed,
	.handoff_failed = pop3_handoff_failed,
	.bye = pop3_bye,
};
