package streams

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// fakeStreams is an in-memory stream whose shards split, which DynamoDB Local never does: it keeps one
// shard per stream for the stream's life.
type fakeStreams struct {
	mu        sync.Mutex
	shards    []*fakeShard
	describes int
	iterTypes map[string]types.ShardIteratorType // first GetShardIterator type per shard
	iterators int                                // iterators handed out, to make each one unique
	slow      map[string]time.Duration           // GetRecords delay per shard
}

type fakeShard struct {
	id, parent   string
	keys         []string
	closed       bool
	visibleAfter int // DescribeStream calls before the shard is listed
}

func (f *fakeStreams) addShard(id, parent string, closed bool, visibleAfter int, keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shards = append(f.shards, &fakeShard{id: id, parent: parent, closed: closed, visibleAfter: visibleAfter, keys: keys})
}

func (f *fakeStreams) append(id string, keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.shards {
		if s.id == id {
			s.keys = append(s.keys, keys...)
		}
	}
}

func (f *fakeStreams) shard(id string) *fakeShard {
	for _, s := range f.shards {
		if s.id == id {
			return s
		}
	}
	return nil
}

// seq is a record's sequence number: shard index * 1000 + position.
func (f *fakeStreams) seq(id string, pos int) string {
	for i, s := range f.shards {
		if s.id == id {
			return fmt.Sprintf("%021d", (i+1)*1000+pos)
		}
	}
	return ""
}

func (f *fakeStreams) DescribeStream(_ context.Context, in *dynamodbstreams.DescribeStreamInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.describes++
	d := &types.StreamDescription{StreamArn: in.StreamArn, StreamStatus: types.StreamStatusEnabled, StreamViewType: types.StreamViewTypeKeysOnly}
	// Children first, to show that listing order does not matter.
	for i := len(f.shards) - 1; i >= 0; i-- {
		s := f.shards[i]
		if f.describes <= s.visibleAfter {
			continue
		}
		sh := types.Shard{ShardId: aws.String(s.id), SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String(f.seq(s.id, 0))}}
		if s.parent != "" {
			sh.ParentShardId = aws.String(s.parent)
		}
		if s.closed {
			sh.SequenceNumberRange.EndingSequenceNumber = aws.String(f.seq(s.id, len(s.keys)))
		}
		d.Shards = append(d.Shards, sh)
	}
	return &dynamodbstreams.DescribeStreamOutput{StreamDescription: d}, nil
}

func (f *fakeStreams) GetShardIterator(_ context.Context, in *dynamodbstreams.GetShardIteratorInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := aws.ToString(in.ShardId)
	s := f.shard(id)
	if s == nil {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no shard " + id)}
	}
	if _, ok := f.iterTypes[id]; !ok {
		f.iterTypes[id] = in.ShardIteratorType
	}
	pos := 0
	switch in.ShardIteratorType {
	case types.ShardIteratorTypeLatest:
		pos = len(s.keys)
	case types.ShardIteratorTypeAfterSequenceNumber:
		n, err := strconv.Atoi(strings.TrimLeft(aws.ToString(in.SequenceNumber), "0"))
		if err != nil {
			return nil, err
		}
		pos = n%1000 + 1
	}
	f.iterators++
	return &dynamodbstreams.GetShardIteratorOutput{ShardIterator: aws.String(fmt.Sprintf("%s|%d|%d", id, pos, f.iterators))}, nil
}

func (f *fakeStreams) GetRecords(_ context.Context, in *dynamodbstreams.GetRecordsInput, _ ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	id, _, _ := strings.Cut(aws.ToString(in.ShardIterator), "|")
	f.mu.Lock()
	delay := f.slow[id]
	f.mu.Unlock()
	time.Sleep(delay)
	f.mu.Lock()
	defer f.mu.Unlock()
	parts := strings.Split(aws.ToString(in.ShardIterator), "|")
	if len(parts) != 3 {
		return nil, errors.New("ValidationException: Invalid ShardIterator")
	}
	id, nonce := parts[0], parts[2]
	pos, err := strconv.Atoi(parts[1])
	s := f.shard(id)
	if err != nil || s == nil {
		return nil, errors.New("ValidationException: Invalid ShardIterator")
	}
	n := min(int(aws.ToInt32(in.Limit)), 2, len(s.keys)-pos) // small pages
	out := &dynamodbstreams.GetRecordsOutput{}
	for i := range n {
		out.Records = append(out.Records, types.Record{
			EventID:   aws.String(fmt.Sprintf("%s-%d", id, pos+i)),
			EventName: types.OperationTypeInsert,
			Dynamodb: &types.StreamRecord{
				Keys:           map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: s.keys[pos+i]}},
				SequenceNumber: aws.String(f.seq(id, pos+i)),
				StreamViewType: types.StreamViewTypeKeysOnly,
			},
		})
	}
	if !s.closed || pos+n < len(s.keys) {
		out.NextShardIterator = aws.String(fmt.Sprintf("%s|%d|%s", id, pos+n, nonce))
	}
	return out, nil
}

func TestRun_followsShardSplits(t *testing.T) {
	tests := []struct {
		name          string
		startAtLatest bool
		wantKeys      []string
		wantIterTypes map[string]types.ShardIteratorType
	}{
		{
			name:     "trim horizon",
			wantKeys: []string{"p1", "p2", "p3", "p4", "p5", "c1", "c2", "c3", "g1", "n1", "n2"},
			wantIterTypes: map[string]types.ShardIteratorType{
				"parent": types.ShardIteratorTypeTrimHorizon, "child": types.ShardIteratorTypeTrimHorizon,
				"grandchild": types.ShardIteratorTypeTrimHorizon, "new": types.ShardIteratorTypeTrimHorizon,
			},
		},
		{
			// The closed parent is skipped, the open child starts at LATEST (c1, c2 are old), and the
			// shards that appear later are read from the start.
			name:          "latest",
			startAtLatest: true,
			wantKeys:      []string{"c3", "g1", "n1", "n2"},
			wantIterTypes: map[string]types.ShardIteratorType{
				"child": types.ShardIteratorTypeLatest, "grandchild": types.ShardIteratorTypeTrimHorizon, "new": types.ShardIteratorTypeTrimHorizon,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The parent is slow to read: its child must still wait for it.
			f := &fakeStreams{iterTypes: map[string]types.ShardIteratorType{}, slow: map[string]time.Duration{"parent": 20 * time.Millisecond}}
			f.addShard("parent", "", true, 0, "p1", "p2", "p3", "p4", "p5")
			f.addShard("child", "parent", false, 0, "c1", "c2")

			log, logs := testLog()
			var mu sync.Mutex
			var got []string
			start(t, f, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				mu.Lock()
				defer mu.Unlock()
				for _, r := range ev.Records {
					got = append(got, pkOf(r))
				}
				return events.DynamoDBEventResponse{}, nil
			}, Options{StreamARN: "arn:fake", BatchSize: 3, Poll: testPoll, Log: log, StartAtLatest: tt.startAtLatest})
			keys := func() []string {
				mu.Lock()
				defer mu.Unlock()
				return append([]string(nil), got...)
			}
			contains := func(k string) bool {
				for _, g := range keys() {
					if g == k {
						return true
					}
				}
				return false
			}

			if !tt.startAtLatest {
				waitFor(t, "c2", func() bool { return contains("c2") }, logs)
			} else {
				waitFor(t, "the child's LATEST iterator", func() bool {
					f.mu.Lock()
					defer f.mu.Unlock()
					_, ok := f.iterTypes["child"]
					return ok
				}, logs)
			}
			// The child splits: it closes after c3 and a grandchild appears; an unrelated shard whose
			// parent was trimmed appears too.
			f.append("child", "c3")
			f.mu.Lock()
			f.shard("child").closed = true
			f.mu.Unlock()
			f.mu.Lock()
			d := f.describes
			f.mu.Unlock()
			f.addShard("grandchild", "child", false, d, "g1")
			f.addShard("new", "trimmed-away", false, d, "n1", "n2")
			waitFor(t, "g1, n2", func() bool { return contains("g1") && contains("n2") }, logs)

			all := keys()
			if !sameSet(all, tt.wantKeys) {
				t.Fatalf("Run delivered %v; want each of %v once", all, tt.wantKeys)
			}
			// Per shard order, and parents before children.
			order := map[string]int{}
			for i, k := range all {
				order[k] = i
			}
			for _, chain := range [][]string{{"p1", "p2", "p3", "p4", "p5", "c1", "c2", "c3", "g1"}, {"n1", "n2"}} {
				last := -1
				for _, k := range chain {
					i, ok := order[k]
					if !ok {
						continue
					}
					if i < last {
						t.Errorf("Run delivered %v; want %v in this order", all, chain)
						break
					}
					last = i
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if !reflect.DeepEqual(f.iterTypes, tt.wantIterTypes) {
				t.Errorf("Run shard iterator types = %v; want %v", f.iterTypes, tt.wantIterTypes)
			}
		})
	}
}

func sameSet(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	for _, w := range want {
		if count[w] != 1 {
			return false
		}
	}
	return true
}

// TestRun_expiredIteratorResumes checks that an expired iterator (after 15 minutes on AWS) is replaced
// by one after the last record read, so nothing is delivered twice or skipped.
func TestRun_expiredIteratorResumes(t *testing.T) {
	f := &fakeStreams{iterTypes: map[string]types.ShardIteratorType{}}
	f.addShard("s", "", false, 0, "a", "b", "c")
	c := &expiringClient{fakeStreams: f, expireAfter: 1}
	log, logs := testLog()
	var mu sync.Mutex
	var got []string
	start(t, c, func(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range ev.Records {
			got = append(got, pkOf(r))
		}
		return events.DynamoDBEventResponse{}, nil
	}, Options{StreamARN: "arn:fake", Poll: testPoll, Log: log})
	waitFor(t, "c", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 3 }, logs)
	f.append("s", "d")
	waitFor(t, "d", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 4 }, logs)
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"a", "b", "c", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Run with expiring iterators delivered %v; want %v", got, want)
	}
	if !strings.Contains(logs(), "iterator expired") {
		t.Errorf("Run log = %q; want a note about the expired iterator", logs())
	}
}

// expiringClient lets every iterator serve expireAfter GetRecords calls before it expires.
type expiringClient struct {
	*fakeStreams
	mu          sync.Mutex
	used        map[string]int
	expireAfter int
}

func (c *expiringClient) GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, opts ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error) {
	c.mu.Lock()
	if c.used == nil {
		c.used = map[string]int{}
	}
	it := aws.ToString(in.ShardIterator)
	c.used[it]++
	expired := c.used[it] > c.expireAfter
	c.mu.Unlock()
	if expired {
		return nil, &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}
	}
	return c.fakeStreams.GetRecords(ctx, in, opts...)
}
