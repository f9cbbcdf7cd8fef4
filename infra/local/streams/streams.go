// Package streams drives a DynamoDB stream consumer locally the way a Lambda event source mapping
// does on AWS: it polls a stream (DynamoDB Local serves the DynamoDB Streams API on its own port), turns
// each batch into an events.DynamoDBEvent and calls the handler.
//
// As with an event source mapping with ReportBatchItemFailures:
//   - the records of one shard are delivered in order, one batch at a time, and a child shard only
//     after its parent has been read to the end; different shards are polled concurrently, so the
//     handler may be called concurrently for different shards;
//   - a batch response's BatchItemFailures (itemIdentifier = the record's sequence number) make the
//     poller retry from the earliest failed record onward, after a short backoff; an empty or unknown
//     itemIdentifier, a handler error or a handler panic fails the whole batch;
//   - a record that has failed MaxAttempts times is discarded (logged at ERROR and passed to
//     OnDeadLetter, the local stand-in for an on-failure destination) and the shard moves on;
//   - Filter drops records before batching, like filter criteria.
//
// Not modelled: batching windows, tumbling windows, bisecting batches, parallelization factor, the
// 24-hour record age limit and Lambda's 6 MB payload limit.
package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Handler is a Lambda handler for DynamoDB stream events that reports batch item failures.
type Handler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Options configures Run.
type Options struct {
	// StreamARN is the stream to read: the table's LatestStreamArn.
	StreamARN string
	// BatchSize is the largest number of records per invocation, default 10, at most 10000.
	BatchSize int
	// MaxAttempts is how many times a record may fail before it is dead-lettered, default 5.
	MaxAttempts int
	// Poll is how long a shard waits before asking again after an empty read, default 250 ms. Retry
	// backoff grows from it too.
	Poll time.Duration
	// Filter, if set, keeps only the records it returns true for, like filter criteria; dropped
	// records count as processed.
	Filter func(events.DynamoDBEventRecord) bool
	// OnDeadLetter, if set, receives each discarded record. It is called from the shard's goroutine.
	OnDeadLetter func(events.DynamoDBEventRecord)
	// Log receives the poller's messages; nil means slog.Default().
	Log *slog.Logger
	// StartAtLatest starts the shards that exist when Run starts at LATEST (only new records) instead
	// of TRIM_HORIZON (everything still in the stream). Shards that appear later are always read from
	// TRIM_HORIZON.
	StartAtLatest bool
}

// Client is the part of the DynamoDB Streams API that Run uses; *dynamodbstreams.Client implements it.
type Client interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

const (
	defaultBatchSize   = 10
	maxBatchSize       = 10000 // Lambda's limit for DynamoDB event source mappings
	maxGetRecordsLimit = 1000  // the Streams API's limit per GetRecords call
	defaultMaxAttempts = 5
	defaultPoll        = 250 * time.Millisecond
	maxBackoff         = 5 * time.Second
)

// Run polls o.StreamARN and calls h with batches of records until ctx is done, following shards as
// they close and new ones appear. It returns nil when ctx is done, or when the stream has been disabled
// and every shard has been read to the end. It returns an error for invalid options, when the stream
// cannot be described at start, or when the stream is deleted; other failures are logged and retried.
func Run(ctx context.Context, c Client, h Handler, o Options) error {
	if c == nil || h == nil {
		return errors.New("streams: run: client and handler are required")
	}
	if o.StreamARN == "" {
		return errors.New("streams: run: StreamARN is required")
	}
	if o.BatchSize == 0 {
		o.BatchSize = defaultBatchSize
	}
	if o.BatchSize < 1 || o.BatchSize > maxBatchSize {
		return fmt.Errorf("streams: run: BatchSize %d is outside 1..%d", o.BatchSize, maxBatchSize)
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = defaultMaxAttempts
	}
	if o.MaxAttempts < 1 {
		return fmt.Errorf("streams: run: MaxAttempts %d is not positive", o.MaxAttempts)
	}
	if o.Poll == 0 {
		o.Poll = defaultPoll
	}
	if o.Poll < 0 {
		return fmt.Errorf("streams: run: Poll %v is negative", o.Poll)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	r := &runner{
		c:       c,
		h:       h,
		o:       o,
		log:     o.Log.With("stream", o.StreamARN),
		shards:  map[string]*shard{},
		changed: make(chan struct{}, 1),
	}
	return r.run(ctx)
}

// runner is one Run: the shard bookkeeping, owned by Run's goroutine.
type runner struct {
	c       Client
	h       Handler
	o       Options
	log     *slog.Logger
	shards  map[string]*shard
	changed chan struct{} // a shard finished: look for its children now
	wg      sync.WaitGroup
}

// shard is one shard of the stream; done is closed once it has been read to the end.
type shard struct {
	id   string
	done chan struct{}
}

func (r *runner) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		r.wg.Wait()
	}()

	desc, err := r.describe(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("streams: run: %w", err)
	}
	if err := r.addShards(ctx, desc.Shards, true); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("streams: run: %w", err)
	}
	r.log.Info("streams: polling", "shards", len(desc.Shards), "status", desc.StreamStatus, "startAtLatest", r.o.StartAtLatest)

	refresh := min(max(time.Second, 10*r.o.Poll), 30*time.Second)
	tick := time.NewTicker(refresh)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-r.changed:
		}
		desc, err := r.describe(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var notFound *types.ResourceNotFoundException
			if errors.As(err, &notFound) {
				return fmt.Errorf("streams: run: stream is gone: %w", err)
			}
			r.log.Warn("streams: describe stream failed; retrying", "err", err)
			continue
		}
		if err := r.addShards(ctx, desc.Shards, false); err != nil {
			r.log.Warn("streams: start shards failed; retrying", "err", err)
			continue
		}
		if desc.StreamStatus == types.StreamStatusDisabled && r.allDone() {
			r.log.Info("streams: stream disabled and read to the end; stopping")
			return nil
		}
	}
}

// describe returns the stream's description with all its shards.
func (r *runner) describe(ctx context.Context) (*types.StreamDescription, error) {
	var (
		all   types.StreamDescription
		start *string
	)
	for {
		out, err := r.c.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{
			StreamArn:             aws.String(r.o.StreamARN),
			ExclusiveStartShardId: start,
		})
		if err != nil {
			return nil, fmt.Errorf("describe stream %s: %w", r.o.StreamARN, err)
		}
		if out.StreamDescription == nil {
			return nil, fmt.Errorf("describe stream %s: no description in the answer", r.o.StreamARN)
		}
		d := out.StreamDescription
		shards := append(all.Shards, d.Shards...)
		all = *d
		all.Shards = shards
		if d.LastEvaluatedShardId == nil || aws.ToString(d.LastEvaluatedShardId) == aws.ToString(start) {
			return &all, nil
		}
		start = d.LastEvaluatedShardId
	}
}

// addShards starts a reader for each shard not seen before. A reader waits for its parent shard, if
// that is known, to be read to the end first. At start (initial) with StartAtLatest, open shards are
// read from LATEST, their iterators taken here so no record written after Run started is missed, and
// closed shards are skipped; otherwise shards are read from TRIM_HORIZON.
func (r *runner) addShards(ctx context.Context, shards []types.Shard, initial bool) error {
	type start struct {
		s      *shard
		parent *shard
		iter   *string
	}
	var starts []start
	for _, sh := range shards {
		id := aws.ToString(sh.ShardId)
		if id == "" || r.shards[id] != nil {
			continue
		}
		s := &shard{id: id, done: make(chan struct{})}
		closed := sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil
		if initial && r.o.StartAtLatest {
			if closed {
				close(s.done)
				r.shards[id] = s
				continue
			}
			out, err := r.c.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn:         aws.String(r.o.StreamARN),
				ShardId:           aws.String(id),
				ShardIteratorType: types.ShardIteratorTypeLatest,
			})
			if err != nil {
				return fmt.Errorf("get LATEST iterator for shard %s: %w", id, err)
			}
			starts = append(starts, start{s: s, iter: out.ShardIterator})
		} else {
			starts = append(starts, start{s: s})
		}
		r.shards[id] = s
	}
	// Parents are looked up only now, so that a parent listed after its child is still waited for.
	for i := range starts {
		for _, sh := range shards {
			if aws.ToString(sh.ShardId) == starts[i].s.id {
				starts[i].parent = r.shards[aws.ToString(sh.ParentShardId)]
			}
		}
	}
	for _, st := range starts {
		p := &shardReader{
			r:        r,
			shard:    st.s,
			log:      r.log.With("shard", st.s.id),
			iterType: types.ShardIteratorTypeTrimHorizon,
			iter:     st.iter,
		}
		if st.iter != nil {
			p.iterType = types.ShardIteratorTypeLatest
		}
		r.wg.Add(1)
		go func(parent *shard) {
			defer r.wg.Done()
			if parent != nil {
				select {
				case <-parent.done:
				case <-ctx.Done():
					return
				}
			}
			if p.read(ctx) {
				close(p.shard.done)
				select {
				case r.changed <- struct{}{}:
				default:
				}
			}
		}(st.parent)
	}
	return nil
}

// allDone reports whether every known shard has been read to the end.
func (r *runner) allDone() bool {
	for _, s := range r.shards {
		select {
		case <-s.done:
		default:
			return false
		}
	}
	return true
}

// shardReader reads one shard and delivers its records.
type shardReader struct {
	r        *runner
	shard    *shard
	log      *slog.Logger
	iterType types.ShardIteratorType // where to start if there is no iterator and nothing read yet
	iter     *string                 // the next GetRecords iterator; nil when one must be fetched
	lastSeq  string                  // the last sequence number read, to resume after an expired iterator
	closed   bool                    // the shard has been read to its end
	buf      []pending               // records read and not yet processed, oldest first
	errors   int                     // consecutive read errors, for backoff
}

// pending is a record waiting to be delivered and how often it has failed.
type pending struct {
	rec      events.DynamoDBEventRecord
	failures int
}

// read reads and delivers the shard until it is read to the end (true) or ctx is done (false).
func (p *shardReader) read(ctx context.Context) bool {
	for ctx.Err() == nil {
		got := 0
		if !p.closed && len(p.buf) < p.r.o.BatchSize {
			n, err := p.fetch(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return false
				}
				p.errors++
				p.log.Warn("streams: read shard failed; retrying", "err", err, "attempt", p.errors)
				if len(p.buf) == 0 {
					sleep(ctx, backoff(p.r.o.Poll, p.errors))
					continue
				}
				// Records already read are still delivered.
			} else {
				p.errors = 0
				got = n
			}
		}
		if len(p.buf) == 0 {
			if p.closed {
				p.log.Debug("streams: shard read to the end")
				return true
			}
			if got == 0 {
				sleep(ctx, p.r.o.Poll)
			}
			continue
		}
		p.deliver(ctx)
	}
	return false
}

// fetch calls GetRecords once, appending the converted and filtered records to the buffer. It returns
// how many records the shard returned, filtered or not.
func (p *shardReader) fetch(ctx context.Context) (int, error) {
	if p.iter == nil {
		if err := p.acquire(ctx); err != nil {
			return 0, err
		}
		if p.iter == nil {
			p.closed = true
			return 0, nil
		}
	}
	out, err := p.r.c.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{
		ShardIterator: p.iter,
		Limit:         aws.Int32(int32(min(p.r.o.BatchSize-len(p.buf), maxGetRecordsLimit))),
	})
	if err != nil {
		var expired *types.ExpiredIteratorException
		var trimmed *types.TrimmedDataAccessException
		switch {
		case errors.As(err, &expired):
			p.log.Debug("streams: shard iterator expired; getting a new one", "after", p.lastSeq)
			p.iter = nil
			return 0, nil
		case errors.As(err, &trimmed):
			p.log.Warn("streams: records were trimmed before they were read; continuing from the oldest record left", "after", p.lastSeq)
			p.iter, p.lastSeq, p.iterType = nil, "", types.ShardIteratorTypeTrimHorizon
			return 0, nil
		}
		return 0, fmt.Errorf("get records: %w", err)
	}
	p.iter = out.NextShardIterator
	if p.iter == nil {
		p.closed = true
	}
	for _, rec := range out.Records {
		ev, err := ToEventRecord(p.r.o.StreamARN, rec)
		if rec.Dynamodb != nil && rec.Dynamodb.SequenceNumber != nil {
			p.lastSeq = *rec.Dynamodb.SequenceNumber
		}
		if err != nil {
			// No handler could process a record that cannot be represented; discard it.
			p.deadLetter(ev, 0, err)
			continue
		}
		if p.r.o.Filter != nil && !p.r.o.Filter(ev) {
			continue
		}
		p.buf = append(p.buf, pending{rec: ev})
	}
	return len(out.Records), nil
}

// acquire gets a shard iterator: after the last record read, or else at iterType.
func (p *shardReader) acquire(ctx context.Context) error {
	in := &dynamodbstreams.GetShardIteratorInput{
		StreamArn:         aws.String(p.r.o.StreamARN),
		ShardId:           aws.String(p.shard.id),
		ShardIteratorType: p.iterType,
	}
	if p.lastSeq != "" {
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.SequenceNumber = aws.String(p.lastSeq)
	}
	out, err := p.r.c.GetShardIterator(ctx, in)
	if err != nil {
		var trimmed *types.TrimmedDataAccessException
		if errors.As(err, &trimmed) && p.lastSeq != "" {
			p.log.Warn("streams: records were trimmed before they were read; continuing from the oldest record left", "after", p.lastSeq)
			p.lastSeq, p.iterType = "", types.ShardIteratorTypeTrimHorizon
		}
		return fmt.Errorf("get %s shard iterator: %w", in.ShardIteratorType, err)
	}
	p.iter = out.ShardIterator
	return nil
}

// deliver invokes the handler once with the next batch and applies the outcome to the buffer.
func (p *shardReader) deliver(ctx context.Context) {
	o := p.r.o
	// Records that have used up their attempts are discarded before anything after them is delivered.
	for len(p.buf) > 0 && p.buf[0].failures >= o.MaxAttempts {
		p.deadLetter(p.buf[0].rec, p.buf[0].failures, nil)
		p.buf = p.buf[1:]
	}
	if len(p.buf) == 0 {
		return
	}
	// A batch ends before a later record that has used up its attempts, so that it is not retried
	// once more before it is discarded.
	n := min(o.BatchSize, len(p.buf))
	for i := 1; i < n; i++ {
		if p.buf[i].failures >= o.MaxAttempts {
			n = i
			break
		}
	}
	batch := p.buf[:n]
	ev := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, n)}
	for i := range batch {
		ev.Records[i] = batch[i].rec
	}

	resp, err := invoke(ctx, p.r.h, ev)
	if ctx.Err() != nil {
		return // shutting down: the outcome of a cancelled invocation does not count
	}
	first, failed := n, map[int]bool{}
	if err == nil {
		first, failed, err = batchFailures(resp, batch)
	}
	switch {
	case err != nil:
		// The whole batch failed.
		for i := range batch {
			batch[i].failures++
		}
		first = 0
		p.log.Warn("streams: batch failed", "records", n, "firstSequenceNumber", batch[0].rec.Change.SequenceNumber,
			"attempt", batch[0].failures, "err", err)
	case first == n:
		p.buf = p.buf[n:]
		p.log.Debug("streams: batch processed", "records", n)
		return
	default:
		for i := range failed {
			batch[i].failures++
		}
		p.log.Warn("streams: batch item failures; retrying from the first failed record", "records", n, "failed", len(failed),
			"sequenceNumber", batch[first].rec.Change.SequenceNumber, "attempt", batch[first].failures)
	}
	p.buf = p.buf[first:]
	if head := p.buf[0].failures; head < o.MaxAttempts {
		sleep(ctx, backoff(o.Poll, head))
	}
}

// batchFailures interprets a batch response: the index of the earliest failed record (len(batch) if
// none) and the indexes of all failed records. An empty or unknown itemIdentifier is an error, which
// fails the whole batch as it does on AWS.
func batchFailures(resp events.DynamoDBEventResponse, batch []pending) (int, map[int]bool, error) {
	first, failed := len(batch), map[int]bool{}
	if len(resp.BatchItemFailures) == 0 {
		return first, failed, nil
	}
	index := make(map[string]int, len(batch))
	for i, b := range batch {
		index[b.rec.Change.SequenceNumber] = i
	}
	for _, f := range resp.BatchItemFailures {
		i, ok := index[f.ItemIdentifier]
		if !ok {
			return 0, nil, fmt.Errorf("batch item failure itemIdentifier %q is not a sequence number in the batch", f.ItemIdentifier)
		}
		failed[i] = true
		first = min(first, i)
	}
	return first, failed, nil
}

// deadLetter discards rec: it logs it at ERROR and passes it to OnDeadLetter.
func (p *shardReader) deadLetter(rec events.DynamoDBEventRecord, attempts int, cause error) {
	args := []any{"eventID", rec.EventID, "sequenceNumber", rec.Change.SequenceNumber, "eventName", rec.EventName, "attempts", attempts}
	if cause != nil {
		args = append(args, "err", cause)
	}
	p.log.Error("streams: record dead-lettered", args...)
	if p.r.o.OnDeadLetter != nil {
		p.r.o.OnDeadLetter(rec)
	}
}

// invoke calls h, turning a panic into an error as the Lambda Go runtime does.
func invoke(ctx context.Context, h Handler, ev events.DynamoDBEvent) (resp events.DynamoDBEventResponse, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return h(ctx, ev)
}

// backoff is the wait before retry number attempt (1, 2, ...): poll doubled per attempt, at most
// maxBackoff.
func backoff(poll time.Duration, attempt int) time.Duration {
	d := poll
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
