package store

import (
	"encoding/json"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/domain"
	"leadvault/shared/vault"
)

// SeedItems builds, without writing them, the items that PutLead would have stored for new leads of the
// key's tenant: each lead's item and one key item per subject, counting its leads and living as long as
// the longest of them. Tests write them with BatchWriteItem to seed many leads fast.
func SeedItems(st *Store, tk *vault.TenantKey, leads []domain.Lead) ([]map[string]types.AttributeValue, error) {
	type subjectKey struct {
		sk      *vault.SubjectKey
		wrapped []byte
		refs    int64
		exp     int64
	}
	keys := map[string]*subjectKey{}
	var order []string
	items := make([]map[string]types.AttributeValue, 0, len(leads))
	for _, l := range leads {
		l.SubjectID = SubjectID(tk, l.Personal, l.ID)
		k := keys[l.SubjectID]
		if k == nil {
			sk, wrapped, err := tk.NewSubjectKey(l.SubjectID)
			if err != nil {
				return nil, err
			}
			k = &subjectKey{sk: sk, wrapped: wrapped}
			keys[l.SubjectID] = k
			order = append(order, l.SubjectID)
		}
		k.refs++
		k.exp = max(k.exp, l.ExpiresAt.Unix())
		plain, err := json.Marshal(l.Personal)
		if err != nil {
			return nil, err
		}
		items = append(items, st.leadItem(tk, l, k.sk.Seal(plain, vault.RecordAAD(l.TenantID, l.ID))))
	}
	for _, subject := range order {
		k := keys[subject]
		refs := int64(k.refs)
		items = append(items, marshal(subjectKeyItem{itemKey: itemKey{PK: subjectPK(tk.Tenant(), subject), SK: skKey},
			Wrapped: k.wrapped, ExpiresAt: k.exp, Refs: &refs}))
	}
	return items, nil
}
