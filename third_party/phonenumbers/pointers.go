package phonenumbers

// This file is copied into third_party/phonenumbers by scripts/phonenumbers-gen: it stands in for the
// parts of the protobuf runtime the library used.

func ptrString(v string) *string { return &v }

func ptrInt32(v int32) *int32 { return &v }

func ptrUint64(v uint64) *uint64 { return &v }

func ptrBool(v bool) *bool { return &v }

// clone returns a pointer to a copy of *p, or nil.
func clone[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// mergeFrom does what the protobuf runtime's Merge did: every field set in src is copied into x.
func (x *PhoneNumber) mergeFrom(src *PhoneNumber) {
	if src.CountryCode != nil {
		x.CountryCode = clone(src.CountryCode)
	}
	if src.NationalNumber != nil {
		x.NationalNumber = clone(src.NationalNumber)
	}
	if src.Extension != nil {
		x.Extension = clone(src.Extension)
	}
	if src.ItalianLeadingZero != nil {
		x.ItalianLeadingZero = clone(src.ItalianLeadingZero)
	}
	if src.NumberOfLeadingZeros != nil {
		x.NumberOfLeadingZeros = clone(src.NumberOfLeadingZeros)
	}
	if src.RawInput != nil {
		x.RawInput = clone(src.RawInput)
	}
	if src.CountryCodeSource != nil {
		x.CountryCodeSource = clone(src.CountryCodeSource)
	}
	if src.PreferredDomesticCarrierCode != nil {
		x.PreferredDomesticCarrierCode = clone(src.PreferredDomesticCarrierCode)
	}
}

// mergeFrom does what the protobuf runtime's Merge did: every field set in src is copied into x; a repeated field is
// appended.
func (x *NumberFormat) mergeFrom(src *NumberFormat) {
	if src.Pattern != nil {
		x.Pattern = clone(src.Pattern)
	}
	if src.Format != nil {
		x.Format = clone(src.Format)
	}
	x.LeadingDigitsPattern = append(x.LeadingDigitsPattern, src.LeadingDigitsPattern...)
	if src.NationalPrefixFormattingRule != nil {
		x.NationalPrefixFormattingRule = clone(src.NationalPrefixFormattingRule)
	}
	if src.NationalPrefixOptionalWhenFormatting != nil {
		x.NationalPrefixOptionalWhenFormatting = clone(src.NationalPrefixOptionalWhenFormatting)
	}
	if src.DomesticCarrierCodeFormattingRule != nil {
		x.DomesticCarrierCodeFormattingRule = clone(src.DomesticCarrierCodeFormattingRule)
	}
}
