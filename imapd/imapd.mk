# imapd/: IMAP and POP3.

$(eval $(call program,$(BUILD)/libexec/osms-imapd,imapd/imap.c,\
	lib lib/mail imapd,))

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-imapd
