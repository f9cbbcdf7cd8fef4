package intake

import (
	"leadvault/shared/domain"
	"leadvault/shared/normalize"
)

// cleanValue normalises one posted value for the lead field it maps to. Fields shown on one line (name,
// e-mail, phone, company, and a subject under any mapping) lose every control character and have line
// breaks folded to a space, so a recipient never sees a name that spans lines or reads backwards; free
// text (message, address, custom fields) keeps its line breaks and tabs and loses the other controls.
func cleanValue(target, posted, value string) string {
	switch target {
	case domain.FieldName, domain.FieldEmail, domain.FieldPhone, domain.FieldCompany:
		return normalize.SingleLine(value)
	}
	if posted == domain.MailSubject {
		return normalize.SingleLine(value)
	}
	return normalize.FreeText(value)
}
