package store

import (
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
)

// leadItemTags is leadItem without its methods: MarshalMap of it is what the tags alone make.
type leadItemTags leadItem

func TestLeadItem_attributesMatchTags(t *testing.T) {
	full := leadItem{itemKey: itemKey{PK: "T#acme#L#l1", SK: SKLead}, Version: 1, Tenant: "acme", ID: "l1", Form: "contact",
		Campaign: "spring", CampaignIndex: "T#acme#C#spring", Created: "2026-12-01T09:30:00.000000000Z#l1",
		CreatedAt: "2026-12-01T09:30:00Z", ExpiresAt: 1827653400, Source: "mail", Spam: true, Subject: "e.abc",
		Personal: []byte{1, 2, 3}, EmailBI: "T#acme#E#abc", PhoneBI: "T#acme#P#def",
		Consent: &consentItem{Given: true, Version: "v1", GivenAt: "2026-12-01T09:30:00Z", Source: "form:contact"},
		Flags:   []string{"redacted:cpr:message", "phone_unverified"}, Meta: map[string]string{"origin": "https://www.acme.dk", "dropped": "x"},
		Restricted: true, ExpiryHour: "2027-12-01T09"}
	bare := full
	bare.EmailBI, bare.PhoneBI, bare.Consent, bare.Flags, bare.Meta, bare.Spam, bare.Restricted, bare.ExpiryHour = "", "", nil, nil, nil, false, false, ""
	emptyMeta := bare
	emptyMeta.Meta, emptyMeta.Flags = map[string]string{}, []string{}
	// Empty collections are left out as nil ones are, as the store always did: attributevalue would write an
	// empty map and a NULL set, so the expectation for them is the tags' output for nil collections.
	cases := []struct {
		name     string
		it, tags leadItem
	}{
		{"every attribute", full, full},
		{"only what is required", bare, bare},
		{"empty collections", emptyMeta, bare},
	}
	for _, c := range cases {
		it := c.it
		t.Run(c.name, func(t *testing.T) {
			want, err := attributevalue.MarshalMap(leadItemTags(c.tags))
			if err != nil {
				t.Fatal(err)
			}
			if got := it.attributes(); !reflect.DeepEqual(got, want) {
				t.Errorf("attributes() =\n%#v\nMarshalMap of the tags =\n%#v", got, want)
			}
		})
	}
}
