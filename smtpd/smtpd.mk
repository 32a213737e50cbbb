# smtpd/: the SMTP server, the queue, local delivery and the SMTP client.

$(eval $(call program,$(BUILD)/libexec/osms-smtpd,smtpd/smtp.c \
	smtpd/smtp_check.c smtpd/smtp_session.c,lib lib/mail smtpd,))
$(eval $(call program,$(BUILD)/libexec/osms-queue,smtpd/queue.c \
	smtpd/queue_relay.c,lib lib/mail smtpd,))
$(eval $(call program,$(BUILD)/libexec/osms-delivery,smtpd/delivery.c,\
	lib lib/mail smtpd,))
$(eval $(call program,$(BUILD)/libexec/osms-mta,smtpd/mta.c \
	smtpd/mta_dns.c smtpd/mta_session.c smtpd/mta_sts.c,lib lib/mail \
	smtpd,libunbound))

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-smtpd $(BUILD)/libexec/osms-queue \
		   $(BUILD)/libexec/osms-delivery $(BUILD)/libexec/osms-mta
