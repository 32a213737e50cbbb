/*
 * libFuzzer target (SECURITY.md F5): IMAP before the login, a client's
 * byte stream into imapd's real login code with STARTTLS, LOGIN, literals
 * and AUTHENTICATE with its continuations; see login_harness.h for the
 * harness, the settings byte and the oracles.
 */
#define LOGIN_PROTO	PROTO_IMAP
#include "login_harness.h"
