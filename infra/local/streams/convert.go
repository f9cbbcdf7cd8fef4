package streams

import (
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Region is the awsRegion of every record: the region Leadvault runs in. DynamoDB Local reports
// "ddblocal", which no Lambda ever sees.
const Region = "eu-north-1"

// eventSource is the eventSource of DynamoDB stream records.
const eventSource = "aws:dynamodb"

// ToEventRecord converts a record from GetRecords into the record Lambda's event source mapping puts in
// a DynamoDBEvent, with eventSourceARN streamARN and awsRegion Region. Every attribute value kind is
// converted; an unknown kind or a record without its dynamodb part is an error, in which case the
// returned record still carries whatever could be converted (eventID, sequence number, ...).
func ToEventRecord(streamARN string, r types.Record) (events.DynamoDBEventRecord, error) {
	out := events.DynamoDBEventRecord{
		AWSRegion:      Region,
		EventID:        aws.ToString(r.EventID),
		EventName:      string(r.EventName),
		EventSource:    aws.ToString(r.EventSource),
		EventVersion:   aws.ToString(r.EventVersion),
		EventSourceArn: streamARN,
	}
	if out.EventSource == "" {
		out.EventSource = eventSource
	}
	if r.UserIdentity != nil {
		out.UserIdentity = &events.DynamoDBUserIdentity{
			Type:        aws.ToString(r.UserIdentity.Type),
			PrincipalID: aws.ToString(r.UserIdentity.PrincipalId),
		}
	}
	d := r.Dynamodb
	if d == nil {
		return out, fmt.Errorf("convert stream record %s: no dynamodb part", out.EventID)
	}
	out.Change = events.DynamoDBStreamRecord{
		SequenceNumber: aws.ToString(d.SequenceNumber),
		SizeBytes:      aws.ToInt64(d.SizeBytes),
		StreamViewType: string(d.StreamViewType),
	}
	if d.ApproximateCreationDateTime != nil {
		out.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	var errs []error
	var err error
	if out.Change.Keys, err = convertMap(d.Keys); err != nil {
		errs = append(errs, fmt.Errorf("keys: %w", err))
	}
	if out.Change.NewImage, err = convertMap(d.NewImage); err != nil {
		errs = append(errs, fmt.Errorf("new image: %w", err))
	}
	if out.Change.OldImage, err = convertMap(d.OldImage); err != nil {
		errs = append(errs, fmt.Errorf("old image: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return out, fmt.Errorf("convert stream record %s (sequence number %s): %w", out.EventID, out.Change.SequenceNumber, err)
	}
	return out, nil
}

// convertMap converts an item or key map; nil stays nil.
func convertMap(m map[string]types.AttributeValue) (map[string]events.DynamoDBAttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]events.DynamoDBAttributeValue, len(m))
	for k, v := range m {
		cv, err := convertValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		out[k] = cv
	}
	return out, nil
}

// convertValue converts one attribute value of any kind: S, N, B, BOOL, NULL, SS, NS, BS, L or M.
func convertValue(v types.AttributeValue) (events.DynamoDBAttributeValue, error) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value), nil
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value), nil
	case *types.AttributeValueMemberB:
		return events.NewBinaryAttribute(v.Value), nil
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value), nil
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute(), nil
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value), nil
	case *types.AttributeValueMemberNS:
		return events.NewNumberSetAttribute(v.Value), nil
	case *types.AttributeValueMemberBS:
		return events.NewBinarySetAttribute(v.Value), nil
	case *types.AttributeValueMemberL:
		list := make([]events.DynamoDBAttributeValue, 0, len(v.Value))
		for i, e := range v.Value {
			ce, err := convertValue(e)
			if err != nil {
				return events.DynamoDBAttributeValue{}, fmt.Errorf("list element %d: %w", i, err)
			}
			list = append(list, ce)
		}
		return events.NewListAttribute(list), nil
	case *types.AttributeValueMemberM:
		m, err := convertMap(v.Value)
		if err != nil {
			return events.DynamoDBAttributeValue{}, err
		}
		if m == nil {
			m = map[string]events.DynamoDBAttributeValue{}
		}
		return events.NewMapAttribute(m), nil
	case *types.UnknownUnionMember:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("unknown attribute value kind %q", v.Tag)
	case nil:
		return events.DynamoDBAttributeValue{}, errors.New("nil attribute value")
	default:
		return events.DynamoDBAttributeValue{}, fmt.Errorf("unsupported attribute value type %T", v)
	}
}
