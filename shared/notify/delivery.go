package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"leadvault/shared/domain"
	"leadvault/shared/metrics"
	"leadvault/shared/store"
)

// SES publishes an event for every notification it delivers, bounces, is complained about, rejects or
// delays (the configuration set's event destination, EventBridge's default bus). A rule sends them here;
// each is appended to the recipient-log item of the lead it is about (E5), found through the tags the
// notifier put on the mail (TagTenant, TagLead), so the processor can prove delivery per lead — who,
// when, delivered or why not — without holding the content.

// The message tags a lead's notification carries.
const (
	TagTenant = "tenant"
	TagLead   = "lead"
)

// sesEvent is the part of an SES event (EventBridge detail) that is kept.
type sesEvent struct {
	Source string `json:"source"`
	Detail struct {
		EventType string `json:"eventType"`
		Mail      struct {
			MessageID string              `json:"messageId"`
			Timestamp time.Time           `json:"timestamp"`
			Tags      map[string][]string `json:"tags"`
		} `json:"mail"`
		Delivery *struct {
			Timestamp    time.Time `json:"timestamp"`
			Recipients   []string  `json:"recipients"`
			SMTPResponse string    `json:"smtpResponse"`
		} `json:"delivery"`
		Bounce *struct {
			BounceType, BounceSubType string
			Timestamp                 time.Time   `json:"timestamp"`
			BouncedRecipients         []recipient `json:"bouncedRecipients"`
		} `json:"bounce"`
		Complaint *struct {
			Timestamp             time.Time   `json:"timestamp"`
			ComplaintFeedbackType string      `json:"complaintFeedbackType"`
			ComplainedRecipients  []recipient `json:"complainedRecipients"`
		} `json:"complaint"`
		Reject *struct {
			Reason string `json:"reason"`
		} `json:"reject"`
		DeliveryDelay *struct {
			Timestamp         time.Time   `json:"timestamp"`
			DelayType         string      `json:"delayType"`
			DelayedRecipients []recipient `json:"delayedRecipients"`
		} `json:"deliveryDelay"`
	} `json:"detail"`
}

type recipient struct {
	EmailAddress string `json:"emailAddress"`
}

func addresses(rs []recipient) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.EmailAddress)
	}
	return out
}

// delivery reads the event as a Delivery; ok is false for an event type that is not kept.
func (e sesEvent) delivery() (domain.Delivery, bool) {
	d := e.Detail
	out := domain.Delivery{Event: d.EventType, At: d.Mail.Timestamp}
	switch {
	case d.EventType == "Delivery" && d.Delivery != nil:
		// The status code only: an SMTP answer's text may name the mailbox or the server's internals.
		code, _, _ := strings.Cut(d.Delivery.SMTPResponse, " ")
		out.Recipients, out.At, out.Detail = d.Delivery.Recipients, d.Delivery.Timestamp, "smtp "+code
	case d.EventType == "Bounce" && d.Bounce != nil:
		out.Recipients, out.At, out.Detail = addresses(d.Bounce.BouncedRecipients), d.Bounce.Timestamp, d.Bounce.BounceType+"/"+d.Bounce.BounceSubType
	case d.EventType == "Complaint" && d.Complaint != nil:
		out.Recipients, out.At, out.Detail = addresses(d.Complaint.ComplainedRecipients), d.Complaint.Timestamp, d.Complaint.ComplaintFeedbackType
	case d.EventType == "Reject" && d.Reject != nil:
		out.Detail = d.Reject.Reason
	case d.EventType == "DeliveryDelay" && d.DeliveryDelay != nil:
		out.Recipients, out.At, out.Detail = addresses(d.DeliveryDelay.DelayedRecipients), d.DeliveryDelay.Timestamp, d.DeliveryDelay.DelayType
	default:
		return out, false
	}
	return out, true
}

// HandleSESEvent records one SES event against its lead's notification. An event of a mail that is no
// lead's notification (an outbox mail), or of a lead whose record is gone (deleted meanwhile), is logged,
// counted and dropped; a failure to write is returned, so EventBridge retries.
func (s *Service) HandleSESEvent(ctx context.Context, raw json.RawMessage) error {
	var ev sesEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("decode SES event: %w", err)
	}
	d, ok := ev.delivery()
	tags := ev.Detail.Mail.Tags
	tenant, lead := first(tags[TagTenant]), first(tags[TagLead])
	outcome := "recorded"
	switch {
	case !ok:
		outcome = "ignored_type"
	case !domain.ValidID(tenant) || lead == "":
		outcome = "not_a_notification"
	default:
		err := s.store.Scoped(tenant).RecordDelivery(ctx, lead, ev.Detail.Mail.MessageID, d)
		if errors.Is(err, store.ErrNotFound) {
			outcome = "no_record"
		} else if err != nil {
			return err
		}
	}
	metrics.Count(ctx, s.log, "ses event", "DeliveryEvents", map[string]string{"Event": ev.Detail.EventType, "Outcome": outcome},
		"tenant", tenant, "lead", lead, "messageId", ev.Detail.Mail.MessageID)
	return nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// Handle is the function's entry point for both its triggers: a batch from the table's stream (its
// answer reports the records to retry), or an SES event from EventBridge.
func (s *Service) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records *[]json.RawMessage `json:"Records"`
		Source  string             `json:"source"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	switch {
	case probe.Records != nil:
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("decode stream batch: %w", err)
		}
		return s.HandleStream(ctx, ev)
	case probe.Source == "aws.ses":
		return nil, s.HandleSESEvent(ctx, raw)
	}
	return nil, errors.New("neither a DynamoDB stream batch nor an SES event")
}
