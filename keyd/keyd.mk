# keyd/: the TLS private keys; signs handshakes for smtpd and imapd.

$(eval $(call program,$(BUILD)/libexec/osms-keyd,keyd/keyd.c keyd/keys.c,\
	lib lib/mail keyd,))

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-keyd
