# checkd/: sender authentication (SPF, DKIM, DMARC) and spam scoring
# (rspamd) of mail from outside.
# libspf2 and libopendmarc have no pkg-config files in Debian.

$(eval $(call program,$(BUILD)/libexec/osms-checkd,checkd/checkd.c \
	checkd/client.c checkd/content.c checkd/dns.c checkd/greylist.c \
	checkd/senderauth.c checkd/spam.c,\
	lib lib/mail checkd,\
	libunbound opendkim))
$(BUILD)/libexec/osms-checkd: LDLIBS += -lspf2 -lopendmarc

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-checkd
