/*
 * IMAP before the login (RFC 9051, RFC 3501): CAPABILITY, NOOP, LOGOUT,
 * STARTTLS, ID, LOGIN and AUTHENTICATE (SASL-IR, RFC 4959). LOGIN and
 * AUTHENTICATE only inside TLS: LOGINDISABLED until then. The session
 * process, once started, answers the login command itself.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_parser.h"
#include "log.h"
#include "login.h"
#include "osms_imsg.h"
#include "util.h"

#define IMAP_LOGIN_MAX_LITERAL	4096	/* a user name or password */
#define IMAP_LOGIN_MAX_ERRORS	10

#define CAPS_COMMON	"IMAP4rev2 IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE"

struct imap_login {
	struct imap_reader	*rd;
	int			 authenticating;	/* AUTHENTICATE lines */
};

static struct imap_login *
il(struct login *lg)
{
	struct imap_login	*p = lg->pdata;

	if (p == NULL) {
		p = lg->pdata = xcalloc(1, sizeof(*p));
		p->rd = imap_reader_new(0);
	}
	return p;
}

/* The capabilities before the login, as the connection stands. */
static void
caps(struct login *lg, char *buf, size_t size)
{
	if (lg->tls)
		(void)snprintf(buf, size, "%s AUTH=SCRAM-SHA-256 AUTH=PLAIN"
		    " AUTH=LOGIN", CAPS_COMMON);
	else if (lg->ctx != NULL)
		(void)snprintf(buf, size, "%s STARTTLS LOGINDISABLED",
		    CAPS_COMMON);
	else
		(void)snprintf(buf, size, "%s LOGINDISABLED", CAPS_COMMON);
}

static void
imap_greeting(struct login *lg)
{
	char	 c[256];

	caps(lg, c, sizeof(c));
	login_reply(lg, "* OK [CAPABILITY %s] osms IMAP ready", c);
}

static void
imap_bye(struct login *lg, const char *why)
{
	login_reply(lg, "* BYE %s", why);
}

static void
bad(struct login *lg, const char *tag, const char *text)
{
	login_reply(lg, "%s BAD %s", tag != NULL ? tag : "*", text);
	if (++lg->errors >= IMAP_LOGIN_MAX_ERRORS) {
		imap_bye(lg, "Too many errors");
		login_close_after(lg);
	}
}

static void
cmd_login(struct login *lg, const struct imap_cmd *cmd)
{
	const char	*user, *pass, *err;
	char		 buf[2 + 2 * IMAP_LOGIN_MAX_LITERAL + 2];
	size_t		 ulen, plen;

	if (!lg->tls) {
		login_reply(lg, "%s NO [PRIVACYREQUIRED] LOGIN only after"
		    " STARTTLS", cmd->tag);
		return;
	}
	if (imap_login_parse(cmd, &user, &pass, &err) == -1) {
		bad(lg, cmd->tag, err);
		return;
	}
	ulen = strlen(user);
	plen = strlen(pass);
	if (ulen + plen + 2 > sizeof(buf)) {
		login_reply(lg, "%s NO [AUTHENTICATIONFAILED] Authentication"
		    " failed", cmd->tag);
		return;
	}
	(void)osms_strlcpy(lg->tag, cmd->tag, sizeof(lg->tag));
	buf[0] = '\0';
	memcpy(buf + 1, user, ulen);
	buf[1 + ulen] = '\0';
	memcpy(buf + 2 + ulen, pass, plen);
	login_sasl_start(lg, "PLAIN", buf, ulen + plen + 2, 1);
	explicit_wipe(buf, sizeof(buf));
}

static void
cmd_authenticate(struct login *lg, const struct imap_cmd *cmd)
{
	const char	*mech, *ir, *err;
	unsigned char	 dec[LOGIN_MAX_RESPONSE];
	char		 m[32];
	size_t		 declen = 0, i;

	if (!lg->tls) {
		login_reply(lg, "%s NO [PRIVACYREQUIRED] AUTHENTICATE only"
		    " after STARTTLS", cmd->tag);
		return;
	}
	if (imap_authenticate_parse(cmd, &mech, &ir, &err) == -1) {
		bad(lg, cmd->tag, err);
		return;
	}
	for (i = 0; i < sizeof(m) - 1 && mech[i] != '\0'; i++)
		m[i] = (char)toupper((unsigned char)mech[i]);
	m[i] = '\0';
	if (mech[i] != '\0' || !word_in_list(LOGIN_MECHS, m)) {
		login_reply(lg, "%s NO [CANNOT] Unsupported authentication"
		    " mechanism", cmd->tag);
		return;
	}
	if (ir != NULL && strcmp(ir, "=") != 0 &&
	    login_b64_decode(ir, dec, sizeof(dec), &declen) == -1) {
		bad(lg, cmd->tag, "Invalid base64 in the initial response");
		return;
	}
	(void)osms_strlcpy(lg->tag, cmd->tag, sizeof(lg->tag));
	il(lg)->authenticating = 1;
	login_sasl_start(lg, m, dec, declen, ir != NULL);
	explicit_wipe(dec, sizeof(dec));
}

static void
command(struct login *lg, struct imap_cmd *cmd)
{
	char	 c[256];

	switch (cmd->cmd) {
	case IMAP_CMD_CAPABILITY:
		caps(lg, c, sizeof(c));
		login_reply(lg, "* CAPABILITY %s", c);
		login_reply(lg, "%s OK CAPABILITY completed", cmd->tag);
		break;
	case IMAP_CMD_NOOP:
		login_reply(lg, "%s OK NOOP completed", cmd->tag);
		break;
	case IMAP_CMD_LOGOUT:
		login_reply(lg, "* BYE Logging out");
		login_reply(lg, "%s OK LOGOUT completed", cmd->tag);
		login_close_after(lg);
		break;
	case IMAP_CMD_ID:
		/* RFC 2971: the client's values are not kept. */
		login_reply(lg, "* ID (\"name\" \"osms\")");
		login_reply(lg, "%s OK ID completed", cmd->tag);
		break;
	case IMAP_CMD_STARTTLS:
		if (lg->tls || lg->ctx == NULL) {
			bad(lg, cmd->tag, "STARTTLS not available");
			break;
		}
		if (login_pipelined(lg, "STARTTLS")) {
			login_reply(lg, "%s BAD Command pipelined after"
			    " STARTTLS", cmd->tag);
			imap_bye(lg, "Closing");
			login_close_after(lg);
			break;
		}
		login_reply(lg, "%s OK Begin TLS negotiation now", cmd->tag);
		imap_reader_reset(il(lg)->rd);
		login_starttls(lg);
		break;
	case IMAP_CMD_LOGIN:
		cmd_login(lg, cmd);
		break;
	case IMAP_CMD_AUTHENTICATE:
		cmd_authenticate(lg, cmd);
		break;
	default:
		bad(lg, cmd->tag, "Log in first");
		break;
	}
}

/* Feed the reader; act on a complete command. */
static void
feed_result(struct login *lg, enum imap_feed f, const char *err)
{
	struct imap_login	*p = il(lg);
	struct imap_literal_info info;
	struct imap_cmd		 cmd;

	switch (f) {
	case IMAP_FEED_LINE:
		break;	/* the next line completes it */
	case IMAP_FEED_LITERAL:
		imap_reader_literal_info(p->rd, &info);
		if (info.size > IMAP_LOGIN_MAX_LITERAL) {
			if (!info.sync) {
				imap_bye(lg, "Literal too big before login");
				login_close_after(lg);
				return;
			}
			bad(lg, imap_reader_tag(p->rd), "[TOOBIG] Literal"
			    " too big before login");
			imap_reader_reset(p->rd);
			return;
		}
		if (info.sync)
			login_reply(lg, "+ OK");
		lg->raw_need = (size_t)info.size;
		if (lg->raw_need == 0)
			feed_result(lg, imap_reader_literal(p->rd, "", 0),
			    NULL);
		break;
	case IMAP_FEED_ERROR:
	case IMAP_FEED_TOOBIG:
		bad(lg, imap_reader_tag(p->rd), err != NULL ? err :
		    "Invalid command");
		if (imap_reader_must_close(p->rd)) {
			imap_bye(lg, "Cannot continue");
			login_close_after(lg);
		}
		break;
	case IMAP_FEED_COMPLETE:
		memset(&cmd, 0, sizeof(cmd));
		if (imap_parse(p->rd, &cmd, &err) == -1) {
			bad(lg, cmd.tag[0] ? cmd.tag : NULL, err);
			imap_cmd_free(&cmd);
			break;
		}
		command(lg, &cmd);
		imap_cmd_free(&cmd);
		break;
	}
}

static void
imap_raw(struct login *lg, const char *data, size_t len)
{
	enum imap_feed	 f = imap_reader_literal(il(lg)->rd, data, len);

	/* LITERAL again only means "more bytes to come". */
	if (f != IMAP_FEED_LITERAL)
		feed_result(lg, f, NULL);
}

static void
imap_line(struct login *lg, char *line, size_t len, int flags)
{
	struct imap_login	*p = il(lg);
	unsigned char		 dec[LOGIN_MAX_RESPONSE];
	size_t			 declen = 0, need;
	const char		*err = NULL;
	enum imap_feed		 f;
	int			 sync;

	if (lg->state == LOGIN_SASL && p->authenticating) {
		/* A response to "+ challenge", or "*" to cancel. */
		if (strcmp(line, "*") == 0) {
			login_sasl_abort(lg);
			p->authenticating = 0;
			login_reply(lg, "%s BAD AUTHENTICATE cancelled",
			    lg->tag);
		} else if ((flags & (IO_LINE_NUL | IO_LINE_CR)) ||
		    login_b64_decode(line, dec, sizeof(dec), &declen) == -1) {
			login_sasl_abort(lg);
			p->authenticating = 0;
			bad(lg, lg->tag, "Invalid base64 response");
		} else
			login_sasl_step(lg, dec, declen);
		explicit_wipe(dec, sizeof(dec));
		return;
	}
	(void)flags;	/* the reader refuses NUL and CR, under the tag */
	/* Two statements: err is set by the call, not before it. */
	f = imap_reader_line(p->rd, line, len, &need, &sync, &err);
	feed_result(lg, f, err);
}

static void
imap_challenge(struct login *lg, const char *b64)
{
	login_reply(lg, "+ %s", b64);
}

static void
imap_auth_failed(struct login *lg, uint32_t result, const char *text)
{
	(void)text;
	il(lg)->authenticating = 0;
	if (result == AUTH_THROTTLED)
		login_reply(lg, "%s NO [UNAVAILABLE] Too many failed logins;"
		    " try again later", lg->tag);
	else if (result == AUTH_TEMPFAIL)
		login_reply(lg, "%s NO [UNAVAILABLE] Temporary authentication"
		    " failure", lg->tag);
	else
		login_reply(lg, "%s NO [AUTHENTICATIONFAILED] Authentication"
		    " failed", lg->tag);
}

static void
imap_handoff_failed(struct login *lg, const char *text)
{
	il(lg)->authenticating = 0;
	login_reply(lg, "%s NO [%s] %s", lg->tag, strstr(text, "too many") ?
	    "LIMIT" : "UNAVAILABLE", text);
}

static void
imap_free(void *arg)
{
	struct imap_login	*p = arg;

	if (p == NULL)
		return;
	imap_reader_free(p->rd);
	free(p);
}

const struct login_proto login_imap = {
	.greeting = imap_greeting,
	.line = imap_line,
	.raw = imap_raw,
	.challenge = imap_challenge,
	.auth_failed = imap_auth_failed,
	.handoff_failed = imap_handoff_failed,
	.bye = imap_bye,
	.free = imap_free,
};
