package normalize

import "strings"

// SubjectError says which identifier of a data subject is not valid, in the words an API answers with.
type SubjectError struct{ Field, Code, Message string }

// Subject normalises the identifiers a data subject is named by in a request — an e-mail address, a phone
// number read in region (default DefaultRegion) unless it has a country code — exactly as intake normalises
// them, so that their blind indexes match the leads'. At least one is needed.
func Subject(email, phone, region string) (string, string, []SubjectError) {
	email, phone = strings.TrimSpace(email), strings.TrimSpace(phone)
	if email == "" && phone == "" {
		return "", "", []SubjectError{{Field: "subject", Code: "required", Message: "Name the data subject by subject.email, subject.phone or both."}}
	}
	var errs []SubjectError
	if email != "" {
		e, err := Email(email)
		if err != nil {
			errs = append(errs, SubjectError{Field: "subject.email", Code: "invalid_email", Message: "must be a valid e-mail address such as name@example.com"})
		}
		email = e
	}
	if phone != "" {
		if region = strings.ToUpper(strings.TrimSpace(region)); region == "" {
			region = DefaultRegion
		}
		p, _, err := ParsePhone(phone, region, PhonePossible)
		if err != nil {
			errs = append(errs, SubjectError{Field: "subject.phone", Code: "invalid_phone", Message: "must be a valid phone number, with country code if not " + region})
		}
		phone = p
	}
	return email, phone, errs
}
