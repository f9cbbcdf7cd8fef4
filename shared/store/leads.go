package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"leadvault/shared/ddb"
	"leadvault/shared/domain"
)

// ErrIdempotencyConflict means an idempotency key came back with a different request.
var ErrIdempotencyConflict = errors.New("idempotency key reused with a different request")

// Idempotency identifies a submission so that a retry stores nothing twice.
type Idempotency struct {
	// Key is tenant-scoped and already pseudonymised by the caller.
	Key string
	// RequestHash is a keyed hash of the normalised request; a retry must match it.
	RequestHash string
	TTL         time.Duration
}

// emailIndex is the blind index of a normalised e-mail address. It is taken over the address lower-cased:
// intake keeps the local part as typed (it is the data), but mail systems treat "Jens@" and "jens@" as one
// mailbox, and a data subject's request must find the leads of both.
func emailIndex(tk Keys, email string) string {
	return tk.BlindIndex(kindEmail, strings.ToLower(email))
}

// Lead blind-index kinds.
const (
	kindEmail = "email"
	kindPhone = "phone"
)

// SubjectID returns the ID of the data subject a lead belongs to: derived from the blind index of the
// e-mail address, else of the phone number, else the lead itself.
func SubjectID(tk Keys, p domain.Personal, leadID string) string {
	switch {
	case p.Email != "":
		return "e." + emailIndex(tk, p.Email)
	case p.Phone != "":
		return "p." + tk.BlindIndex(kindPhone, p.Phone)
	}
	return "r." + leadID
}

// putLead encrypts the lead's personal data under its subject's key, creating the key for a new subject,
// and stores the lead and its idempotency record in one transaction. It returns the ID under which the
// submission is stored: lead.ID when created, or the earlier lead's ID (created false) when the
// idempotency key was already used by the same request. A replayed submission changes nothing: its
// transaction is cancelled as a whole, the key's reference count included.
func (s *Store) putLead(ctx context.Context, tk Keys, lead domain.Lead, idem Idempotency) (id string, created bool, err error) {
	tenant := lead.TenantID
	if tk.Tenant() != tenant {
		return "", false, fmt.Errorf("put lead %s: key of tenant %s used for tenant %s", lead.ID, tk.Tenant(), tenant)
	}
	lead.SubjectID = SubjectID(tk, lead.Personal, lead.ID)
	plain, err := json.Marshal(lead.Personal)
	if err != nil {
		return "", false, fmt.Errorf("put lead %s: encode: %w", lead.ID, err)
	}
	now := s.now()
	exp := lead.ExpiresAt.Unix()
	// Assume a new subject; the transaction tells when it is not.
	plan, err := s.planKey(nil, exp)
	if err != nil {
		return "", false, fmt.Errorf("put lead %s: %w", lead.ID, err)
	}
	// Until the transaction says otherwise, the subject is assumed unmarked: its marker items are checked
	// in the same transaction (no read of its own), and a marked subject's lead is stored restricted.
	marksKnown := false
	for attempt := 0; ; attempt++ {
		sealed, wrapped, err := tk.SealRecord(lead.SubjectID, plan.existing, lead.ID, plain)
		if err != nil {
			return "", false, fmt.Errorf("put lead %s: %w", lead.ID, err)
		}
		if plan.mode == keyCreate {
			plan.wrapped = wrapped
		}
		item := s.leadItem(tk, lead, sealed)
		isNew, idemFree := onlyIf(absent()), onlyIf(absentOrExpired(now.Unix()))
		items := []types.TransactWriteItem{
			{Put: &types.Put{TableName: &s.table, Item: item,
				ConditionExpression: isNew.Condition(), ExpressionAttributeNames: isNew.Names()}},
			{Put: &types.Put{
				TableName: &s.table,
				Item: marshal(idemItem{itemKey: itemKey{PK: idemPK(tenant, idem.Key), SK: skIdem}, Lead: lead.ID,
					RequestHash: idem.RequestHash, ExpiresAt: now.Add(idem.TTL).Unix()}),
				ConditionExpression: idemFree.Condition(), ExpressionAttributeNames: idemFree.Names(),
				ExpressionAttributeValues:           idemFree.Values(),
				ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
			}},
			s.subjectKeyOp(tenant, lead.SubjectID, plan, now.Unix(), exp),
			s.contractOpen(tenant, now),
		}
		var marks []types.TransactWriteItem
		if !marksKnown {
			marks = s.markChecks(tenant, item)
			items = append(items, marks...)
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return lead.ID, true, nil
		}
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) || len(cancelled.CancellationReasons) != len(items) || attempt == ddb.TxAttempts-1 {
			return "", false, fmt.Errorf("put lead %s: %w", lead.ID, err)
		}
		reasons := cancelled.CancellationReasons
		if ddb.Code(reasons[1]) == "ConditionalCheckFailed" {
			return s.earlierSubmission(ctx, tenant, idem, reasons[1].Item)
		}
		marked := false
		if ddb.Code(reasons[3]) == "ConditionalCheckFailed" {
			return "", false, fmt.Errorf("put lead %s: %w", lead.ID, ErrContractEnded)
		}
		for i := range marks {
			if r := reasons[4+i]; ddb.Code(r) == "ConditionalCheckFailed" {
				marked = true
				applyMark(&lead, r.Item)
			}
		}
		if marked {
			marksKnown = true
			if ddb.Code(reasons[2]) != "ConditionalCheckFailed" {
				continue // the key was as planned: only the lead changes
			}
		}
		switch {
		case ddb.Code(reasons[2]) == "ConditionalCheckFailed":
			// The subject key is not as assumed: decide again from the item as it is now.
			current := reasons[2].Item
			if current == nil {
				current, err = s.getRaw(ctx, subjectPK(tenant, lead.SubjectID), skKey)
				if err != nil {
					return "", false, fmt.Errorf("put lead %s: read subject key: %w", lead.ID, err)
				}
			}
			if plan, err = s.planKey(current, exp); err != nil {
				return "", false, fmt.Errorf("put lead %s: %w", lead.ID, err)
			}
		case ddb.Code(reasons[0]) == "ConditionalCheckFailed":
			return "", false, fmt.Errorf("put lead %s: %w", lead.ID, ErrExists)
		default:
			// A transaction conflict with a concurrent writer of the same subject: try again shortly.
			if err := ddb.Backoff(ctx, attempt); err != nil {
				return "", false, fmt.Errorf("put lead %s: %w", lead.ID, err)
			}
		}
	}
}

type keyMode int

const (
	keyCreate keyMode = iota // a new subject: store the new key
	keyExtend                // a known subject whose key expires before the new lead: extend it
	keyCheck                 // a known subject whose key outlives the new lead: check it is still there
)

// keyPlan is how a transaction that seals a lead under its subject's key treats the key item.
type keyPlan struct {
	mode     keyMode
	existing []byte // the live key's stored form to seal under; nil for keyCreate
	wrapped  []byte // the new key's stored form, once sealed; keyCreate only
}

// planKey decides how to seal a lead that expires at exp under the subject's key, given the key item as it
// is now (nil when absent): a missing or expired key is replaced by a new one, a live key is reused.
func (s *Store) planKey(current map[string]types.AttributeValue, exp int64) (keyPlan, error) {
	if current == nil || s.expired(current) {
		return keyPlan{mode: keyCreate}, nil
	}
	// A returning subject: seal under the key it already has, and keep that key alive at least as long
	// as this lead.
	var cur subjectKeyItem
	if err := unmarshal(current, &cur); err != nil {
		return keyPlan{}, err
	}
	mode := keyCheck
	if cur.ExpiresAt < exp {
		mode = keyExtend
	}
	return keyPlan{mode: mode, existing: cur.Wrapped}, nil
}

// subjectKeyOp is the subject-key part of a transaction that stores a lead under the key. A subject key
// expires with the last lead sealed under it, never before, and counts in "refs" the leads sealed under
// it, so that deleting the last of them deletes the key too (see releaseKeyOp). A transaction that
// adds a lead adds its reference in the same write.
//
// Subject keys written before reference counts existed have no "refs". They only ever existed in local
// development data, so there is no migration: releaseKeyOp leaves a key without a count to expire, and
// one that a later lead gave a count of 1 may be shredded before its older leads are deleted.
func (s *Store) subjectKeyOp(tenant, subject string, plan keyPlan, now, exp int64) types.TransactWriteItem {
	k := key(subjectPK(tenant, subject), skKey)
	refs, expires := expression.Name(AttrRefs), expression.Name(AttrExpiresAt)
	var ex expression.Expression
	switch plan.mode {
	case keyExtend:
		ex = build(expression.NewBuilder().
			WithCondition(exists().And(expires.GreaterThan(expression.Value(now)), expires.LessThan(expression.Value(exp)))).
			WithUpdate(expression.Set(expires, expression.Value(exp)).Set(expression.Name(AttrExpiryHour), expression.Value(ExpiryHour(time.Unix(exp, 0)))).
				Add(refs, expression.Value(1))))
	case keyCheck:
		ex = build(expression.NewBuilder().
			WithCondition(exists().And(expires.GreaterThanEqual(expression.Value(exp)))).
			WithUpdate(expression.Add(refs, expression.Value(1))))
	}
	if plan.mode != keyCreate {
		return types.TransactWriteItem{Update: &types.Update{
			TableName: &s.table, Key: k,
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}}
	}
	one := int64(1)
	ex = onlyIf(absentOrExpired(now))
	return types.TransactWriteItem{Put: &types.Put{
		TableName: &s.table,
		Item: marshal(subjectKeyItem{itemKey: itemKey{PK: subjectPK(tenant, subject), SK: skKey}, Wrapped: plan.wrapped,
			ExpiresAt: exp, Refs: &one, ExpiryHour: ExpiryHour(time.Unix(exp, 0))}),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}
}

// releaseKeyOp returns the transaction item that gives up n leads' references to a subject key, given
// the key item as read before the transaction (nil when absent): a delete when they are the last ones
// (crypto-shredding), else a decrement. Both are conditioned on the key being the one read ("wk") and on
// the count still allowing that choice, so a concurrent writer of the subject makes the transaction fail
// rather than be miscounted: a lead added meanwhile never loses its key. ok is false when there is
// nothing to release: the key is gone (shredded, or expired and removed) or has no count (see
// subjectKeyOp).
func (s *Store) releaseKeyOp(tenant, subject string, current map[string]types.AttributeValue, n int64) (op types.TransactWriteItem, ok bool) {
	var cur subjectKeyItem
	if current == nil || unmarshal(current, &cur) != nil || cur.Refs == nil {
		return types.TransactWriteItem{}, false
	}
	k := key(subjectPK(tenant, subject), skKey)
	refs := expression.Name(AttrRefs)
	sameKey := expression.Name(AttrWrapped).Equal(expression.Value(cur.Wrapped))
	if *cur.Refs <= n {
		ex := onlyIf(sameKey.And(refs.LessThanEqual(expression.Value(n))))
		return types.TransactWriteItem{Delete: &types.Delete{
			TableName: &s.table, Key: k,
			ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		}}, true
	}
	ex := build(expression.NewBuilder().WithCondition(sameKey.And(refs.GreaterThan(expression.Value(n)))).
		WithUpdate(expression.Add(refs, expression.Value(-n))))
	return types.TransactWriteItem{Update: &types.Update{
		TableName: &s.table, Key: k,
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
	}}, true
}

// getRaw reads one item with a strongly consistent read, expired or not; it returns nil when absent.
func (s *Store) getRaw(ctx context.Context, pk, sk string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: key(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

func (s *Store) earlierSubmission(ctx context.Context, tenant string, idem Idempotency, item map[string]types.AttributeValue) (string, bool, error) {
	if item == nil {
		var err error
		if item, err = s.get(ctx, idemPK(tenant, idem.Key), skIdem); err != nil {
			return "", false, fmt.Errorf("read idempotency record: %w", err)
		}
	}
	var it idemItem
	if err := unmarshal(item, &it); err != nil {
		return "", false, fmt.Errorf("read idempotency record: %w", err)
	}
	if it.RequestHash != idem.RequestHash {
		return "", false, ErrIdempotencyConflict
	}
	return it.Lead, false, nil
}

// sortTime formats times in sort keys: fixed width, so that string order is time order (RFC 3339 with
// nanoseconds drops trailing zeros, and "05Z" would sort after "05.1Z").
const sortTime = "2006-01-02T15:04:05.000000000Z"

func sortKeyTime(t time.Time) string { return t.UTC().Format(sortTime) }

func (s *Store) leadItem(tk Keys, l domain.Lead, sealed []byte) map[string]types.AttributeValue {
	it := leadItem{
		itemKey: itemKey{PK: leadPK(l.TenantID, l.ID), SK: skLead},
		Version: 1, Tenant: l.TenantID, ID: l.ID, Form: l.FormID, Campaign: l.CampaignID,
		CampaignIndex: "T#" + l.TenantID + "#C#" + l.CampaignID, Created: sortKeyTime(l.CreatedAt) + "#" + l.ID,
		CreatedAt: ts(l.CreatedAt), ExpiresAt: l.ExpiresAt.Unix(), Source: string(l.Source), Spam: l.Spam,
		Subject: l.SubjectID, Personal: sealed, Flags: l.Flags, Meta: l.Meta, Restricted: l.Restricted,
		ExpiryHour: ExpiryHour(l.ExpiresAt),
	}
	// The subject ID already holds the blind index it was derived from (see SubjectID): reuse it
	// rather than compute the HMAC twice on every intake.
	if bi, ok := strings.CutPrefix(l.SubjectID, "e."); ok && l.Personal.Email != "" {
		it.EmailBI = "T#" + l.TenantID + "#E#" + bi
	} else {
		it.EmailBI = emailIndexValue(tk, l.Personal.Email)
	}
	if bi, ok := strings.CutPrefix(l.SubjectID, "p."); ok && l.Personal.Phone != "" {
		it.PhoneBI = "T#" + l.TenantID + "#P#" + bi
	} else {
		it.PhoneBI = phoneIndexValue(tk, l.Personal.Phone)
	}
	if c := l.Consent; c != nil {
		it.Consent = &consentItem{Given: c.Given, Version: c.Version, GivenAt: ts(c.GivenAt), Source: c.Source}
	}
	return it.attributes()
}

// lead reads and decrypts one lead of the key's tenant.
func (s *Store) lead(ctx context.Context, tk Keys, leadID string) (domain.Lead, error) {
	tenant := tk.Tenant()
	item, err := s.get(ctx, leadPK(tenant, leadID), skLead)
	if err != nil {
		return domain.Lead{}, fmt.Errorf("get lead %s/%s: %w", tenant, leadID, err)
	}
	l, sealed, err := decodeLead(item)
	if err != nil {
		return domain.Lead{}, fmt.Errorf("get lead %s/%s: %w", tenant, leadID, err)
	}
	var subj subjectKeyItem
	if err := s.getItem(ctx, subjectPK(tenant, l.SubjectID), skKey, &subj); err != nil {
		// A lead whose subject key is gone has been crypto-shredded.
		return domain.Lead{}, fmt.Errorf("get lead %s/%s: subject key: %w", tenant, leadID, err)
	}
	plain, err := tk.OpenRecord(l.SubjectID, subj.Wrapped, leadID, sealed)
	if err != nil {
		return domain.Lead{}, fmt.Errorf("get lead %s/%s: %w", tenant, leadID, err)
	}
	if err := json.Unmarshal(plain, &l.Personal); err != nil {
		return domain.Lead{}, fmt.Errorf("get lead %s/%s: decode: %w", tenant, leadID, err)
	}
	return l, nil
}

// decodeLead reads a lead item: the lead without its personal data, and the sealed personal data.
func decodeLead(item map[string]types.AttributeValue) (domain.Lead, []byte, error) {
	var it leadItem
	if err := unmarshal(item, &it); err != nil {
		return domain.Lead{}, nil, err
	}
	l := domain.Lead{
		TenantID: it.Tenant, ID: it.ID, FormID: it.Form, CampaignID: it.Campaign, Source: domain.Source(it.Source),
		CreatedAt: parseTS(it.CreatedAt), ExpiresAt: time.Unix(it.ExpiresAt, 0).UTC(), Spam: it.Spam,
		SubjectID: it.Subject, Flags: it.Flags, Meta: it.Meta, Restricted: it.Restricted,
	}
	if c := it.Consent; c != nil {
		l.Consent = &domain.ConsentRecord{Given: c.Given, Version: c.Version, GivenAt: parseTS(c.GivenAt), Source: c.Source}
	}
	return l, it.Personal, nil
}

// putNotification records a sent notification; a second record for the same lead fails with ErrExists.
func (s *Store) putNotification(ctx context.Context, n domain.Notification) error {
	ex := onlyIf(absent())
	_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.table,
		Item: marshal(notificationItem{itemKey: itemKey{PK: leadPK(n.TenantID, n.LeadID), SK: skNotified}, MessageID: n.MessageID,
			To: n.Recipients, SentAt: ts(n.SentAt), ExpiresAt: n.ExpiresAt.Unix()}),
		ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(),
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return fmt.Errorf("put notification %s/%s: %w", n.TenantID, n.LeadID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("put notification %s/%s: %w", n.TenantID, n.LeadID, err)
	}
	return nil
}

// notified returns the notification record of a lead, or ErrNotFound.
func (s *Store) notified(ctx context.Context, tenant, leadID string) (domain.Notification, error) {
	var it notificationItem
	if err := s.getItem(ctx, leadPK(tenant, leadID), skNotified, &it); err != nil {
		return domain.Notification{}, fmt.Errorf("get notification %s/%s: %w", tenant, leadID, err)
	}
	n := domain.Notification{TenantID: tenant, LeadID: leadID, MessageID: it.MessageID, Recipients: it.To,
		SentAt: parseTS(it.SentAt), ExpiresAt: time.Unix(it.ExpiresAt, 0).UTC()}
	for _, d := range it.Deliveries {
		n.Deliveries = append(n.Deliveries, domain.Delivery{Event: d.Event, Recipients: d.To, At: parseTS(d.At), Detail: d.Detail})
	}
	return n, nil
}

// RecordDelivery appends an SES event to the recipient-log item of the lead's notification, if that
// notification is the message the event is about (ErrNotFound otherwise: no record yet, or another
// message). The event holds no content; its recipients are the form's recipients.
func (v *Scoped) RecordDelivery(ctx context.Context, leadID, messageID string, d domain.Delivery) error {
	if err := v.check(); err != nil {
		return err
	}
	list := expression.Name("deliveries")
	item := deliveryItem{Event: d.Event, To: d.Recipients, At: ts(d.At), Detail: d.Detail}
	ex := build(expression.NewBuilder().
		WithCondition(exists().And(expression.Name("msg").Equal(expression.Value(messageID)))).
		WithUpdate(expression.Set(list, expression.ListAppend(expression.IfNotExists(list, expression.Value([]deliveryItem{})),
			expression.Value([]deliveryItem{item})))))
	_, err := v.s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: &v.s.table, Key: key(leadPK(v.tenant, leadID), skNotified),
		UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
		ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values()})
	if isConditionFailed(err) {
		return fmt.Errorf("record delivery of %s/%s: %w", v.tenant, leadID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("record delivery of %s/%s: %w", v.tenant, leadID, err)
	}
	return nil
}

// rectifyLead replaces the personal data of one of the key's tenant's leads with p (GDPR art. 16); the
// caller has merged and validated it. It seals p afresh, rewrites the blind indexes, and when the new
// data names another subject (SubjectID), moves the lead to that subject's key, creating it or taking a
// reference to it, and gives up its reference to the old key, which goes when no other lead uses it.
// All of it is one transaction, conditioned on the lead still being there, unexpired and unchanged in
// subject, so nothing of the old data stays in the item. Everything else about the lead is kept. It
// returns the lead as stored; an unknown, expired or shredded lead fails with ErrNotFound. flags replace
// the lead's flags, since some (phone_unverified) describe the data that changes; nil removes them all.
func (s *Store) rectifyLead(ctx context.Context, tk Keys, leadID string, p domain.Personal, flags []string) (domain.Lead, error) {
	tenant := tk.Tenant()
	plain, err := json.Marshal(p)
	if err != nil {
		return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: encode: %w", tenant, leadID, err)
	}
	subject := SubjectID(tk, p, leadID)
	for attempt := 0; ; attempt++ {
		now := s.now().Unix()
		item, err := s.getRaw(ctx, leadPK(tenant, leadID), skLead)
		if err != nil {
			return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: %w", tenant, leadID, err)
		}
		if item == nil || s.expired(item) {
			return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: %w", tenant, leadID, ErrNotFound)
		}
		l, _, err := decodeLead(item)
		if err != nil {
			return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: %w", tenant, leadID, err)
		}
		oldKey, err := s.getRaw(ctx, subjectPK(tenant, l.SubjectID), skKey)
		if err != nil {
			return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: read subject key: %w", tenant, leadID, err)
		}
		if oldKey == nil || s.expired(oldKey) {
			// Shredded: the lead is as good as gone, and there is nothing to rectify.
			return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: subject key: %w", tenant, leadID, ErrNotFound)
		}
		var old subjectKeyItem
		if err := unmarshal(oldKey, &old); err != nil {
			return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: %w", tenant, leadID, err)
		}
		var keyOps []types.TransactWriteItem
		var sealed []byte
		if subject == l.SubjectID {
			if sealed, _, err = tk.SealRecord(subject, old.Wrapped, leadID, plain); err != nil {
				return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: %w", tenant, leadID, err)
			}
			// The lead's reference keeps the key; only an erasure of the subject could remove it meanwhile.
			ex := onlyIf(expression.Name(AttrWrapped).Equal(expression.Value(old.Wrapped)))
			keyOps = append(keyOps, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
				TableName: &s.table, Key: key(subjectPK(tenant, subject), skKey),
				ConditionExpression: ex.Condition(), ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
			}})
		} else {
			newKey, err := s.getRaw(ctx, subjectPK(tenant, subject), skKey)
			if err != nil {
				return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: read subject key: %w", tenant, leadID, err)
			}
			exp := l.ExpiresAt.Unix()
			plan, err := s.planKey(newKey, exp)
			if err != nil {
				return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: %w", tenant, leadID, err)
			}
			var wrapped []byte
			if sealed, wrapped, err = tk.SealRecord(subject, plan.existing, leadID, plain); err != nil {
				return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: %w", tenant, leadID, err)
			}
			if plan.mode == keyCreate {
				plan.wrapped = wrapped
			}
			keyOps = append(keyOps, s.subjectKeyOp(tenant, subject, plan, now, exp))
			if op, ok := s.releaseKeyOp(tenant, l.SubjectID, oldKey, 1); ok {
				keyOps = append(keyOps, op)
			}
		}
		// Every attribute derived from the personal data is set or removed, so none keeps an old value.
		update := expression.Set(expression.Name(AttrPersonal), expression.Value(sealed)).
			Set(expression.Name(attrSubject), expression.Value(subject))
		for _, bi := range []struct{ attr, value string }{
			{AttrEmailBI, emailIndexValue(tk, p.Email)}, {AttrPhoneBI, phoneIndexValue(tk, p.Phone)},
		} {
			if bi.value == "" {
				update = update.Remove(expression.Name(bi.attr))
			} else {
				update = update.Set(expression.Name(bi.attr), expression.Value(bi.value))
			}
		}
		if len(flags) > 0 {
			update = update.Set(expression.Name(AttrFlags), expression.Value(&types.AttributeValueMemberSS{Value: flags}))
		} else {
			update = update.Remove(expression.Name(AttrFlags))
		}
		ex := build(expression.NewBuilder().WithUpdate(update).WithCondition(exists().And(
			expression.Name(AttrExpiresAt).GreaterThan(expression.Value(now)),
			expression.Name(attrSubject).Equal(expression.Value(l.SubjectID)))))
		items := append([]types.TransactWriteItem{{Update: &types.Update{
			TableName: &s.table, Key: key(leadPK(tenant, leadID), skLead),
			UpdateExpression: ex.Update(), ConditionExpression: ex.Condition(),
			ExpressionAttributeNames: ex.Names(), ExpressionAttributeValues: ex.Values(),
		}}}, keyOps...)
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			l.Personal, l.SubjectID, l.Flags = p, subject, nil
			if len(flags) > 0 {
				l.Flags = flags
			}
			return l, nil
		}
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) || attempt == ddb.TxAttempts-1 {
			return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: %w", tenant, leadID, err)
		}
		// The lead or a key changed since they were read, or a concurrent transaction held them: read
		// again (a lead gone meanwhile ends as ErrNotFound) and retry.
		if err := ddb.Backoff(ctx, attempt); err != nil {
			return domain.Lead{}, fmt.Errorf("rectify lead %s/%s: %w", tenant, leadID, err)
		}
	}
}
