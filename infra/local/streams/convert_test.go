package streams

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

func TestToEventRecord_attributeKinds(t *testing.T) {
	tests := []struct {
		kind     string
		in       types.AttributeValue
		want     events.DynamoDBAttributeValue
		wantJSON string
	}{
		{"S", &types.AttributeValueMemberS{Value: "ada@example.com"}, events.NewStringAttribute("ada@example.com"), `{"S":"ada@example.com"}`},
		{"N", &types.AttributeValueMemberN{Value: "-12.50"}, events.NewNumberAttribute("-12.50"), `{"N":"-12.50"}`},
		{"B", &types.AttributeValueMemberB{Value: []byte{0, 1, 0xff}}, events.NewBinaryAttribute([]byte{0, 1, 0xff}), `{"B":"AAH/"}`},
		{"BOOL", &types.AttributeValueMemberBOOL{Value: true}, events.NewBooleanAttribute(true), `{"BOOL":true}`},
		{"NULL", &types.AttributeValueMemberNULL{Value: true}, events.NewNullAttribute(), `{"NULL":true}`},
		{"SS", &types.AttributeValueMemberSS{Value: []string{"a", "b"}}, events.NewStringSetAttribute([]string{"a", "b"}), `{"SS":["a","b"]}`},
		{"NS", &types.AttributeValueMemberNS{Value: []string{"1", "2.5"}}, events.NewNumberSetAttribute([]string{"1", "2.5"}), `{"NS":["1","2.5"]}`},
		{"BS", &types.AttributeValueMemberBS{Value: [][]byte{{1}, {2, 3}}}, events.NewBinarySetAttribute([][]byte{{1}, {2, 3}}), `{"BS":["AQ==","AgM="]}`},
		{"L", &types.AttributeValueMemberL{Value: []types.AttributeValue{
			&types.AttributeValueMemberS{Value: "x"},
			&types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "1"}}},
		}}, events.NewListAttribute([]events.DynamoDBAttributeValue{
			events.NewStringAttribute("x"),
			events.NewListAttribute([]events.DynamoDBAttributeValue{events.NewNumberAttribute("1")}),
		}), `{"L":[{"S":"x"},{"L":[{"N":"1"}]}]}`},
		{"empty L", &types.AttributeValueMemberL{}, events.NewListAttribute([]events.DynamoDBAttributeValue{}), `{"L":[]}`},
		{"M", &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"name":  &types.AttributeValueMemberS{Value: "Ada"},
			"tags":  &types.AttributeValueMemberSS{Value: []string{"vip"}},
			"inner": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"ok": &types.AttributeValueMemberBOOL{Value: false}}},
		}}, events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{
			"name":  events.NewStringAttribute("Ada"),
			"tags":  events.NewStringSetAttribute([]string{"vip"}),
			"inner": events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{"ok": events.NewBooleanAttribute(false)}),
		}), `{"M":{"inner":{"M":{"ok":{"BOOL":false}}},"name":{"S":"Ada"},"tags":{"SS":["vip"]}}}`},
		{"empty M", &types.AttributeValueMemberM{}, events.NewMapAttribute(map[string]events.DynamoDBAttributeValue{}), `{"M":{}}`},
	}
	for _, tt := range tests {
		got, err := convertValue(tt.in)
		if err != nil {
			t.Errorf("convertValue(%s) = %v", tt.kind, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("convertValue(%s) = %#v; want %#v", tt.kind, got, tt.want)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Errorf("json.Marshal(convertValue(%s)) = %v", tt.kind, err)
			continue
		}
		if string(b) != tt.wantJSON {
			t.Errorf("convertValue(%s) as JSON = %s; want %s", tt.kind, b, tt.wantJSON)
		}
		// The record carries it in every image.
		rec, err := ToEventRecord("arn", types.Record{Dynamodb: &types.StreamRecord{
			Keys:     map[string]types.AttributeValue{"k": tt.in},
			NewImage: map[string]types.AttributeValue{"v": tt.in},
			OldImage: map[string]types.AttributeValue{"v": tt.in},
		}})
		if err != nil {
			t.Errorf("ToEventRecord(%s) = %v", tt.kind, err)
			continue
		}
		for name, got := range map[string]events.DynamoDBAttributeValue{"Keys": rec.Change.Keys["k"], "NewImage": rec.Change.NewImage["v"], "OldImage": rec.Change.OldImage["v"]} {
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ToEventRecord(%s).%s = %#v; want %#v", tt.kind, name, got, tt.want)
			}
		}
	}
}

func TestToEventRecord_fields(t *testing.T) {
	created := time.Date(2026, 5, 28, 10, 11, 12, 0, time.UTC)
	const arn = "arn:aws:dynamodb:ddblocal:000000000000:table/leads/stream/2026-05-28T10:00:00.000"
	in := types.Record{
		AwsRegion:    aws.String("ddblocal"),
		EventID:      aws.String("dac93998-edd7-46c0-bf30-c621b0ebb48a"),
		EventName:    types.OperationTypeRemove,
		EventSource:  aws.String("aws:dynamodb"),
		EventVersion: aws.String("1.1"),
		UserIdentity: &types.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb: &types.StreamRecord{
			ApproximateCreationDateTime: &created,
			Keys:                        map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "LEAD#1"}},
			OldImage:                    map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "LEAD#1"}, "n": &types.AttributeValueMemberN{Value: "3"}},
			SequenceNumber:              aws.String("000000000000000000042"),
			SizeBytes:                   aws.Int64(34),
			StreamViewType:              types.StreamViewTypeNewAndOldImages,
		},
	}
	got, err := ToEventRecord(arn, in)
	if err != nil {
		t.Fatalf("ToEventRecord(REMOVE) = %v", err)
	}
	want := events.DynamoDBEventRecord{
		AWSRegion:      "eu-north-1",
		EventID:        "dac93998-edd7-46c0-bf30-c621b0ebb48a",
		EventName:      "REMOVE",
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceArn: arn,
		UserIdentity:   &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"},
		Change: events.DynamoDBStreamRecord{
			ApproximateCreationDateTime: events.SecondsEpochTime{Time: created},
			Keys:                        map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("LEAD#1")},
			OldImage:                    map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("LEAD#1"), "n": events.NewNumberAttribute("3")},
			SequenceNumber:              "000000000000000000042",
			SizeBytes:                   34,
			StreamViewType:              "NEW_AND_OLD_IMAGES",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ToEventRecord(REMOVE) =\n%+v\nwant\n%+v", got, want)
	}

	// The JSON a Lambda would receive reads back into the same record.
	b, err := json.Marshal(events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{got}})
	if err != nil {
		t.Fatalf("json.Marshal(event) = %v", err)
	}
	var back events.DynamoDBEvent
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("json.Unmarshal(%s) = %v", b, err)
	}
	if len(back.Records) != 1 || !reflect.DeepEqual(back.Records[0].Change.OldImage, want.Change.OldImage) ||
		back.Records[0].Change.ApproximateCreationDateTime.Unix() != created.Unix() || back.Records[0].EventSourceArn != arn {
		t.Errorf("json round trip of ToEventRecord(REMOVE) = %+v; want %+v", back.Records, want)
	}
	for _, key := range []string{`"awsRegion":"eu-north-1"`, `"eventSource":"aws:dynamodb"`, `"eventSourceARN":"` + arn + `"`, `"ApproximateCreationDateTime":` + strconv.FormatInt(created.Unix(), 10), `"SequenceNumber":"000000000000000000042"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("ToEventRecord(REMOVE) as JSON = %s; want it to contain %s", b, key)
		}
	}
}

func TestToEventRecord_errors(t *testing.T) {
	tests := []struct {
		name string
		in   types.Record
		want string
	}{
		{"no dynamodb part", types.Record{EventID: aws.String("e1")}, "no dynamodb part"},
		{"unknown kind", types.Record{EventID: aws.String("e2"), Dynamodb: &types.StreamRecord{
			SequenceNumber: aws.String("7"),
			NewImage:       map[string]types.AttributeValue{"x": &types.UnknownUnionMember{Tag: "XYZ"}},
		}}, `attribute "x": unknown attribute value kind "XYZ"`},
		{"nil in list", types.Record{EventID: aws.String("e3"), Dynamodb: &types.StreamRecord{
			Keys: map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{nil}}},
		}}, "list element 0: nil attribute value"},
	}
	for _, tt := range tests {
		got, err := ToEventRecord("arn", tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ToEventRecord(%s) = %v; want an error containing %q", tt.name, err, tt.want)
		}
		if got.EventID != aws.ToString(tt.in.EventID) {
			t.Errorf("ToEventRecord(%s).EventID = %q; want %q even on error", tt.name, got.EventID, aws.ToString(tt.in.EventID))
		}
	}
}
