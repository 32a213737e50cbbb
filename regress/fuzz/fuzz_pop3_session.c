/*
 * libFuzzer target (SECURITY.md F5): POP3 before the login, a client's
 * byte stream into imapd's real login code with STLS, USER/PASS and AUTH
 * with its continuations; see login_harness.h for the harness, the
 * settings byte and the oracles.
 */
#define LOGIN_PROTO	PROTO_POP3
#include "login_harness.h"
