# smtpd/: the SMTP server, the queue and local delivery.

$(eval $(call program,$(BUILD)/libexec/osms-smtpd,smtpd/smtp.c \
	smtpd/smtp_check.c smtpd/smtp_session.c,lib lib/mail smtpd,))
$(eval $(call program,$(BUILD)/libexec/osms-queue,smtpd/queue.c,\
	lib lib/mail smtpd,))
$(eval $(call program,$(BUILD)/libexec/osms-delivery,smtpd/delivery.c,\
	lib lib/mail smtpd,))

ROLE_PROGRAMS	+= $(BUILD)/libexec/osms-smtpd $(BUILD)/libexec/osms-queue \
		   $(BUILD)/libexec/osms-delivery
