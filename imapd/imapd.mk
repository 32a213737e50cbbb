# imapd/: IMAP and POP3: the login role and the per-user session program.

$(eval $(call program,$(BUILD)/libexec/osms-imapd,imapd/imap.c \
	imapd/login.c imapd/login_imap.c imapd/login_pop3.c \
	imapd/imap_parser.c,lib lib/mail imapd,))
SESSION_IMAP_SRCS := imapd/imap_session.c imapd/cmd_mailbox.c \
	imapd/cmd_append.c imapd/cmd_fetch.c imapd/cmd_store.c \
	imapd/cmd_search.c imapd/fetch.c imapd/search.c imapd/imap_parser.c
$(eval $(call program,$(BUILD)/libexec/osms-session,imapd/session.c \
	imapd/pop3_session.c $(SESSION_IMAP_SRCS),lib lib/mail imapd,zlib))

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-imapd $(BUILD)/libexec/osms-session
